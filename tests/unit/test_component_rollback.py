"""A component's rollback, its pure parts: DescribeInferenceComponent's specification turned into
UpdateInferenceComponent's (walking botocore's shapes), which component is the suspect, and how
the update reads back."""

from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
from botocore.validate import ParamValidator

from model_medic.remediate.component_rollback import (
    SpecRollback,
    decide,
    models_of,
    runtime_request,
    spec_digest,
    spec_observation,
    spec_request,
)
from model_medic.store.component_specs import ComponentSpec

SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")
UPDATE = SAGEMAKER.operation_model("UpdateInferenceComponent").input_shape
DESCRIBED = SAGEMAKER.operation_model("DescribeInferenceComponent").output_shape
AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def filled(shape: Any, name: str = "", depth: int = 0) -> Any:
    """A value for every member of a botocore shape, all the way down; a string is named after
    its member, so that two members of one type (SpecifiedImage, ResolvedImage) differ."""
    kind = shape.type_name
    if kind == "structure":
        return {member: filled(inner, member, depth + 1) for member, inner in shape.members.items() if depth < 8}
    if kind == "list":
        return [filled(shape.member, name, depth + 1)]
    if kind == "map":
        return {"key": filled(shape.value, name, depth + 1)}
    if kind == "string":
        return shape.enum[0] if shape.enum else f"{name}-value"
    if kind in ("integer", "long"):
        return max(3, shape.metadata.get("min", 0))  # within the API's bounds: the request is validated
    if kind in ("float", "double"):
        return max(0.5, shape.metadata.get("min", 0))
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return AT
    return b"blob"


def expected_request(several: bool) -> dict[str, Any]:
    """What UpdateInferenceComponent takes for `filled`'s answer: every member of the request's
    specification, its container's Image the digest the answer's DeployedImage resolved to."""
    member = UPDATE.members["Specifications"].member if several else UPDATE.members["Specification"]
    spec = filled(member)
    spec["Container"]["Image"] = "ResolvedImage-value"
    return {"Specifications": [spec]} if several else {"Specification": spec}


def test_a_described_specification_becomes_the_request_that_puts_every_member_back() -> None:
    """Walks botocore's shapes: a member the request takes and the answer does not show under the
    same name (the container's Image, shown as DeployedImage) fails here, not in AWS."""
    described = filled(DESCRIBED)
    del described["Specifications"]  # AWS shows one or the other
    request = spec_request(described, UPDATE)
    assert request == expected_request(several=False)
    assert "DeployedImage" not in request["Specification"]["Container"]
    errors = ParamValidator().validate({"InferenceComponentName": "c", **request}, UPDATE)
    assert not errors.has_errors(), errors.generate_report()


def test_a_component_of_several_instance_types_is_put_back_with_its_specifications() -> None:
    described = filled(DESCRIBED)
    del described["Specification"]
    request = spec_request(described, UPDATE)
    assert request == expected_request(several=True)
    assert not ParamValidator().validate({"InferenceComponentName": "c", **request}, UPDATE).has_errors()


def test_an_image_not_yet_resolved_is_put_back_as_the_path_asked() -> None:
    described = {"Specification": {"ModelName": "m", "Container": {"DeployedImage": {"SpecifiedImage": "repo:v1"}}}}
    assert spec_request(described, UPDATE) == {"Specification": {"ModelName": "m", "Container": {"Image": "repo:v1"}}}


def test_the_digest_tells_specifications_apart_whatever_the_order_of_their_fields() -> None:
    one = {"Specification": {"ModelName": "m", "ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1024}}}
    same = {"Specification": {"ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1024}, "ModelName": "m"}}
    assert spec_digest(one) == spec_digest(same)
    assert spec_digest(one) != spec_digest({"Specification": {"ModelName": "n"}})
    assert models_of(one) == ["m"]
    assert models_of({"Specification": {"Container": {"Image": "repo:v1"}}}) == ["repo:v1"]


def record(component: str, changed: datetime | None, rejected: frozenset[str] = frozenset()) -> ComponentSpec:
    return ComponentSpec(
        endpoint="e",
        component=component,
        spec='{"Specification": {"ModelName": "new"}}',
        digest="new",
        seen_at=AT.isoformat(),
        previous=None if changed is None else '{"Specification": {"ModelName": "old"}}',
        previous_digest=None if changed is None else "old",
        changed_at=None if changed is None else changed.isoformat(),
        rejected=rejected,
    )


def test_only_one_component_changed_within_the_window_is_the_suspect() -> None:
    since = AT - timedelta(hours=24)
    recent, old, never = (
        record("a", AT - timedelta(hours=1)),
        record("b", since - timedelta(seconds=1)),
        record("c", None),
    )
    assert decide("e", [recent, old, never], since, 24) == (recent, "")
    assert decide("e", [record("a", since)], since, 24)[0] is not None  # the window's start is within it
    found, why = decide("e", [old, never], since, 24)
    assert found is None
    assert "no inference component of e changed its specification in the 24 hours" in why
    found, why = decide("e", [recent, record("d", AT)], since, 24)
    assert found is None
    assert "2 inference components of e changed their specifications" in why
    assert "(a, d)" in why
    found, why = decide("e", [record("a", AT, frozenset({"old"}))], since, 24)
    assert found is None
    assert "rolled back from once" in why


CHANGE = SpecRollback("c", AT.isoformat(), "new", spec_digest({"Specification": {"ModelName": "old"}}), "{}")


def test_the_rollback_is_taken_only_when_in_service_on_the_specification_asked() -> None:
    def seen(status: str, model: str, called: bool = True, **more: Any) -> tuple[str, str]:
        described = {"InferenceComponentStatus": status, "Specification": {"ModelName": model}, **more}
        found = spec_observation(described, CHANGE, UPDATE, called)
        return found.seen, found.detail

    assert seen("InService", "old")[0] == "took"
    assert seen("Updating", "old")[0] == "in-flight"
    assert seen("Updating", "new")[0] == "in-flight"
    assert seen("Failed", "new", FailureReason="no capacity") == (
        "failed",
        "inference component is Failed: no capacity",
    )
    assert seen("InService", "new")[0] == "failed"  # AWS's own rollback of the update
    assert seen("InService", "new", called=False)[0] == "not-applied"
    assert spec_observation(None, CHANGE, UPDATE, True).seen == "failed"


def test_the_rollback_keeps_the_copy_count_the_component_has_now_zero_included() -> None:
    """A component scaled to zero stays at zero (the API's CopyCount may be 0: putting back its
    specification must not start a copy); an answer without a count leaves the count alone."""
    assert runtime_request({"RuntimeConfig": {"DesiredCopyCount": 3, "CurrentCopyCount": 2}}) == {
        "RuntimeConfig": {"CopyCount": 3}
    }
    assert runtime_request({"RuntimeConfig": {"DesiredCopyCount": 0, "CurrentCopyCount": 0}}) == {
        "RuntimeConfig": {"CopyCount": 0}
    }
    assert runtime_request({"InferenceComponentStatus": "InService"}) == {}
    assert UPDATE.members["RuntimeConfig"].members["CopyCount"].metadata["min"] == 0
    assert (
        not ParamValidator()
        .validate({"InferenceComponentName": "c", "RuntimeConfig": {"CopyCount": 0}}, UPDATE)
        .has_errors()
    )
