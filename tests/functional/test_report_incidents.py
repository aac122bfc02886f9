"""The daily report's incidents, against moto: the incidents open at any time in the 24 hours
(also ones opened days before and still open), each as a timeline in HTML and JSON, the
per-action table, the index's fleet table, hostile text escaped, one Query per endpoint, and
the page in Chromium when it is installed."""

import json
import re
import subprocess
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from model_medic.store.incidents import Incident, Incidents, Shadow, opened
from model_medic.store.table import Table
from tests.conftest import FakeContext, Stack, load_event, make_endpoint
from tests.functional.test_daily_report import ENDPOINT, HOSTILE, START, fn  # noqa: F401 - the fixture is shared
from tests.functional.test_report_in_browser import CHROMIUM, FLAGS, OUT

BUCKET = "model-medic-reports"
OTHER = "fraud-prod"


def store(stack: Stack) -> Incidents:
    return Incidents(Table(boto3.client("dynamodb"), stack.table), timedelta(days=90))


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def open_incident(
    stack: Stack, minutes: float, alarm: str = f"{ENDPOINT}-HighLatency", action: str = "scale-up", **kw: Any
) -> Incident:
    arn = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}"
    reason = kw.get("reason", "Threshold Crossed: TotalLatency 910 ms > 400 ms")
    return store(stack).open(opened(kw.get("endpoint", ENDPOINT), action, alarm, arn, at(minutes), reason, "x"))


def step(incident: Incident, minutes: float, detail: str) -> Incident:
    """One change made and InService nine minutes later (as the loop writes them)."""
    called = replace(incident, steps=incident.steps + 1, state="waiting").at("action", at(minutes), detail)
    return replace(called, state="verifying").at("in-service", at(minutes + 9), f"{detail}: took")


def recover(stack: Stack, incident: Incident, minutes: float) -> Incident:
    seconds = (at(minutes) - datetime.fromisoformat(incident.opened_at)).total_seconds()
    done = replace(incident, state="recovered", closed_at=at(minutes).isoformat(), recovered_seconds=seconds)
    return store(stack).save(done.at("recovered", at(minutes), "the alarm returned to OK"))


def seed_incidents(stack: Stack) -> dict[str, Incident]:
    make_endpoint(ENDPOINT, {"primary": {"count": 3, "weight": 1.0}})
    made: dict[str, Incident] = {}
    # 10:00 latency: two scale-up steps, recovered at 10:47.
    latency = open_incident(stack, 4 * 60)
    latency = step(latency, 4 * 60 + 1, "primary instance count 1 -> 2")
    latency = step(latency, 4 * 60 + 21, "primary instance count 2 -> 3")
    made["recovered"] = recover(stack, latency, 4 * 60 + 47)
    # 13:00 errors: one step, escalated at 13:40, closed when the alarm cleared at 15:00.
    errors = step(open_incident(stack, 7 * 60, f"{ENDPOINT}-High5XX"), 7 * 60 + 2, "primary instance count 3 -> 4")
    errors = errors.at("escalated", at(7 * 60 + 40), "High5XX still in ALARM after primary 3 -> 4: at the bound")
    errors = replace(errors, state="closed", closed_at=at(9 * 60).isoformat()).at("closed", at(9 * 60), "OK")
    made["escalated"] = store(stack).save(errors)
    # Three days before the window: a rollback that did not take, still open.
    old = step(open_incident(stack, -3 * 24 * 60, f"{ENDPOINT}-ModelQuality", "rollback"), -3 * 24 * 60 + 5, "cfg-2")
    old = replace(old, state="escalated").at("failed", at(-3 * 24 * 60 + 30), "the deployment rolled back")
    made["still-open"] = store(stack).save(old)
    # Opened the evening before, recovered at 06:10 in the window.
    early = step(open_incident(stack, -50), -45, "primary instance count 1 -> 2")
    made["across-the-start"] = recover(stack, early, 10)
    # Not in the window: closed before the start, opened at the end, another endpoint's.
    gone = open_incident(stack, -5 * 60, f"{ENDPOINT}-HighErrorRate")
    store(stack).save(replace(gone, state="closed", closed_at=at(-1).isoformat()).at("closed", at(-1), "OK"))
    open_incident(stack, 24 * 60, f"{ENDPOINT}-Late")
    open_incident(stack, 60, f"{OTHER}-HighLatency", endpoint=OTHER)
    return made


def run(stack: Stack, fn: Any) -> tuple[dict[str, Any], str, str]:  # noqa: F811
    fn.lambda_handler(load_event("daily_report/schedule.json"), FakeContext())
    s3 = boto3.client("s3")

    def read(key: str) -> str:
        return str(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode())

    report = json.loads(read(f"reports/{ENDPOINT}/2026-11-23.json"))
    return report, read(f"reports/{ENDPOINT}/2026-11-23.html"), read("reports/_index/2026-11-23.html")


