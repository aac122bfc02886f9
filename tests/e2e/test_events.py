"""End to end: every sample in events/, sent as `python -m localcloud invoke` sends it to a local
cloud started as `make up` starts one, shows what events/README.md says it shows."""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from localcloud import delivery
from localcloud.__main__ import start, start_server
from localcloud.cloud import ROOT, LocalCloud

pytestmark = pytest.mark.slow
EVENTS = ROOT / "events"
Check = Callable[[delivery.Delivered], None]


@dataclass(frozen=True)
class Send:
    """A sample sent to a function `minutes` after the local cloud started."""

    file: str
    function: str
    minutes: int
    shows: Check


@dataclass(frozen=True)
class Tick:
    """A schedule rule's event (`python -m localcloud tick`), where README says a sample follows one."""

    function: str
    minutes: int


# --- what a sample shows -------------------------------------------------------------------


def _result(sent: delivery.Delivered) -> Any:
    assert sent.invocation.error is None, sent.invocation.logs[-3000:]
    return sent.invocation.result


def outcome(result: str, gate: str, says: str, endpoint: str = "churn-prod") -> Check:
    """An outcome of the endpoint with this result and gate whose reason says `says`."""

    def check(sent: delivery.Delivered) -> None:
        found = [(o["endpoint"], o["result"], o["gate"], o["reason"]) for o in _result(sent)["outcomes"]]
        assert any(e == endpoint and (r, g) == (result, gate) and says in why for e, r, g, why in found), found

    return check


def outcomes(*checks: Check) -> Check:
    def check(sent: delivery.Delivered) -> None:
        for each in checks:
            each(sent)

    return check


def rejected(says: str) -> Check:
    """Rejected with its reason, nothing decided."""

    def check(sent: delivery.Delivered) -> None:
        answer = _result(sent)
        assert answer.get("outcomes", []) == [], answer
        assert any(says in reason for reason in answer["rejected"]), answer

    return check


def followed_the_run(sent: delivery.Delivered) -> None:
    """The drift sweep, nothing to tell yet: it read the open incidents, their alarms and the run."""
    assert _result(sent) == {"outcomes": [], "rejected": []}
    read = {"dynamodb:Query", "cloudwatch:DescribeAlarms", "sagemaker:DescribePipelineExecution"}
    assert read <= set(sent.invocation.calls), sent.invocation.calls


def answered(**expected: Any) -> Check:
    """The answer holds these fields with these values."""

    def check(sent: delivery.Delivered) -> None:
        answer = _result(sent)
        assert {k: answer.get(k) for k in expected} == expected, answer

    return check


def measured(sent: delivery.Delivered) -> list[dict[str, Any]]:
    """Each endpoint's measurement: a queue batch's own results, or - for a schedule's event,
    which hands every endpoint in scope to the queue - those of the batches the stack's event
    source mapping delivered (the local cloud delivers them as Lambda's poller does)."""
    answer = _result(sent)
    if "queued" in answer:
        assert sent.invocation.delivered, "the schedule's queue messages were delivered"
        found = [r for d in sent.invocation.delivered for r in _result_of(d)["results"]]
        assert sorted(r["endpoint"] for r in found) == sorted(answer["queued"]), found
        return found
    return list(answer["results"])


def _result_of(invocation: Any) -> Any:
    assert invocation.error is None, invocation.logs[-3000:]
    assert invocation.result["batchItemFailures"] == [], invocation.result
    return invocation.result


def drift(sent: delivery.Delivered) -> None:
    by_endpoint = {e["endpoint"]: e for e in measured(sent)}
    churn = by_endpoint.pop("churn-prod")
    assert (churn["status"], churn["rows"]) == ("published", 600), churn
    assert churn["features"]["age"]["psi"] > 0.2, churn  # the seeded capture drifts
    assert {e["status"] for e in by_endpoint.values()} <= {"no-baseline"}, by_endpoint


