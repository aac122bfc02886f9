"""End to end: `model-medic backtest` against a local cloud this test starts (template.yaml built,
packaged and deployed into moto server), after the demo's first two scenarios ran through the real
wiring: its alarm history (the local cloud's DescribeAlarmHistory) replayed finds what enforce did."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from localcloud import scenarios, world
from localcloud.__main__ import UPDATE_SECONDS, free_port, parameters, simulate_aws, start_server
from localcloud.cloud import ROOT, LocalCloud

pytestmark = pytest.mark.slow
START = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    port = free_port()
    server = start_server(port, ROOT / ".localcloud" / "moto-e2e-backtest.log")
    try:
        local = LocalCloud(f"http://127.0.0.1:{port}")
        world.seed_fleet(local)
        local.deploy(parameters("enforce"))
        world.seed(local, START)
        simulate_aws(local)
        yield local
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def played(cloud: LocalCloud) -> scenarios.Timeline:
    """The demo's first two scenarios, then its third's drift alarm (the end of the backtest's window)."""
    timeline = scenarios.Timeline(cloud, START)
    scenarios.latency_scale_up_and_back(timeline)
    timeline.advance(timedelta(hours=2))
    scenarios.duplicate_error_alarm_scales_once(timeline)
    timeline.advance(timedelta(hours=2))
    timeline.alarm(f"{world.ENDPOINT}-DataDrift", "ALARM")
    timeline.advance(timedelta(hours=1))
    return timeline


def test_the_backtest_of_the_demos_history_finds_what_enforce_did(played: scenarios.Timeline) -> None:
    played.lines = []
    scenarios.backtest_matches_enforce(played)  # raises Expectation with what differed
    text = "\n".join(played.lines)
    assert "INCIDENTS IT WOULD HAVE OPENED" in text
    assert "WHAT THE STACK RECORDED (its ledger, the same window) AND THE BACKTEST" in text
    assert "differs" not in text


def test_the_backtest_is_the_demos_last_scenario_and_simulates_the_local_clouds_update_time() -> None:
    assert scenarios.SCENARIOS[-1][1] is scenarios.backtest_matches_enforce
    assert scenarios.BACKTEST_UPDATE_MINUTES * 60 == UPDATE_SECONDS