def test_the_incidents_open_in_the_day_are_in_the_json_with_their_timelines(fn: Any, stack: Stack) -> None:  # noqa: F811
    made = seed_incidents(stack)
    report, _, _ = run(stack, fn)
    ids = [i["id"] for i in report["incidents"]]
    assert ids == [made[k].id for k in ("still-open", "across-the-start", "recovered", "escalated")]
    recovered = report["incidents"][2]
    assert (recovered["action"], recovered["alarm_name"], recovered["state"], recovered["outcome"]) == (
        "scale-up",
        f"{ENDPOINT}-HighLatency",
        "recovered",
        "recovered",
    )
    assert (recovered["time_to_recover_seconds"], recovered["time_to_recover"], recovered["steps"]) == (
        47 * 60,
        "47 min",
        2,
    )
    assert [(t["at"], t["what"]) for t in recovered["timeline"]] == [
        ("10:00", "detected"),
        ("10:01", "action"),
        ("10:10", "in-service"),
        ("10:21", "action"),
        ("10:30", "in-service"),
        ("10:47", "recovered"),
    ]
    assert recovered["timeline"][1]["detail"] == "primary instance count 1 -> 2"
    escalated = report["incidents"][3]
    assert (escalated["state"], escalated["outcome"], escalated["time_to_recover_seconds"]) == (
        "closed",
        "escalated",
        None,
    )
    still_open = report["incidents"][0]
    assert (still_open["action"], still_open["outcome"], still_open["closed_at"]) == ("rollback", "escalated", None)
    assert all(t["outside"] for t in still_open["timeline"])
    across = report["incidents"][1]
    assert [(t["at"], t["outside"]) for t in across["timeline"]] == [
        ("05:10", True),
        ("05:15", True),
        ("05:24", True),
        ("06:10", False),
    ]
    assert report["actions"] == [
        {
            "action": "rollback",
            "incidents": 1,
            "acted": 1,
            "recovered": 0,
            "escalated": 1,
            "fix_rate": 0.0,
            "median_time_to_recover_seconds": None,
            "median_time_to_recover": "\u2014",
        },
        {
            "action": "scale-up",
            "incidents": 3,
            "acted": 3,
            "recovered": 2,
            "escalated": 1,
            "fix_rate": 66.7,
            "median_time_to_recover_seconds": (47 * 60 + 60 * 60) / 2,  # 47 min and 60 min
            "median_time_to_recover": "54 min",
        },
    ]
    assert any("2 incident(s) escalated (rollback, scale-up)" in r for r in report["recommendations"])


def test_the_page_shows_each_incident_as_a_timeline_and_the_action_table(fn: Any, stack: Stack) -> None:  # noqa: F811
    seed_incidents(stack)
    _, html, index = run(stack, fn)
    assert html.count("<svg") == 6  # the five charts and the incident strip
    assert html.count('class="incident outcome-') == 4
    assert "How often each kind of action fixed its alarm" in html
    assert "67%" in html
    assert "54 min" in html
    assert '<time datetime="2026-11-22T10:47:00+00:00">10:47</time>' in html
    assert '<time datetime="2026-11-19T06:00:00+00:00">11-19 06:00</time>' in html  # dated: before the window
    assert "primary instance count 1 -&gt; 2" in html
    assert f"{ENDPOINT}-HighErrorRate" not in html
    assert f"{ENDPOINT}-Late" not in html
    assert "time to recover 47 min" in html
    assert '<td class="num">4 (2 escalated)</td>' in index
    assert "How often each kind of action fixed its alarm" in index


def test_hostile_alarm_names_and_details_in_incidents_are_escaped(fn: Any, stack: Stack) -> None:  # noqa: F811
    make_endpoint(ENDPOINT)
    hostile = step(open_incident(stack, 60, HOSTILE, HOSTILE, reason=HOSTILE), 61, HOSTILE)
    store(stack).save(hostile.at("escalated", at(90), f'"><img src=x onerror=alert(1)> {HOSTILE}'))
    report, html, index = run(stack, fn)
    assert report["incidents"][0]["alarm_name"] == HOSTILE
    for page in (html, index):
        assert HOSTILE not in page
        assert "<img" not in page
    assert "<script" not in html
    assert index.count("<script") == 1  # the index's own filter (allowed by its hash), nothing else
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;" in index  # the fleet table names the action


