"""DailyReportFunction against moto: numbers from seeded datapoints and ledger items, hostile
names escaped, files and links where they belong, and an honest empty day."""

import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import boto3
import pytest

from model_medic.report.grading import NO_TRAFFIC
from model_medic.store.incidents import Incidents
from model_medic.store.journal import Journal
from model_medic.store.table import Table
from model_medic.tell.outcome import Outcome, Result
from tests.conftest import FakeContext, Stack, load_event, load_handler, make_endpoint

ENDPOINT = "churn-prod"
START = datetime(2026, 11, 22, 6, tzinfo=UTC)  # the report covers 06:00 on the 22nd to 06:00 on the 23rd
HOSTILE = '<script>alert("x")</script>'
INDEX = "reports/_index/2026-11-23.html"


def index_links(index: str) -> dict[str, str]:
    """The index's link of each endpoint, by endpoint, as a browser reads the attribute."""
    return {name: html.unescape(href) for href, name in re.findall(r'<td><a href="([^"]+)">([^<]+)</a></td>', index)}


def page_url(written: list[dict[str, str]], endpoint: str) -> str:
    [url] = [link["url"] for link in written if link["endpoint"] == endpoint]
    return url


def endpoint_page() -> str:
    """The endpoint's page of the report day (2026-11-23)."""
    key = f"reports/{ENDPOINT}/2026-11-23.html"
    return str(boto3.client("s3").get_object(Bucket="model-medic-reports", Key=key)["Body"].read().decode())


@pytest.fixture
def fn(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("REPORTS_BUCKET", "model-medic-reports")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "daily-report")
    boto3.client("s3").create_bucket(Bucket="model-medic-reports")
    return load_handler("daily_report")


def datapoints(variant: str, hour: int, **series: list[float]) -> None:
    data = []
    for metric, values in series.items():
        for i, value in enumerate(values):
            data.append(
                {
                    "MetricName": metric,
                    "Timestamp": START + timedelta(hours=hour, minutes=10 + i),
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": ENDPOINT},
                        {"Name": "VariantName", "Value": variant},
                    ],
                    "Value": value,
                }
            )
    boto3.client("cloudwatch").put_metric_data(Namespace="AWS/SageMaker", MetricData=data)


def decision(stack: Stack, minutes: int, result: Result, alarm: str, reason: str, changes: dict[str, Any]) -> None:
    at = (START + timedelta(minutes=minutes)).isoformat()
    Journal(Table(boto3.client("dynamodb"), stack.table), timedelta(days=90)).record(
        Outcome(
            action="scale-up",
            endpoint=ENDPOINT,
            result=result,
            reason=reason,
            mode="enforce",
            alarm_name=alarm,
            alarm_arn=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}",
            transition=f"x|ALARM|{at}",
            state="ALARM",
            at=at,
            changes=changes,
        ),
        "req",
    )


def seed(stack: Stack) -> None:
    make_endpoint(ENDPOINT, {"primary": {"count": 3, "weight": 1.0}, "canary": {"count": 1, "weight": 0.0}})
    # 10:00 - primary 100 requests (1 4XX, 2 5XX), canary 50 (5 5XX).
    datapoints(
        "primary",
        4,
        Invocations=[60, 40],
        Invocation4XXErrors=[1],
        Invocation5XXErrors=[2],
        ModelLatency=[100_000, 300_000],
        OverheadLatency=[10_000, 30_000],
    )
    datapoints(
        "canary",
        4,
        Invocations=[50],
        Invocation4XXErrors=[0],
        Invocation5XXErrors=[5],
        ModelLatency=[500_000],
        OverheadLatency=[50_000],
    )
    # 15:00 - primary 100 requests, no errors, fast.
    datapoints(
        "primary",
        9,
        Invocations=[100],
        Invocation4XXErrors=[0],
        Invocation5XXErrors=[0],
        ModelLatency=[90_000],
        OverheadLatency=[10_000],
    )
    boto3.client("cloudwatch").put_metric_data(
        Namespace="Custom/SageMaker",
        MetricData=[
            {
                "MetricName": "TotalLatency",
                "Dimensions": [{"Name": "EndpointName", "Value": ENDPOINT}],
                "Timestamp": START + timedelta(hours=4, minutes=m),
                "Value": v,
            }
            for m, v in ((5, 250.0), (10, 410.0))
        ],
    )
    step = {"variant": "primary", "lever": "instance-count", "before": 2, "after": 3}
    decision(stack, 6 * 60 + 30, "acted", HOSTILE, 'primary "instance-count" 2 -> 3', {"steps": [step]})
    decision(stack, 7 * 60, "acted", f"{ENDPOINT}-HighLatency", "again", {"steps": []})
    decision(stack, 8 * 60, "acted", f"{ENDPOINT}-HighLatency", "and again", {"steps": []})
    decision(stack, 9 * 60, "dry-run", f"{ENDPOINT}-HighLatency", "would have", {})


