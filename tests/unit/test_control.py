"""The control loop's pure decisions, without AWS: which incidents nothing is repeated for, when
a delivery is late, how an incident closes, and how an incident at its bound is reported."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from model_medic.control.loop import changed_since, settled_gate
from model_medic.control.stepping import closing, escalation
from model_medic.platform import aws
from model_medic.remediate.units import Plan
from model_medic.store.incidents import Incident, opened
from model_medic.tell.outcome import Outcome

AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:churn-prod-HighLatency"


def _incident(**changes: object) -> Incident:
    incident = opened("churn-prod", "scale-up", "churn-prod-HighLatency", ARN, AT, "p99 above 500", "ModelLatency")
    return replace(incident, **changes)  # type: ignore[arg-type]


def _base() -> Outcome:
    return Outcome(
        action="scale-up",
        endpoint="churn-prod",
        result="skipped",
        reason="",
        mode="enforce",
        alarm_name="churn-prod-HighLatency",
        alarm_arn=ARN,
        transition="t",
        state="OK",
        at=AT.isoformat(),
    )


@pytest.mark.parametrize(
    ("changes", "gate"),
    [
        ({"closed_at": "2026-11-22T11:00:00+00:00"}, "closed"),
        ({"state": "escalated"}, "escalated"),
        ({"state": "recovered"}, "recovered"),
        ({"state": "retrained"}, "retrained"),  # its pipeline succeeded: the alarm's OK closes it
        ({"state": "acting"}, None),
        ({"state": "verifying"}, None),
        ({"state": "waiting"}, None),
    ],
)
def test_closed_escalated_and_recovered_incidents_repeat_nothing(changes: dict[str, object], gate: str | None) -> None:
    settled = settled_gate(_incident(**changes))
    assert (settled[0] if settled else None) == gate


def test_a_delivery_is_late_once_a_later_transition_of_its_alarm_was_seen() -> None:
    first = _incident()
    later = opened("churn-prod", "scale-up", first.alarm_name, ARN, AT + timedelta(minutes=30), "again", None)
    other_alarm = replace(later, alarm_name="churn-prod-HighErrorRate")
    at = AT.isoformat()
    assert changed_since([first], first.alarm_name, at) is None  # its own incident
    assert changed_since([first, other_alarm], first.alarm_name, at) is None  # another alarm's
    assert "changed again" in (changed_since([first, later], first.alarm_name, at) or "")
    closed_after = replace(_incident(), closed_at=(AT + timedelta(minutes=5)).isoformat())
    older = (AT - timedelta(minutes=10)).isoformat()
    # An incident opened before the transition but closed after it: the transition is older news.
    assert changed_since([closed_after], first.alarm_name, older) is not None


def test_an_incident_that_was_acted_on_closes_recovered_with_its_time_to_recover() -> None:
    at = AT + timedelta(minutes=12)
    closed, outcome = closing(
        _incident(steps=2, state="verifying"), at, "the alarm returned to OK", "scale-up", _base()
    )
    assert (closed.state, closed.closed_at, closed.recovered_seconds) == ("recovered", at.isoformat(), 720.0)
    assert closed.timeline[-1]["what"] == "recovered"
    assert outcome.result == "recovered"
    assert outcome.changes == {"time_to_recover_seconds": 720.0, "steps": 2}
    assert "recovered 12 min after it fired, after 2 scale-up step(s)" in outcome.reason


@pytest.mark.parametrize(
    ("steps", "state", "closed_as"),
    [(0, "acting", "closed"), (1, "escalated", "closed"), (1, "recovered", "recovered")],
)
def test_an_incident_that_did_not_act_or_did_not_help_closes_without_a_recovery(
    steps: int, state: str, closed_as: str
) -> None:
    closed, outcome = closing(_incident(steps=steps, state=state), AT, "the alarm returned to OK", "scale-up", _base())
    assert closed.state == closed_as
    assert (outcome.result, outcome.gate) == ("skipped", "closed")
    unchanged = "incident closed: the alarm returned to OK; nothing was changed"
    assert (outcome.reason == unchanged) is (steps == 0)


def test_at_the_bound_nothing_changed_is_bound_reached_and_a_tried_step_is_an_escalation() -> None:
    plan = Plan("", bound="primary is at MaxInstanceCount, the maximum 4 instances")
    result, why, tried = escalation(_incident(), plan, stops_a_rollout=False)
    assert (result, tried) == ("bound-reached", [])
    assert why.endswith("nothing was changed")
    acted = _incident(steps=1).at("action", AT, "primary instance-count 2 -> 4")
    result, why, tried = escalation(acted, plan, stops_a_rollout=False)
    assert (result, tried) == ("escalated", ["primary instance-count 2 -> 4"])
    assert why.startswith("churn-prod-HighLatency is still in ALARM after primary instance-count 2 -> 4")
    result, why, _ = escalation(acted, plan, stops_a_rollout=True)
    assert why.startswith("stopped after primary instance-count 2 -> 4")


@pytest.mark.parametrize(
    ("code", "message", "busy"),
    [
        ("ValidationException", "Cannot update in-progress endpoint", True),
        ("ValidationException", "Endpoint is Updating", True),
        ("ValidationException", "An update is in progress", True),
        ("ValidationException", "Could not find endpoint", False),
        # Application Auto Scaling's answer to a change racing another (a scaling activity).
        ("ConcurrentUpdateException", "", True),
        ("ConcurrentUpdateException", "Concurrent updates caused an exception", True),
        ("LimitExceededException", "", False),
    ],
)
def test_another_change_under_way_means_wait(code: str, message: str, busy: bool) -> None:
    error = ClientError({"Error": {"Code": code, "Message": message}}, "RegisterScalableTarget")
    assert aws.is_busy(error) is busy


@pytest.mark.parametrize(
    ("code", "transient"),
    [
        ("InternalServiceException", True),
        ("ConcurrentUpdateException", True),
        ("ValidationException", False),
        ("ObjectNotFoundException", False),
    ],
)
def test_application_auto_scalings_server_faults_are_transient_even_with_a_400(code: str, transient: bool) -> None:
    error = ClientError(
        {"Error": {"Code": code, "Message": ""}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "RegisterScalableTarget"
    )
    assert aws.is_transient(error) is transient
