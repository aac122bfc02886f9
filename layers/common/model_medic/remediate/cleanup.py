"""Deleting the endpoint configs and models rollouts created, once nothing may need them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from model_medic.control.loop import ControlLoop
from model_medic.platform import aws
from model_medic.platform.clock import Clock
from model_medic.platform.observability import logger
from model_medic.remediate.rollout.component import described_component, spec_models
from model_medic.store.component_specs import ComponentSpec, ComponentSpecs
from model_medic.store.deployments import Created, Deployments
from model_medic.store.journal import Journal
from model_medic.tell.outcome import Outcome

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.type_defs import InferenceComponentSummaryTypeDef

ACTION = "cleanup"
MAX_DELETES = 20
# A component can name a model only once the model exists, and a model is tracked before it is
# created: a component last changed before the oldest due model was first tracked (created_at)
# names none of them. This much earlier still, for the clocks of Lambda and SageMaker.
CLOCK_SKEW = timedelta(hours=1)


def due(entries: list[Created], now: datetime, retention: timedelta) -> list[Created]:
    """Pure: the tracked resources old enough to go - `retention` since a rollout last tracked
    them (`Created.last_used`: a model a package deployed again uses is young again) - configs
    first (a model goes after its configs)."""
    old = [e for e in entries if e.last_used + retention <= now]
    return sorted(old, key=lambda e: (e.kind != "config", e.created_at, e.name))


def put_back(records: Iterable[ComponentSpec], now: datetime, window: timedelta) -> set[str]:
    """Pure: the models the recorded component specifications name (store/component_specs.py):
    each component's as last seen, and the one before its last change while ComponentRollback may
    put it back - changed within `window` (COMPONENT_CHANGE_HOURS) and never rolled back from."""
    named: set[str] = set()
    for record in records:
        named.update(spec_models(json.loads(record.spec)))
        if record.previous is None or record.previous_digest in record.rejected:
            continue
        if record.changed_at is None or datetime.fromisoformat(record.changed_at) + window >= now:
            named.update(spec_models(json.loads(record.previous)))
    return named


def settled_before(row: InferenceComponentSummaryTypeDef, since: datetime) -> bool:
    """Pure: a listed component InService and last changed before `since`."""
    modified = row.get("LastModifiedTime")
    if row.get("InferenceComponentStatus") != "InService" or not isinstance(modified, datetime):
        return False
    return (modified if modified.tzinfo else modified.replace(tzinfo=UTC)) < since


class ComponentModels:
    """The models inference components may still need: named by a component's specification (any
    endpoint's), possibly by one being changed, or by a specification ComponentRollback may put back."""

    def __init__(self, sagemaker: SageMakerClient, specs: ComponentSpecs, window: timedelta) -> None:
        self._sagemaker = sagemaker
        self._specs = specs
        self._window = window

    def needed(self, due: list[Created], tracked: list[Created], now: datetime) -> set[str]:
        """The models kept for components: the recorded specifications' (one Query), then, while a
        due model is not among them, the components' own (`_named`)."""
        kept = put_back(self._specs.all().values(), now, self._window)
        if all(e.name in kept for e in due):
            return kept
        since = min(datetime.fromisoformat(e.created_at) for e in due) - CLOCK_SKEW
        return kept | self._named(since, tracked)

    def _named(self, since: datetime, tracked: list[Created]) -> set[str]:
        """One paginated ListInferenceComponents of the account, then DescribeInferenceComponent of
        each component changed since `since` or not InService. One not InService keeps every model
        tracked for its endpoint too: DescribeInferenceComponent does not show the specification an
        update moves to (no pending deployment in its answer)."""
        named: set[str] = set()
        for row in self._listed():
            if settled_before(row, since):
                continue  # InService on what it was last given before the due models existed
            described = described_component(self._sagemaker, str(row["InferenceComponentName"]))
            if described is None:
                continue  # gone since it was listed
            named.update(spec_models(described))
            if described.get("InferenceComponentStatus") != "InService":
                endpoint = str(described.get("EndpointName") or row["EndpointName"])
                named.update(e.name for e in tracked if e.kind == "model" and e.endpoint == endpoint)
        return named

    def _listed(self) -> Iterator[InferenceComponentSummaryTypeDef]:
        """The account's components, 100 a page (MaxResults' most; 10 when not asked)."""
        pages = self._sagemaker.get_paginator("list_inference_components").paginate(PaginationConfig={"PageSize": 100})
        for page in pages:
            yield from page.get("InferenceComponents", [])


