"""The clean-up's pure decisions: what is due (retention since last used), which models a
component's recorded specifications keep."""

import json
from datetime import UTC, datetime, timedelta

from model_medic.remediate.cleanup import due, put_back
from model_medic.store.component_specs import ComponentSpec
from model_medic.store.deployments import Created

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
WINDOW = timedelta(hours=24)
RETENTION = timedelta(days=30)


def spec(*models: str) -> str:
    if len(models) == 1:
        return json.dumps({"Specification": {"ModelName": models[0]}})
    return json.dumps({"Specifications": [{"ModelName": m, "InstanceType": "ml.g5.2xlarge"} for m in models]})


def record(previous: str | None, changed_at: datetime | None, rejected: frozenset[str] = frozenset()) -> ComponentSpec:
    return ComponentSpec(
        endpoint="churn-prod",
        component="ic",
        spec=spec("now-model"),
        digest="d-now",
        seen_at=T0.isoformat(),
        previous=previous,
        previous_digest="d-before" if previous else None,
        changed_at=changed_at.isoformat() if changed_at else None,
        rejected=rejected,
    )


def test_the_specification_before_a_change_is_kept_for_the_window_then_not() -> None:
    changed = record(spec("before-model"), T0)
    assert put_back([changed], T0 + WINDOW, WINDOW) == {"now-model", "before-model"}
    assert put_back([changed], T0 + WINDOW + timedelta(seconds=1), WINDOW) == {"now-model"}


def test_a_specification_rolled_back_from_is_never_put_back_so_its_models_are_not_kept() -> None:
    assert put_back([record(spec("before-model"), T0, frozenset({"d-before"}))], T0, WINDOW) == {"now-model"}


def test_every_model_of_a_component_of_several_specifications_is_kept() -> None:
    assert put_back([record(spec("a-model", "b-model"), T0)], T0, WINDOW) == {"now-model", "a-model", "b-model"}


def test_a_specification_before_with_no_time_of_change_is_kept() -> None:
    assert put_back([record(spec("before-model"), None)], T0 + timedelta(days=400), WINDOW) == {
        "now-model",
        "before-model",
    }


def created(kind: str, name: str, at: datetime, used: datetime | None = None) -> Created:
    return Created("churn-prod", kind, name, at.isoformat(), used.isoformat() if used else None)


def test_a_resource_used_again_is_due_only_a_retention_after_its_last_use() -> None:
    """A package deployed again reuses its model's name: the retention counts from then."""
    model = created("model", "churn-3-model-aaaa1111", T0 - timedelta(days=40), T0 - timedelta(days=10))
    assert due([model], T0, RETENTION) == []
    assert due([model], T0 + timedelta(days=20) - timedelta(seconds=1), RETENTION) == []
    assert due([model], T0 + timedelta(days=20), RETENTION) == [model]


def test_an_item_without_a_time_of_use_counts_from_its_creation() -> None:
    """Items tracked before used_at was kept; and a used_at before created_at counts for nothing."""
    old = created("model", "churn-2-model-bbbb2222", T0 - timedelta(days=30))
    odd = created("model", "churn-1-model-cccc3333", T0 - timedelta(days=10), T0 - timedelta(days=40))
    assert due([old, odd], T0, RETENTION) == [old]
    assert due([old, odd], T0 + timedelta(days=20), RETENTION) == [old, odd]


def test_configs_come_first_then_the_oldest() -> None:
    model = created("model", "churn-2-model-bbbb2222", T0 - timedelta(days=50))
    newer = created("config", "churn-prod-final-2222", T0 - timedelta(days=40), T0 - timedelta(days=31))
    older = created("config", "churn-prod-canary-1111", T0 - timedelta(days=45))
    assert due([model, newer, older], T0, RETENTION) == [older, newer, model]