def test_numbers_in_html_and_json_match_hand_computed_values(fn: Any, stack: Stack) -> None:
    seed(stack)
    result = fn.lambda_handler(load_event("daily_report/schedule.json"), FakeContext())
    assert result["day"] == "2026-11-23"
    s3 = boto3.client("s3")
    report = json.loads(
        s3.get_object(Bucket="model-medic-reports", Key=f"reports/{ENDPOINT}/2026-11-23.json")["Body"].read()
    )
    ten = report["hours"][4]
    assert ten["start"] == "2026-11-22T10:00"
    assert (ten["invocations"], ten["errors_4xx"], ten["errors_5xx"]) == (150, 1, 7)
    assert ten["error_rate"] == pytest.approx(8 / 150 * 100, abs=1e-3)
    assert ten["avg_latency_ms"] == pytest.approx((900_000 / 3 + 90_000 / 3) / 1000, abs=1e-3)
    assert ten["max_latency_ms"] == 410.0
    assert (report["invocations"], report["errors_4xx"], report["errors_5xx"]) == (250, 1, 7)
    assert report["error_rate"] == pytest.approx(3.2)
    assert report["grade"] == "B"  # 3.2% > 1%
    # Instance counts walk back from 3 through the 12:30 scale-up (2 -> 3).
    assert [h["instances"]["primary"] for h in report["hours"][5:8]] == [2, 3, 3]
    assert any("3 scale-ups in a day" in r for r in report["recommendations"])
    assert any("dry-run" in r for r in report["recommendations"])
    page = endpoint_page()
    assert "3.20%" in page
    assert "250" in page
    assert page.count("<svg") == 5
    index = s3.get_object(Bucket="model-medic-reports", Key=INDEX)["Body"].read().decode()
    assert index_links(index) == {ENDPOINT: page_url(result["written"], ENDPOINT)}