def test_a_rollout_with_a_hostile_package_name_is_shown_escaped(fn: Any, stack: Stack) -> None:  # noqa: F811
    from model_medic.remediate.rollout.changes import DeployCanary
    from model_medic.remediate.rollout.run import rollout_incident

    make_endpoint(ENDPOINT, {"primary": {"count": 3, "weight": 0.95}, "canary": {"count": 1, "weight": 0.05}})
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{HOSTILE}/2"
    incident = store(stack).open(rollout_incident(ENDPOINT, arn, at(60), "approved"))
    deploy = DeployCanary(arn, "m", "cfg-1", f"cfg-{HOSTILE}", "primary", "canary", 1, 5, 3.0)
    store(stack).save(replace(incident, steps=1, facts={**(incident.facts or {}), **deploy.settled(at(62))}))
    report, html, _ = run(stack, fn)
    assert report["canary"]["rollout"]["package"] == f"{HOSTILE}/2"
    assert "<script>" not in html
    assert "model package <code>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;/2</code>" in html
    assert "Canary at 5% of the traffic since 2026-11-22T07:02 UTC." in html


def test_one_query_per_endpoint_reads_its_incidents(fn: Any, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from botocore.client import BaseClient

    seed_incidents(stack)
    make_endpoint(OTHER)
    monkeypatch.setenv("MONITORED_ENDPOINTS", f"{ENDPOINT},{OTHER}")
    queries: list[dict[str, Any]] = []
    original = BaseClient._make_api_call

    def recording(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if operation == "Query":
            queries.append(params)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    result = fn.lambda_handler(load_event("daily_report/schedule.json"), FakeContext())
    assert set(result["grades"]) == {ENDPOINT, OTHER}
    first_pages = [
        q["ExpressionAttributeValues"][":pk"]["S"]
        for q in queries
        if "INCIDENT#" in json.dumps(q) and "ExclusiveStartKey" not in q
    ]
    assert sorted(first_pages) == sorted([f"ENDPOINT#{ENDPOINT}", f"ENDPOINT#{OTHER}"])
    other = json.loads(
        boto3.client("s3").get_object(Bucket=BUCKET, Key=f"reports/{OTHER}/2026-11-23.json")["Body"].read()
    )
    assert [i["alarm_name"] for i in other["incidents"]] == [f"{OTHER}-HighLatency"]
    assert other["incidents"][0]["outcome"] == "open"


def test_a_day_without_incidents_says_so(fn: Any, stack: Stack) -> None:  # noqa: F811
    make_endpoint(ENDPOINT)
    report, html, index = run(stack, fn)
    assert (report["incidents"], report["actions"]) == ([], [])
    assert "No incidents in these 24 hours." in html
    assert html.count("<svg") == 5
    assert "How often each kind of action fixed its alarm" not in index


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (`make browser` installs it when it can)")
def test_the_incident_strip_renders_in_chromium(fn: Any, stack: Stack, tmp_path: Path) -> None:  # noqa: F811
    seed_incidents(stack)
    # 17:00 in dry-run: two would-be steps, nothing changed, recovered at 17:40.
    rehearsed = open_incident(stack, 17 * 60, f"{ENDPOINT}-HighErrorRate")
    for number, minutes in ((1, 17 * 60 + 1), (2, 17 * 60 + 12)):
        rehearsed = rehearsed.at(
            "dry-run", at(minutes), f"step {number}: primary instance-count {2 + number} -> {3 + number}"
        )
    recover(stack, replace(rehearsed, shadow=Shadow(steps=2, at=at(17 * 60 + 12).isoformat())), 17 * 60 + 40)
    report, html, _ = run(stack, fn)
    assert report["grade"] == "C"  # an escalation in the day
    OUT.mkdir(parents=True, exist_ok=True)
    page = OUT / f"{ENDPOINT}-2026-11-23-incidents.html"
    page.write_text(html)
    screenshot = OUT / f"{ENDPOINT}-2026-11-23-incidents.png"
    screenshot.unlink(missing_ok=True)
    common = [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    shot = subprocess.run(  # noqa: S603 - the system's chromium on a file we wrote
        [*common, f"--screenshot={screenshot}", "--window-size=1000,3600", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert screenshot.exists(), shot.stderr[-2000:]
    assert screenshot.stat().st_size > 20_000
    dom = subprocess.run(  # noqa: S603
        [*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=False
    )
    assert dom.stdout.count("<svg") == 6
    # What Chromium rendered says what happened: the dry run's would-be steps beside the none
    # taken, each incident's own outcome (nothing called recovered that was not), the grade.
    text = re.sub(r"<[^>]+>", " ", dom.stdout)
    assert "0 step(s) · dry run: would have taken 2 step(s)" in re.sub(r"\s+", " ", text)
    badges = re.findall(r'<span class="badge badge-([\w-]+)">', dom.stdout)
    assert sorted(badges) == sorted(["recovered", "escalated", "escalated", "recovered", "recovered"]), badges
    assert re.search(r'<span class="grade grade-C" title="[^"]+">C</span>', dom.stdout)
    assert dom.stdout.count('class="mark mark-') >= 10
    assert "Uncaught" not in dom.stderr
    assert "Uncaught" not in shot.stderr