def quality(hours: set[int]) -> Check:
    """churn-prod's accuracy published from `hours` of labels (1000 an hour, `make up` seeds two),
    each matched with its prediction."""

    def check(sent: delivery.Delivered) -> None:
        [churn] = [r for r in measured(sent) if r["endpoint"] == "churn-prod"]
        assert churn["status"] == "published", churn
        assert churn["labels"] in {1000 * h for h in hours}, churn
        assert churn["matched"] == churn["labels"], churn
        assert set(churn["published"]) == {"primary", "canary", "(endpoint)"}, churn

    return check


def metrics(sent: delivery.Delivered) -> None:
    answer = _result(sent)
    assert answer["published"] == 6, answer  # churn-prod: TotalLatency and ErrorRate per variant and in all
    assert answer["without_data"] == ["fraud-prod", "recs-prod", "search-prod"], answer


def report(sent: delivery.Delivered) -> None:
    answer = _result(sent)
    # The rest of the fleet serves no traffic: graded "—" (no traffic), not A.
    assert answer["grades"] == {"churn-prod": "A", "fraud-prod": "—", "recs-prod": "—", "search-prod": "—"}, answer
    assert {w["endpoint"] for w in answer["written"]} == {
        "churn-prod",
        "fraud-prod",
        "recs-prod",
        "search-prod",
        "(index)",
    }


def reconciled(endpoints: int, unchanged: int) -> Check:
    def check(sent: delivery.Delivered) -> None:
        done = _result(sent)["reconciled"]
        assert (done["endpoints"], done["unchanged"], done["created"], done["deleted"]) == (
            endpoints,
            unchanged,
            [],
            [],
        )

    return check


def stack_deleted(sent: delivery.Delivered) -> None:
    assert sent.answered_here, sent.notes
    assert sent.response is not None, sent.invocation.logs[-3000:]
    assert (sent.response["Status"], sent.response["PhysicalResourceId"]) == ("SUCCESS", "model-medic-fleet-alarms")
    done = _result(sent)["reconciled"]
    # churn-prod's four and its canary's two, four for each of the three without a canary; a dashboard each.
    assert (len(done["deleted"]), len(done["dashboards_deleted"])) == (18, 4), done


# --- the rounds ----------------------------------------------------------------------------
# Each round is a local cloud of its own, started as `make up` starts one. A sample that changes
# churn-prod (a scale-up, a rollback, a canary's weight, a retraining run) has no other of its
# kind in its round, so that each finds churn-prod as a fresh `make up` leaves it; samples that
# change it are sent 10 minutes or more apart, once the change before is InService (moto keeps
# an endpoint Updating for 4 simulated minutes, localcloud/__main__.py). The rest read the world
# and are sent first. Where events/README.md says a sample follows another, it does here.

ACTED_LATENCY = "primary min-capacity 2 -> 3; canary instance-count 1 -> 2"
ROLLED_BACK = "canary weight -> 0; model package arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/2"
# A canary alarm makes the judge look at once; it holds the promotion and rolls nothing back itself.
CANARY_ALARM_LOOK = "continue: canary alarm in ALARM: churn-prod-canary-ErrorRate (no promotion while it is"
RETRAINING = "start pipeline model-medic-retraining for churn-prod"
COMPOSITE = "alarm 'churn-prod-Degraded' has no EndpointName or Endpoint dimension (composite alarm)"

