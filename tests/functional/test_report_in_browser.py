"""The daily report as a person sees it: opened in headless Chromium, screenshotted, and its
charts present in the rendered DOM with no console errors."""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import ROOT, FakeContext, Stack, load_event
from tests.functional.test_daily_report import ENDPOINT, fn, seed  # noqa: F401 - the fixture is shared

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
def test_the_report_renders_its_charts_in_chromium(fn: Any, stack: Stack, tmp_path: Path):  # noqa: F811
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
