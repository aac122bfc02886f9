"""The daily report as a person sees it: opened in headless Chromium, screenshotted, and its
charts present in the rendered DOM with no console errors; the day's index sorted worst first,
its filter (by grade, by name) run by Chromium under the page's Content-Security-Policy."""

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import ROOT, FakeContext, Stack, load_event, make_endpoint
from tests.functional.test_daily_report import ENDPOINT, START, fn, seed  # noqa: F401 - the fixture is shared

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
OUT = ROOT / "out" / "report-screenshots"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed; `make test` installs Debian's chromium "
    "when it can (apt-get as root), and this machine could not",
)
def test_the_report_renders_its_charts_in_chromium(fn: Any, stack: Stack, tmp_path: Path) -> None:  # noqa: F811
    seed(stack)
    fn.lambda_handler(load_event("daily_report/schedule.json"), FakeContext())
    html = (
        boto3.client("s3")
        .get_object(Bucket="model-medic-reports", Key=f"reports/{ENDPOINT}/2026-11-23.html")["Body"]
        .read()
    )
    OUT.mkdir(parents=True, exist_ok=True)
    page = OUT / f"{ENDPOINT}-2026-11-23.html"
    page.write_bytes(html)
    screenshot = OUT / f"{ENDPOINT}-2026-11-23.png"
    screenshot.unlink(missing_ok=True)
    common = [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    shot = subprocess.run(  # noqa: S603 - the system's chromium on a file we wrote
        [*common, f"--screenshot={screenshot}", "--window-size=1000,2600", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert screenshot.exists(), shot.stderr[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000  # a page with content, not a blank
    dom = subprocess.run(  # noqa: S603
        [*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=False
    )
    assert dom.stdout.count("<svg") == 5
    assert dom.stdout.count("<polyline") >= 3
    assert "CONSOLE" not in dom.stderr or "Uncaught" not in dom.stderr
    assert "Uncaught" not in shot.stderr


def errors(endpoint: str, invocations: float, errors_5xx: float) -> None:
    """One hour of traffic on the endpoint's only variant, with this many 5XX errors."""
    boto3.client("cloudwatch").put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": metric,
                "Timestamp": START + timedelta(hours=3, minutes=10),
                "Dimensions": [
                    {"Name": "EndpointName", "Value": endpoint},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
                "Value": value,
            }
            for metric, value in (
                ("Invocations", invocations),
                ("Invocation4XXErrors", 0.0),
                ("Invocation5XXErrors", errors_5xx),
                ("ModelLatency", 100_000.0),
                ("OverheadLatency", 10_000.0),
            )
        ],
    )


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (`make browser` installs it when it can)")
def test_the_index_lists_worst_first_and_its_filter_runs_under_its_content_security_policy(
    fn: Any,  # noqa: F811
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    seed(stack)  # churn-prod: grade B
    grades = {"fraud-prod": (100.0, 20.0), "fraud-eu": (100.0, 0.0), "search-prod": (100.0, 9.0)}
    for name, (invocations, failed) in grades.items():
        make_endpoint(name)
        errors(name, invocations, failed)
    monkeypatch.setenv("MONITORED_ENDPOINTS", ",".join([ENDPOINT, *grades]))
    result = fn.lambda_handler(load_event("daily_report/schedule.json"), FakeContext())
    assert result["grades"] == {"fraud-prod": "C", "search-prod": "C", ENDPOINT: "B", "fraud-eu": "A"}
    html = boto3.client("s3").get_object(Bucket="model-medic-reports", Key="reports/_index/2026-11-23.html")["Body"]
    OUT.mkdir(parents=True, exist_ok=True)
    page = OUT / "index-2026-11-23.html"
    page.write_bytes(html.read())
    common = [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]

    def shown(fragment: str) -> tuple[list[str], str]:
        """The rows Chromium shows for the filter given in the link, and its count line."""
        dom = subprocess.run(  # noqa: S603 - the system's chromium on a file we wrote
            [*common, "--dump-dom", page.as_uri() + fragment], capture_output=True, text=True, timeout=120, check=False
        )
        assert "Uncaught" not in dom.stderr
        assert "Content Security Policy" not in dom.stderr, dom.stderr[-2000:]
        rows = [_row(found.group(1)) for found in re.finditer(r"<tr([^>]*)>", dom.stdout)]
        visible = [row[2] for row in rows if row is not None and not row[0]]
        count = re.search(r'<span id="shown" class="muted">([^<]*)</span>', dom.stdout)
        assert count is not None, dom.stdout[-3000:]
        return visible, count.group(1)

    # Worst first: the two C (the higher error rate first), then B, then A; all shown.
    assert shown("") == (["fraud-prod", "search-prod", ENDPOINT, "fraud-eu"], "4 of 4 shown")
    assert shown("#grade=C") == (["fraud-prod", "search-prod"], "2 of 4 shown")
    assert shown("#grade=BC") == (["fraud-prod", "search-prod", ENDPOINT], "3 of 4 shown")
    assert shown("#name=FRAUD") == (["fraud-prod", "fraud-eu"], "2 of 4 shown")
    assert shown("#grade=A&name=fraud") == (["fraud-eu"], "1 of 4 shown")
    assert shown("#grade=<script>") == (["fraud-prod", "search-prod", ENDPOINT, "fraud-eu"], "4 of 4 shown")


def _row(attributes: str) -> tuple[bool, str, str] | None:
    """(hidden, grade, name) of an endpoint row's attributes; None for any other row."""
    grade = re.search(r'data-grade="(\w)"', attributes)
    name = re.search(r'data-name="([\w-]+)"', attributes)
    if grade is None or name is None:
        return None
    return "hidden" in attributes, grade.group(1), name.group(1)