def test_every_endpoint_link_on_the_index_is_signed_as_the_index_is_opened(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # People open the index by its presigned link and the bucket blocks public access: a link
    # relative to it would lose the signature and be refused.
    seed(stack)
    make_endpoint("fraud-prod")
    monkeypatch.setenv("MONITORED_ENDPOINTS", f"{ENDPOINT},fraud-prod")
    written = fn.lambda_handler(load_event("daily_report/schedule.json"), FakeContext())["written"]
    index_url = page_url(written, "(index)")
    index = boto3.client("s3").get_object(Bucket="model-medic-reports", Key=INDEX)["Body"].read().decode()
    links = index_links(index)
    assert sorted(links) == [ENDPOINT, "fraud-prod"]
    for name, href in links.items():
        opened = urlsplit(urljoin(index_url, href))
        query = parse_qs(opened.query)
        assert opened.path.endswith(f"/reports/{name}/2026-11-23.html"), opened
        assert query["X-Amz-Signature"], opened
        assert query["X-Amz-Expires"] == ["3600"]  # as long as the index's own link


def test_an_endpoint_named_index_keeps_its_page_and_the_fleets_index_has_its_own_folder(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_endpoint(ENDPOINT)
    make_endpoint("index")  # a valid SageMaker endpoint name
    monkeypatch.setenv("MONITORED_ENDPOINTS", f"{ENDPOINT},index")
    written = fn.lambda_handler(load_event("daily_report/schedule.json"), FakeContext())["written"]
    s3 = boto3.client("s3")
    own = s3.get_object(Bucket="model-medic-reports", Key="reports/index/2026-11-23.html")["Body"].read().decode()
    assert "<title>index - Model Medic daily report 2026-11-23</title>" in own
    fleet = s3.get_object(Bucket="model-medic-reports", Key=INDEX)["Body"].read().decode()
    assert "<title>Model Medic daily reports 2026-11-23</title>" in fleet
    assert sorted(index_links(fleet)) == [ENDPOINT, "index"]
    assert [link["html"] for link in written if link["endpoint"] == "(index)"] == [INDEX]


def test_an_hour_without_a_latency_maximum_shows_none_and_the_figure_says_what_it_is(fn: Any, stack: Stack) -> None:
    seed(stack)  # TotalLatency (ComputeMetrics' 5-minute averages) at 10:00 only; traffic at 15:00 too
    fn.lambda_handler(load_event("daily_report/schedule.json"), FakeContext())
    s3 = boto3.client("s3")
    report = json.loads(
        s3.get_object(Bucket="model-medic-reports", Key=f"reports/{ENDPOINT}/2026-11-23.json")["Body"].read()
    )
    fifteen = report["hours"][9]
    assert fifteen["start"] == "2026-11-22T15:00"
    assert fifteen["avg_latency_ms"] == pytest.approx(100.0)
    assert fifteen["max_latency_ms"] is None  # not the average in its place
    assert report["hours"][4]["max_latency_ms"] == 410.0
    page = endpoint_page()
    assert "Latency average / highest 5-min average<b>" in page
    assert "not the slowest request" in page
    assert ">highest 5-min average</text>" in page  # the chart's legend


def test_a_retrainings_pipeline_link_is_the_stacks_region_console(fn: Any, stack: Stack) -> None:
    make_endpoint(ENDPOINT)
    execution = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/retrain/execution/abc123"
    changes = {"pipeline_execution_arn": execution}
    decision(stack, 60, "acted", f"{ENDPOINT}-ModelQuality", "retraining started", changes)
    fn.lambda_handler(load_event("daily_report/schedule.json"), FakeContext())
    page = endpoint_page()
    console = "https://us-east-1.console.aws.amazon.com/sagemaker/home?region=us-east-1#/pipelines"
    assert f'<a href="{console}">pipeline execution</a> <code>{execution}</code>' in page
    assert "https://console.aws.amazon.com/" not in page


def test_a_hostile_alarm_name_and_reason_are_escaped(fn: Any, stack: Stack) -> None:
    seed(stack)
    fn.lambda_handler(load_event("daily_report/schedule.json"), FakeContext())
    page = endpoint_page()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "primary &#34;instance-count&#34; 2 -&gt; 3" in page


def test_the_summary_gives_lasting_s3_locations_and_links_whose_lifetime_it_tells(fn: Any, stack: Stack) -> None:
    seed(stack)
    fn.lambda_handler(load_event("daily_report/schedule.json"), FakeContext())
    [message] = stack.drain("info")
    text = message["Message"]
    assert f"{ENDPOINT}: grade B - 250 invocations, error rate 3.20%" in text
    assert f"s3://model-medic-reports/reports/{ENDPOINT}/2026-11-23.html" in text
    assert f"All endpoints, worst first: s3://model-medic-reports/{INDEX}" in text
    # Signed with the function's temporary credentials: never promised for 7 days.
    assert "X-Amz-Expires=3600" in text
    assert "604800" not in text
    assert "7 days" not in text
    assert "at most 1 hour" in text


def test_a_day_without_traffic_or_decisions_is_an_honest_empty_report(fn: Any, stack: Stack) -> None:
    make_endpoint(ENDPOINT, {"AllTraffic": {"count": 1, "weight": 1.0}})
    fn.lambda_handler(load_event("daily_report/schedule.json"), FakeContext())
    s3 = boto3.client("s3")
    report = json.loads(
        s3.get_object(Bucket="model-medic-reports", Key=f"reports/{ENDPOINT}/2026-11-23.json")["Body"].read()
    )
    # No traffic is not an A: no grade, said as such.
    assert (report["invocations"], report["error_rate"], report["avg_latency_ms"], report["grade"]) == (
        0,
        None,
        None,
        NO_TRAFFIC,
    )
    assert report["graded"] == []
    assert report["decisions"] == []
    page = endpoint_page()
    assert "No decisions in these 24 hours." in page
    assert "no data" in page
    assert "No traffic in 24 hours" in page
    assert f'<span class="grade grade-none" title="without traffic">{NO_TRAFFIC}</span>' in page
    assert "How the grade is made, the worst that applies:" in page


def test_the_report_covers_tag_discovered_endpoints_without_a_per_endpoint_tag_read(
    fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.client import BaseClient

    make_endpoint(ENDPOINT)
    sagemaker = boto3.client("sagemaker")
    for name, tagged in (("fraud-prod", True), ("fraud-eu", True), ("unrelated", False)):
        make_endpoint(name)
        arn = sagemaker.describe_endpoint(EndpointName=name)["EndpointArn"]
        sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "fraud" if tagged else "other"}])
    monkeypatch.setenv("DISCOVERY_TAG", "team=fraud")
    calls: list[str] = []
    original = BaseClient._make_api_call

    def counting(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    result = fn.lambda_handler(load_event("daily_report/schedule.json"), FakeContext())
    assert set(result["grades"]) == {ENDPOINT, "fraud-prod", "fraud-eu"}
    assert "ListTags" not in calls
    assert calls.count("ListEndpoints") == 1
    assert calls.count("GetResources") == 1
    assert calls.count("DescribeEndpoint") == 3  # weights and instance counts: no batched read has them
    s3 = boto3.client("s3")
    for name in ("fraud-prod", "fraud-eu"):
        s3.head_object(Bucket="model-medic-reports", Key=f"reports/{name}/2026-11-23.html")
    index = s3.get_object(Bucket="model-medic-reports", Key=INDEX)["Body"].read().decode()
    assert index_links(index)["fraud-eu"] == page_url(result["written"], "fraud-eu")
    assert "unrelated" not in index


def fleet_reports(count: int) -> list[Any]:
    """`count` reports with grades A, B and C: every 50th C (error rate rising with its number), every 10th B."""
    from model_medic.report.grading import EndpointReport

    reports = []
    for i in range(count):
        rate = 5.0 + i / 100 if i % 50 == 7 else 2.0 if i % 10 == 3 else 0.1
        reports.append(
            EndpointReport(
                endpoint=f"endpoint-{i:03d}-{'x' * 40}",  # long names: 51 characters of the 63 allowed
                day="2026-11-23",
                start="2026-11-22T06:00:00+00:00",
                end="2026-11-23T06:00:00+00:00",
                hours=[],
                invocations=1000.0,
                errors_4xx=0.0,
                errors_5xx=rate * 10,
                error_rate=rate,
                avg_latency_ms=100.0,
                max_latency_ms=200.0,
                grade="C" if rate > 5 else "B" if rate > 1 else "A",
                recommendations=[],
                decisions=[],
                canary={},
            )
        )
    return reports


def test_the_summary_of_500_endpoints_stays_under_the_sns_limit_and_names_the_worst(stack: Stack) -> None:
    from model_medic.report.daily import DailyReport
    from model_medic.report.summary import SNS_MESSAGE_MAX_BYTES, SUMMARY_WORST

    # Presigned with temporary credentials, as in Lambda: the session token makes each link long.
    s3 = boto3.client(
        "s3",
        aws_access_key_id="ASIAEXAMPLEEXAMPLE00",
        aws_secret_access_key="secret",
        aws_session_token="T" * 1100,
    )
    s3.create_bucket(Bucket="model-medic-reports")
    job = DailyReport(
        boto3.client("cloudwatch"),
        boto3.client("sagemaker"),
        s3,
        Journal(Table(boto3.client("dynamodb"), stack.table), timedelta(days=90)),
        "model-medic-reports",
        incidents=Incidents(Table(boto3.client("dynamodb"), stack.table), timedelta(days=90)),
    )
    reports = fleet_reports(500)
    links = [{"endpoint": r.endpoint, **job._links(f"reports/{r.endpoint}/{r.day}.html")} for r in reports]
    links.append({"endpoint": "(index)", **job._links(INDEX)})
    assert len(links[0]["url"]) > 1200
    text = job.summary(reports, links, "2026-11-23")
    size = len(text.encode("utf-8"))
    assert size < SNS_MESSAGE_MAX_BYTES
    # The old summary (every endpoint with its links) would not have fitted.
    assert sum(len(link["url"]) for link in links) > SNS_MESSAGE_MAX_BYTES
    assert "500 endpoint(s): 10 graded C, 50 graded B, 440 graded A" in text
    worst_c = [r.endpoint for r in sorted(reports, key=lambda r: -(r.error_rate or 0))[:10]]
    listed = [line.split(":")[0] for line in text.splitlines() if ": grade " in line]
    assert len(listed) == SUMMARY_WORST
    assert listed[:10] == worst_c  # the C endpoints, the highest error rate first
    assert all(f": grade {g} " in text for g in ("C", "B"))
    assert ": grade A " not in text
    assert f"(the {SUMMARY_WORST} worst of 500 listed here; every endpoint is in the index below.)" in text
    assert f"All endpoints, worst first: s3://model-medic-reports/{INDEX}" in text


def test_decisions_of_one_instant_read_back_in_the_order_they_were_recorded(stack: Stack) -> None:
    # A step and the wait that follows it share their time under a clock that does not move; their
    # ids sort the other way round ("zz" before "aa"), so only the recording order puts them right.
    journal = Journal(Table(boto3.client("dynamodb"), stack.table), timedelta(days=90))
    at = START + timedelta(hours=4)
    recorded: tuple[tuple[Result, str], ...] = (("acted", "zz"), ("skipped", "aa"), ("recovered", "mm"))
    for result, key in recorded:
        outcome = Outcome(
            action="scale-up",
            endpoint=ENDPOINT,
            result=result,
            reason=result,
            mode="enforce",
            alarm_name="a",
            alarm_arn="arn:aws:cloudwatch:us-east-1:123456789012:alarm:a",
            transition=f"a|ALARM|{at.isoformat()}",
            state="ALARM",
            at=at.isoformat(),
        )
        journal.record(outcome, "req", key)
    read = journal.decisions(ENDPOINT, at, at + timedelta(seconds=1))
    assert [d.result for d in read] == ["acted", "skipped", "recovered"]
