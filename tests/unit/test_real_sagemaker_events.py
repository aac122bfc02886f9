"""AWS's own examples of SageMaker's endpoint events (tests/data/real/README.md: the SageMaker
Developer Guide's "Endpoint state change" and "Endpoint deployment state change"), read by the
intake (intake/triggers.py) and by the observations that read an endpoint back
(remediate/rollback.py `config_observation`, remediate/rollout/deploy.py `traffic_observation`):
the events spell the status in upper snake case (`IN_SERVICE`, `UPDATING`), DescribeEndpoint in
camel case."""

import json
import re
from pathlib import Path
from typing import Any

from model_medic.intake import triggers
from model_medic.remediate.rollback import config_observation
from model_medic.remediate.rollout.changes import ShiftTraffic
from model_medic.remediate.rollout.deploy import traffic_observation

REAL = Path(__file__).resolve().parents[1] / "data" / "real"


def state_change() -> dict[str, Any]:
    """The guide's "SageMaker Endpoint State Change", as printed (valid JSON)."""
    return json.loads((REAL / "sagemaker-docs-endpoint-state-change.json").read_text())  # type: ignore[no-any-return]


def deployment_state_change() -> dict[str, Any]:
    """The guide's mid-update "SageMaker Endpoint Deployment State Change". As printed it is not
    JSON: `"StartTime": Timestamp` is a bare placeholder and one object ends with a trailing
    comma. Only those two are repaired (the placeholder read as the string "Timestamp")."""
    text = (REAL / "sagemaker-docs-endpoint-deployment-state-change.json").read_text()
    text = text.replace(": Timestamp,", ': "Timestamp",')
    text = re.sub(r",(\s*[}\]])", r"\1", text)
    return json.loads(text)  # type: ignore[no-any-return]


def test_the_guides_files_are_as_printed_not_json_where_the_guide_is_not() -> None:
    raw = (REAL / "sagemaker-docs-endpoint-deployment-state-change.json").read_text()
    assert '"StartTime": Timestamp,' in raw
    event = deployment_state_change()
    assert event["detail-type"] == "SageMaker Endpoint Deployment State Change"
    assert event["detail"]["PendingDeploymentSummary"]["EndpointConfigName"] == "sample-endpoint-config-2"
    assert state_change()["detail"]["EndpointStatus"] == "IN_SERVICE"


def test_the_rollback_records_the_guides_in_service_event_as_a_deployment() -> None:
    assert triggers.rollback(state_change()) == triggers.Deployment(("MyEndpoint", "MyEndpointConfig"))


def test_the_alarm_manager_takes_the_guides_state_change_as_the_endpoints_status() -> None:
    assert triggers.fleet(state_change()) == triggers.EndpointStatus("MyEndpoint", "IN_SERVICE")


def test_a_deployment_state_change_is_no_trigger_and_is_rejected_with_its_detail_type() -> None:
    """No rule of the stack sends it (template.yaml matches "SageMaker Endpoint State Change"
    only); delivered anyway, every function rejects it, and nothing is done."""
    event = deployment_state_change()
    for intake in (triggers.rollback, triggers.remediation, triggers.rollout):
        found = intake(event)
        assert isinstance(found, triggers.Rejected)
        assert "SageMaker Endpoint Deployment State Change" in found.reason
    assert isinstance(triggers.fleet(event), triggers.Rejected)


def test_the_config_read_back_reads_the_events_status_as_describe_endpoint_spells_it() -> None:
    """Read back from an event's detail, UPDATING is in flight and IN_SERVICE on the config asked is done."""
    updating = deployment_state_change()["detail"]
    assert config_observation(updating, "sample-endpoint-config-2", called=True).seen == "in-flight"
    assert config_observation(updating, "sample-endpoint-config-1", called=True).seen == "in-flight"
    in_service = state_change()["detail"]
    assert config_observation(in_service, "MyEndpointConfig", called=True).seen == "took"
    assert config_observation(in_service, "OtherConfig", called=False).seen == "not-applied"


def test_the_traffic_read_back_takes_the_guides_pending_config_as_a_persons_deployment() -> None:
    """A weight shift deploys no config: a pending one is a person's change. The guide's endpoint
    example names no variant (its variants have no VariantName): no canary there either."""
    shift = ShiftTraffic("AllTraffic", "canary", 10.0, 25)
    seen = traffic_observation(shift, deployment_state_change()["detail"])
    assert (seen.seen, seen.stops) == ("took", True)
    assert "config sample-endpoint-config-2 deployed" in seen.detail
    unnamed = traffic_observation(shift, state_change()["detail"])
    assert (unnamed.seen, unnamed.stops) == ("took", True)
    assert "config MyEndpointConfig deployed" in unnamed.detail
