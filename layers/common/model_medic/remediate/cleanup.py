"""Deleting the endpoint configs and models rollouts created, once nothing may need them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from model_medic.control.loop import ControlLoop
from model_medic.platform import aws
from model_medic.platform.clock import Clock
from model_medic.platform.observability import logger
from model_medic.store.deployments import Created, Deployments
from model_medic.store.journal import Journal
from model_medic.tell.outcome import Outcome

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

ACTION = "cleanup"
MAX_DELETES = 20


def due(entries: list[Created], now: datetime, retention: timedelta) -> list[Created]:
    """Pure: the tracked resources old enough to go, configs first (a model goes after its configs)."""
    old = [e for e in entries if datetime.fromisoformat(e.created_at) + retention <= now]
    return sorted(old, key=lambda e: (e.kind != "config", e.created_at, e.name))


class Cleanup:
    """Deletes tracked rollout configs and models nothing needs any more."""

    def __init__(
        self, sagemaker: SageMakerClient, deployments: Deployments, journal: Journal, retention: timedelta, clock: Clock
    ) -> None:
        self._sagemaker = sagemaker
        self._deployments = deployments
        self._journal = journal
        self._retention = retention
        self._clock = clock

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
            if entry.name not in configs and len(done) < MAX_DELETES and self._gone(entry, now, done):
                deleted.add(entry.name)
        # A model goes only when no config that is left names it (kept, or not deleted this tick).
        left = configs | {e.name for e in old if e.kind == "config" and e.name not in deleted}
        models = self._models_of(left) | {e.name for e in young if e.kind == "model"}
        for entry in [e for e in old if e.kind == "model"]:
            if entry.name not in models and len(done) < MAX_DELETES:
                self._gone(entry, now, done)
        return done

    def _gone(self, entry: Created, now: datetime, done: list[tuple[str, str, str]]) -> bool:
        """Delete one tracked resource; on success (or found gone) add it to `done`."""
        name, kind, endpoint = entry.name, entry.kind, entry.endpoint
        if not self._delete(kind, name):
            return False
        age = (now - datetime.fromisoformat(entry.created_at)).days
        why = (
            "no endpoint serves it or would roll back to it"
            if kind == "config"
            else "no endpoint config that is left names it"
        )
        what = "endpoint config" if kind == "config" else "model"
        summary = f"deleted {what} {name}: created by a rollout {age} days ago, and {why}"
        done.append((endpoint, summary, f"{ACTION}#{kind}#{name}"))
        return True

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
            logger.warning("delete refused", kind=kind, name=name, error=aws.error_code(error), message=message)
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