class Cleanup:
    """Deletes tracked rollout configs and models nothing needs any more."""

    def __init__(
        self,
        sagemaker: SageMakerClient,
        deployments: Deployments,
        journal: Journal,
        retention: timedelta,
        clock: Clock,
        components: ComponentModels,
    ) -> None:
        self._sagemaker = sagemaker
        self._deployments = deployments
        self._journal = journal
        self._retention = retention
        self._clock = clock
        self._components = components

    def sweep(self, enforced: Callable[[str], bool]) -> list[tuple[str, str, str]]:
        """Delete what is due: (endpoint, summary, key) for each resource deleted (or found gone)."""
        now = self._clock()
        entries = self._deployments.created()
        old = [e for e in due(entries, now, self._retention) if enforced(e.endpoint)]
        if not old:
            return []
        young = [e for e in entries if e not in old]
        # A rollout's config serves the endpoint it was made for: those endpoints are read.
        configs = self._needed_configs(sorted({e.endpoint for e in old}))
        configs |= {e.name for e in young if e.kind == "config"}
        done: list[tuple[str, str, str]] = []
        deleted: set[str] = set()
        for entry in [e for e in old if e.kind == "config"]:
            if entry.name not in configs and len(done) < MAX_DELETES and self._gone(entry, entries, now, done):
                deleted.add(entry.name)
        # A model goes only when no config that is left names it (kept, or not deleted this tick),
        # and no inference component needs it (read only for the models that are left).
        left = configs | {e.name for e in old if e.kind == "config" and e.name not in deleted}
        models = self._models_of(left) | {e.name for e in young if e.kind == "model"}
        due_models = [e for e in old if e.kind == "model" and e.name not in models]
        if due_models and len(done) < MAX_DELETES:
            models |= self._components.needed(due_models, entries, now)
        for entry in due_models:
            if entry.name not in models and len(done) < MAX_DELETES:
                self._gone(entry, entries, now, done)
        return done

    def _gone(self, entry: Created, read: list[Created], now: datetime, done: list[tuple[str, str, str]]) -> bool:
        """Delete one tracked resource, unless tracked again since the sweep `read` the ledger; on
        success (or found gone) add it to `done`."""
        name, kind, endpoint = entry.name, entry.kind, entry.endpoint
        if not self._untouched(entry, read) or not self._delete(kind, name):
            return False
        age = (now - datetime.fromisoformat(entry.created_at)).days
        used = (now - entry.last_used).days
        when = f"{age} days ago" + (f", last used by one {used} days ago" if used != age else "")
        why = (
            "no endpoint serves it or would roll back to it"
            if kind == "config"
            else "no endpoint config that is left, no inference component and no specification a component "
            "may be rolled back to names it"
        )
        what = "endpoint config" if kind == "config" else "model"
        summary = f"deleted {what} {name}: created by a rollout {when}, and {why}"
        done.append((endpoint, summary, f"{ACTION}#{kind}#{name}"))
        return True

    def _untouched(self, entry: Created, read: list[Created]) -> bool:
        """Whether the ledger still holds this config's or model's items as the sweep read them,
        read again just before its Delete call (`Deployments.tracked`, one consistent Query). A
        rollout tracks what it will use before its Create call, so one that began to use the name
        since the sweep's read - tracked it again (used_at moved) or for another endpoint (a new
        item) - keeps it; so does an item gone (another clean-up's): a later sweep looks again.

        What remains is a rollout that tracks the name between this read and the Delete call (two
        calls in a row) and finds the resource still there (CreateModel answered "already
        exists", rollout/deploy.py `create_once`). Its next call naming the model is answered
        that the model is not found (CreateEndpointConfig, UpdateInferenceComponent), or its
        update fails; either way a person is told: a ClientError from the change is recorded and
        told once, not retried (control/stepping.py, `Stepping._abandon`, `Endings.permanent`);
        a failed update read back (rollback.py `config_observation`, rollout/component.py
        `roll_observation`) escalates the incident (`Endings.failed`). The package's next
        rollout creates the model again."""
        known = {e for e in read if (e.kind, e.name) == (entry.kind, entry.name)}
        again = set(self._deployments.tracked(entry.kind, entry.name))
        if again == known:
            return True
        logger.info("kept: tracked again since the clean-up read the ledger", kind=entry.kind, resource=entry.name)
        return False

    def first_today(self) -> bool:
        """True for the first caller of the day (UTC): the clean-up runs once a day."""
        now = self._clock()
        return self._journal.mark(ACTION, f"{ACTION}#{now.date().isoformat()}", now, keep=timedelta(days=2))

    def forget(self, endpoint: str, key: str) -> None:
        _, kind, name = key.split("#", 2)
        aws.persist(lambda: self._deployments.forget_created(endpoint, kind, name))

    def _needed_configs(self, endpoints: list[str]) -> set[str]:
        """The configs the endpoints serve, are being updated to, or would roll back to."""
        needed: set[str] = set()
        for endpoint in endpoints:
            try:
                described = self._sagemaker.describe_endpoint(EndpointName=endpoint)
            except ClientError as error:
                if aws.is_transient(error) or aws.error_code(error) != "ValidationException":
                    raise  # only "Could not find endpoint" means there is nothing to keep for it
                continue
            current = described.get("EndpointConfigName")
            pending = (described.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")
            needed |= {c for c in (current, pending) if c}
            if current:
                target = self._deployments.previous_config(endpoint, current)
                if target:
                    needed.add(target)
        return needed

    def _models_of(self, configs: set[str]) -> set[str]:
        """The models the configs name (production and shadow variants)."""
        models: set[str] = set()
        for config in sorted(configs):
            try:
                described = self._sagemaker.describe_endpoint_config(EndpointConfigName=config)
            except ClientError as error:
                if aws.is_transient(error) or aws.error_code(error) != "ValidationException":
                    raise
                continue  # gone: it needs no model
            for variant in [*described.get("ProductionVariants", []), *described.get("ShadowProductionVariants", [])]:
                if variant.get("ModelName"):
                    models.add(str(variant["ModelName"]))
        return models

    def _delete(self, kind: str, name: str) -> bool:
        """Delete one config or model; True also when it is gone already. False: refused (told
        in the log; kept tracked, so a later tick tries again)."""
        try:
            if kind == "config":
                self._sagemaker.delete_endpoint_config(EndpointConfigName=name)
            else:
                self._sagemaker.delete_model(ModelName=name)
        except ClientError as error:
            if aws.is_transient(error):
                raise
            message = str(error.response.get("Error", {}).get("Message", ""))
            if aws.error_code(error) == "ValidationException" and "Could not find" in message:
                return True
            logger.warning("delete refused", kind=kind, resource=name, error=aws.error_code(error), detail=message)
            return False
        return True


def clean(loop: ControlLoop, cleanup: Cleanup) -> list[Outcome]:
    """The day's clean-up, on its first tick: each deletion recorded and told once, then forgotten."""
    if not cleanup.first_today():
        return []
    outcomes = []
    for endpoint, summary, key in cleanup.sweep(lambda e: loop.current_mode(e) == "enforce"):
        outcomes.append(loop.acted(ACTION, endpoint, summary, key, "enforce"))
        cleanup.forget(endpoint, key)
    return outcomes