ROUNDS: tuple[tuple[Send | Tick, ...], ...] = (
    (
        Send("manage_alarms/schedule.json", "AlarmManagerFunction", 0, reconciled(4, 18)),
        Send("manage_alarms/endpoint_in_service.json", "AlarmManagerFunction", 0, reconciled(1, 4)),
        Send(
            "rollback_model/endpoint_in_service.json",
            "RollbackModelFunction",
            0,
            answered(recorded={"endpoint": "churn-prod", "config": "churn-prod-config-1"}, rejected=[]),
        ),
        Send("compute_metrics/schedule.json", "ComputeMetricsFunction", 0, metrics),
        Send(
            "compute_drift/build_baseline.json",
            "ComputeDriftFunction",
            0,
            answered(baseline="s3://churn-ml-local/baselines/churn-prod/baseline.json"),
        ),
        Send("compute_drift/schedule.json", "ComputeDriftFunction", 0, drift),
        Send("compute_drift/queued.json", "ComputeDriftFunction", 0, drift),
        Send("compute_model_quality/schedule.json", "ComputeModelQualityFunction", 0, quality({2})),
        Send("compute_model_quality/queued.json", "ComputeModelQualityFunction", 0, quality({2})),
        # The labels' hour is 1:02:41 before the event's time: in the first minutes of an hour,
        # the hour before the last one seeded, whose window holds one hour of labels.
        Send(
            "compute_model_quality/ground_truth_created.json",
            "ComputeModelQualityFunction",
            0,
            quality({1, 2}),
        ),
        Send("daily_report/schedule.json", "DailyReportFunction", 0, report),
        Send("alarms/sns_composite_alarm.json", "ScaleUpFunction", 0, rejected(COMPOSITE)),
        Send("alarms/eventbridge_composite.json", "PromoteCanaryFunction", 0, rejected(COMPOSITE)),
        Send(
            "alarms/sns_insufficient_data.json",
            "ScaleUpFunction",
            0,
            outcome("skipped", "state", "scale-up does not act on INSUFFICIENT_DATA"),
        ),
        Send(
            "alarms/sns_high_error_rate_ok.json",
            "ScaleUpFunction",
            0,
            outcome("skipped", "state", "churn-prod-HighErrorRate is OK; no open incident"),
        ),
        Send(
            "alarms/sns_metric_math_alarm.json",
            "ScaleUpFunction",
            0,
            outcome("skipped", "precondition", "endpoint churn-prod has no variant AllTraffic"),
        ),
        Send("scale_up/high_latency_alarm.json", "ScaleUpFunction", 0, outcome("acted", "", ACTED_LATENCY)),
        Send("start_retraining/data_drift_alarm.json", "StartRetrainingFunction", 0, outcome("acted", "", RETRAINING)),
        Send("start_retraining/pipeline_status_change.json", "StartRetrainingFunction", 1, followed_the_run),
        Send(
            "scale_up/high_latency_ok.json",
            "ScaleUpFunction",
            6,
            outcome("recovered", "", "churn-prod-HighLatency recovered 6 min after it fired, after 1 scale-up step(s)"),
        ),
        Send(
            "scale_up/scale_back_sweep.json",
            "ScaleUpFunction",
            30,
            outcome("acted", "", "primary min-capacity 3 -> 2"),
        ),
        Send("rollback_model/accuracy_drop_alarm.json", "RollbackModelFunction", 35, outcome("acted", "", ROLLED_BACK)),
        Send(
            "promote_canary/model_package_approved.json",
            "PromoteCanaryFunction",
            45,
            outcome("acted", "", "deploy churn/3 as canary: 5% on 1 instance(s)"),
        ),
        Send("manage_alarms/stack_delete.json", "AlarmManagerFunction", 55, stack_deleted),
    ),
    (
        Send("scale_up/high_error_rate_alarm.json", "ScaleUpFunction", 0, outcome("acted", "", ACTED_LATENCY)),
        Send(
            "start_retraining/model_monitor_drift_alarm.json",
            "StartRetrainingFunction",
            0,
            outcome("acted", "", RETRAINING),
        ),
        Send(
            "promote_canary/schedule.json",
            "PromoteCanaryFunction",
            10,
            outcome("skipped", "continue", "continue: baking for 30 minutes"),
        ),
        Send(
            "promote_canary/canary_alarm.json",
            "PromoteCanaryFunction",
            11,
            outcome("skipped", "continue", CANARY_ALARM_LOOK),
        ),
    ),
    (
        Send("alarms/sns_high_latency_alarm.json", "ScaleUpFunction", 0, outcome("acted", "", ACTED_LATENCY)),
        Send("alarms/sns_model_monitor_drift.json", "StartRetrainingFunction", 0, outcome("acted", "", RETRAINING)),
        Send("alarms/alarm_action_direct.json", "RollbackModelFunction", 10, outcome("acted", "", ROLLED_BACK)),
    ),
    (
        Send(
            "alarms/sns_batch_two_records.json",
            "ScaleUpFunction",
            0,
            outcomes(
                outcome("acted", "", ACTED_LATENCY),
                outcome("acted", "", "primary instance-count 1 -> 2", endpoint="fraud-prod"),
            ),
        ),
        Send(
            "rollback_model/accuracy_drop_alarm_action.json",
            "RollbackModelFunction",
            10,
            outcome("acted", "", ROLLED_BACK),
        ),
    ),
    (
        Send(
            "alarms/eventbridge_metric_math.json",
            "ScaleUpFunction",
            0,
            outcome("acted", "", "canary instance-count 1 -> 2"),
        ),
        Tick("PromoteCanaryFunction", 10),
        Send(
            "alarms/eventbridge_alarm_state_change.json",
            "PromoteCanaryFunction",
            11,
            outcome("skipped", "continue", CANARY_ALARM_LOOK),
        ),
    ),
)
SENDS = {s.file: s for r in ROUNDS for s in r if isinstance(s, Send)}


