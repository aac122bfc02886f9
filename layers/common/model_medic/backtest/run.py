"""`model-medic backtest` end to end: read the account, simulate apart from it, replay, read the simulation back."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlparse

from model_medic.backtest.replay import ATTEMPTS, Replay, Replayed, Travel
from model_medic.backtest.source import Source
from model_medic.backtest.view import (
    Backtest,
    CapacityRow,
    SeedRow,
    Window,
    compare,
    held,
    incident_row,
    told,
)
from model_medic.backtest.world import ACCOUNT, LEDGER, World, build
from model_medic.platform import aws
from model_medic.status.deployed import StatusError
from model_medic.store.incidents import Incidents
from model_medic.store.journal import Journal
from model_medic.store.table import Table

if TYPE_CHECKING:
    from model_medic.backtest.snapshot import EndpointSeed, Snapshot, Subscription
    from model_medic.status.deployed import DeployedStack
    from model_medic.store.incidents import Incident
    from model_medic.store.journal import Decision

# What to install when the simulation's packages are missing (pyproject.toml, optional-dependencies).
NEEDS = (
    "model-medic backtest simulates the endpoint with moto and moves the clock with time-machine: "
    "pip install 'model-medic[backtest]' (in a clone of the repository, `make install` has them)"
)
# The environment of the simulation: moto's account apart from any real one, and no configured
# endpoint (an AWS_ENDPOINT_URL, or a profile's endpoint_url) that would take a call past moto.
_SIMULATED = {
    "MOTO_ACCOUNT_ID": ACCOUNT,
    "AWS_ACCESS_KEY_ID": "backtest",
    "AWS_SECRET_ACCESS_KEY": "backtest",  # moto's, not a secret
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
}
_NOT_SIMULATED = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL")
_SLACK = timedelta(seconds=1)


def backtest(stack: DeployedStack, start: datetime, end: datetime, update_minutes: float) -> Backtest:
    """What `stack` would have done in enforce over [start, end]: its account read (read-only), then
    its alarm history replayed against a simulation of its endpoints in this process."""
    if end <= start:
        raise StatusError(f"the window is empty: --since {start.isoformat()} is not before --until {end.isoformat()}")
    packages()  # before anything is read: say what is missing at once
    every = {unit: f.every for unit, f in stack.functions.items() if f.every is not None}
    snapshot = Source(stack, start, end).snapshot()
    every = {unit: period for unit, period in every.items() if unit in snapshot.units}
    with simulation(snapshot.stack.region, update_minutes * 60) as travel:
        world = build(snapshot, travel)
        replayed = Replay(snapshot, world, travel, matches).run(every)
        with travel(end):
            simulated = _read_back(snapshot)
    return assemble(snapshot, world, replayed, simulated, every, update_minutes)


@contextmanager
def simulation(region: str, update_seconds: float) -> Iterator[Travel]:
    """moto in this process, in an account of its own, with Model Medic's moto extensions (endpoint
    changes take `update_seconds`); every client made anew inside it, and again after it."""
    time_machine, mock_aws, extensions = packages()

    def travel(at: datetime) -> AbstractContextManager[Any]:
        return cast("AbstractContextManager[Any]", time_machine.travel(at, tick=False))

    saved = (extensions.update_seconds(), extensions.range_moves_capacity())
    with _environment({**_SIMULATED, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}), mock_aws():
        extensions.install_all()
        extensions.set_update_seconds(update_seconds)
        extensions.set_range_moves_capacity(True)  # what AWS does (moto_extensions.py)
        aws.reset(session=True)
        try:
            _isolated()
            yield travel
        finally:
            extensions.set_update_seconds(saved[0])
            extensions.set_range_moves_capacity(saved[1])
            aws.reset(session=True)


def packages() -> tuple[Any, Any, Any]:
    """time-machine, moto's `mock_aws` and the local cloud's moto extensions, or what to install."""
    try:
        import time_machine
        from moto import mock_aws

        from localcloud import moto_extensions
    except ModuleNotFoundError as error:
        raise StatusError(f"{NEEDS} (missing: {error.name})") from None
    return time_machine, mock_aws, moto_extensions


def _isolated() -> None:
    """Refuse to simulate unless every call goes to moto: a client at a configured endpoint would not."""
    for client in (aws.sagemaker(), aws.cloudwatch(), aws.dynamodb(), aws.sns()):
        url = client.meta.endpoint_url
        if not aws_own(url):
            raise StatusError(f"the simulation would call {url}, not moto: nothing was simulated")


def aws_own(url: str) -> bool:
    """Whether `url` is one of AWS's own endpoints, which moto answers in place of AWS: https, on
    the DNS suffix of one of botocore's partitions (amazonaws.com; amazonaws.com.cn in China;
    ...). A configured endpoint (a local cloud, a proxy) is not, nor a dual-stack one (api.aws):
    moto lets calls to those through."""
    import botocore.session

    parsed = urlparse(url)
    host = (parsed.hostname or "").lower()
    partitions = botocore.session.get_session().get_data("endpoints").get("partitions", [])
    suffixes = {str(p["dnsSuffix"]) for p in partitions if p.get("dnsSuffix")}
    return parsed.scheme == "https" and any(host.endswith(f".{suffix}") for suffix in suffixes)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in [*values, *_NOT_SIMULATED, *_service_endpoints()]}
    for key in saved:
        os.environ.pop(key, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _service_endpoints() -> list[str]:
    """AWS_ENDPOINT_URL_<SERVICE> variables (service-specific endpoints, botocore's configuration)."""
    return [key for key in os.environ if key.startswith("AWS_ENDPOINT_URL_")]


def matches(subscription: Subscription, body: str) -> bool:
    """Whether an alarm message (no message attributes) passes the subscription's filter policy,
    by moto's matcher of SNS filter policies (the local cloud's too)."""
    if subscription.filter_policy is None:
        return True
    from moto.sns.utils import FilterPolicyMatcher

    return bool(FilterPolicyMatcher(subscription.filter_policy, subscription.scope).matches(None, body))


def _read_back(snapshot: Snapshot) -> tuple[list[Incident], list[Decision]]:
    """The simulated ledger's incidents and decisions of the window."""
    retention = timedelta(days=snapshot.stack.settings.ledger_retention_days)
    incidents = Incidents(Table(aws.dynamodb(), LEDGER), retention)
    journal = Journal(Table(aws.dynamodb(), LEDGER), retention)
    found: list[Incident] = []
    decisions: list[Decision] = []
    for seed in snapshot.endpoints:
        found += incidents.of(seed.name)
        decisions += journal.decisions(seed.name, snapshot.start, snapshot.end + _SLACK)
    return found, decisions


def assemble(
    snapshot: Snapshot,
    world: World,
    replayed: Replayed,
    simulated: tuple[list[Incident], list[Decision]],
    every: dict[str, timedelta],
    update_minutes: float,
) -> Backtest:
    """Pure: the backtest's view of what was read, simulated and replayed."""
    window = Window(
        stack=snapshot.stack.name,
        region=snapshot.stack.region,
        start=snapshot.start.isoformat(),
        end=snapshot.end.isoformat(),
        units=snapshot.units,
        sweeps=tuple((unit, int(period.total_seconds() // 60)) for unit, period in sorted(every.items())),
        alarms=len(snapshot.alarms),
        transitions=snapshot.transitions,
        deliveries=replayed.deliveries,
        invocations=sum(replayed.invocations.values()),
        update_minutes=update_minutes,
    )
    recorded = snapshot.recorded
    notes = [
        *snapshot.skipped,
        *(f"parked after {ATTEMPTS} attempts: {p}" for p in replayed.parked),
        *(f"the scaling policy scaled in: {s}" for s in replayed.scaled_in),
        *(f"{u}: no rate schedule found; only its alarms were replayed" for u in snapshot.units if u not in every),
    ]
    return Backtest(
        window=window,
        seeded=tuple(row for seed in snapshot.endpoints for row in _seeded(seed)),
        incidents=tuple(sorted((incident_row(i) for i in simulated[0]), key=lambda r: r.opened_at)),
        actions=told(simulated[1]),
        pages=tuple(replayed.pages),
        capacity=_capacity(snapshot, replayed),
        recorded=tuple(sorted((incident_row(i) for i in recorded.incidents), key=lambda r: r.opened_at)),
        comparison=compare((recorded.incidents, recorded.decisions), simulated),
        notes=tuple(notes),
    )


def _seeded(seed: EndpointSeed) -> list[SeedRow]:
    targets = {t["ResourceId"].rsplit("/", 1)[-1]: t for t in seed.targets}
    rows = []
    for variant in seed.described.get("ProductionVariants", []):
        name = variant["VariantName"]
        target = targets.get(name, {})
        rows.append(
            SeedRow(
                endpoint=seed.name,
                variant=name,
                instances=seed.count(name),
                weight=float(variant.get("CurrentWeight", 0.0)),
                floor=None if not target else int(target["MinCapacity"]),
                ceiling=None if not target else int(target["MaxCapacity"]),
                policy=name in seed.policies,
            )
        )
    return rows


def _capacity(snapshot: Snapshot, replayed: Replayed) -> tuple[CapacityRow, ...]:
    rows = []
    for seed in snapshot.endpoints:
        for variant in seed.described.get("ProductionVariants", []):
            name, start = variant["VariantName"], seed.count(variant["VariantName"])
            if start is None:
                continue
            key = (seed.name, name)
            hours, peak = held(
                replayed.counts.get(key, []), replayed.floors.get(key, []), start, snapshot.start, snapshot.end
            )
            rows.append(CapacityRow(seed.name, name, start, peak, round(hours, 3)))
    return tuple(rows)