def _play(number: int, sends: tuple[Send | Tick, ...]) -> dict[str, delivery.Delivered]:
    server, port = start_server(ROOT / ".localcloud" / f"moto-e2e-events-{number}.log")
    try:
        cloud = LocalCloud(f"http://127.0.0.1:{port}")
        started = datetime.now(UTC).replace(microsecond=0)
        start(cloud, "enforce", started)
        sent = {}
        for each in sends:
            at = started + timedelta(minutes=each.minutes, seconds=30)
            if isinstance(each, Tick):
                [ticked] = cloud.tick(each.function, at)
                assert ticked.error is None, ticked.logs[-3000:]
                continue
            event = json.loads((EVENTS / each.file).read_text())
            sent[each.file] = delivery.deliver(cloud, each.function, event, at)
        return sent
    finally:
        server.terminate()
        server.wait(timeout=10)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A round's class tests the samples its round sends."""
    if "file" in metafunc.fixturenames and metafunc.cls is not None and issubclass(metafunc.cls, Round):
        sends = ROUNDS[metafunc.cls.number - 1]
        metafunc.parametrize("file", sorted(s.file for s in sends if isinstance(s, Send)))


class Round:
    """One round: its own local cloud, played once for its class's tests. A class is one unit of
    work of the parallel run (pytest-xdist, --dist loadscope): the rounds play side by side."""

    number = 0

    @pytest.fixture(scope="class")
    @classmethod
    def sent(cls) -> dict[str, delivery.Delivered]:
        return _play(cls.number, ROUNDS[cls.number - 1])

    def test_the_sample_shows_its_behaviour(self, sent: dict[str, delivery.Delivered], file: str) -> None:
        SENDS[file].shows(sent[file])


class TestRound1(Round):
    number = 1

    def test_an_alarm_sample_is_delivered_with_its_alarm_in_the_state_it_reports(
        self, sent: dict[str, delivery.Delivered]
    ) -> None:
        notes = sent["scale_up/high_latency_alarm.json"].notes
        assert notes[0].startswith("delivered at "), notes
        assert "its times moved" in notes[0], notes
        assert notes[1].startswith("churn-prod-HighLatency set to ALARM at "), notes
        assert "churn/3 set to Approved in the registry" in sent["promote_canary/model_package_approved.json"].notes[1]


class TestRound2(Round):
    number = 2


class TestRound3(Round):
    number = 3


class TestRound4(Round):
    number = 4


class TestRound5(Round):
    number = 5


def test_every_sample_is_sent_once() -> None:
    files = sorted(str(p.relative_to(EVENTS)) for p in EVENTS.rglob("*.json"))
    listed = [s.file for r in ROUNDS for s in r if isinstance(s, Send)]
    assert sorted(listed) == files


def test_every_round_is_played_by_its_class() -> None:
    assert sorted(c.number for c in Round.__subclasses__()) == list(range(1, len(ROUNDS) + 1))


def test_the_readme_sends_each_sample_to_the_function_sent_here() -> None:
    rows = re.findall(r"^\| `([\w/]+\.json)` \| `(\w+)` \|", (EVENTS / "README.md").read_text(), re.MULTILINE)
    assert dict(rows) == {file: s.function for file, s in SENDS.items()}
    assert len(rows) == len(SENDS)
