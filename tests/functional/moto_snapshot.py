"""A moto world kept once it is built, and put back as it was into a fresh `mock_aws`.

What it keeps: every in-process moto backend in use (each service's accounts and regions) and
the simulation state of our moto extensions (`moto_extensions.simulation_state`: the endpoint
updates in flight, keyed by moto's endpoint objects, and the simulation settings). Both are
copied in one `copy.deepcopy`, so an update still belongs to the copy of its endpoint, and a
model that two backends share stays one object. A snapshot is never handed out itself: each
restore installs a fresh copy of it, so what one run changes cannot reach the next.

What it does not keep, and its caller must: the clock (time_machine), environment variables,
cached settings and clients, and any state a handler module holds.
"""

from __future__ import annotations

import copy
import copyreg
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from moto.core.base_backend import BackendDict
from moto.core.model_instances import model_data
from moto.ssm.models import ParameterDict

from localcloud import moto_extensions as extensions

# What a BackendDict is made with; anything else on one is data (S3's bucket_accounts: the
# account and partition of each bucket name), which moto's reset clears and a restore puts back.
_REGISTRY = frozenset({"backend", "service_name", "_use_boto3_regions", "_additional_regions", "_id"})
_LOCKS = (type(threading.Lock()), type(threading.RLock()))
# defaultdicts whose __init__ takes other arguments than a default factory: defaultdict's own
# reduction would call it with the factory alone, and drop the instance's attributes.
_DEFAULTDICTS = (ParameterDict,)


@dataclass(frozen=True)
class Snapshot:
    state: Any  # (backends, the extensions' simulation state) as `_live` gives them; only ever copied


def take() -> Snapshot:
    """The moto world as it is now. The snapshot's own models are not tracked as moto's: moto's
    reset disposes of every tracked S3 object (closes the file its body is in)."""
    tracked: list[list[Any]] = [
        model.instances_tracked  # type: ignore[attr-defined]
        for service in model_data.values()
        for model in service.values()
    ]
    counts = [len(instances) for instances in tracked]
    snapshot = Snapshot(_copied(_live()))
    for instances, count in zip(tracked, counts, strict=True):
        del instances[count:]  # what the copy added: it appends, in this thread only
    return snapshot


def restore(snapshot: Snapshot) -> None:
    """Make the (fresh, empty) moto world the snapshot's: a copy of it, so the snapshot stays as taken."""
    backends, simulation = _copied(snapshot.state)
    for service, extras, accounts in backends:
        vars(service).update(extras)
        for account, regions in accounts.items():
            specific = service[account]  # made, and the service registered as in use, as moto does
            specific.clear()
            for region, backend in regions.items():
                dict.__setitem__(specific, region, backend)
    extensions.restore_simulation_state(simulation)


def _live() -> tuple[list[tuple[BackendDict[Any], dict[str, Any], dict[str, dict[str, Any]]]], dict[str, Any]]:
    backends = [
        (
            service,
            {name: value for name, value in vars(service).items() if name not in _REGISTRY},
            {account: dict(regions) for account, regions in service.items()},
        )
        for service in BackendDict._instances  # type: ignore[misc]
    ]
    return backends, extensions.simulation_state()


def _copied(state: Any) -> Any:
    """A deep copy of `state` that keeps the services' BackendDicts themselves (they are moto's
    registry, not data) and gives each lock a new, unlocked one."""
    backends, _ = state
    memo: dict[int, Any] = {id(service): service for service, _, _ in backends}
    with _copyable():
        return copy.deepcopy(state, memo)


@contextmanager
def _copyable() -> Iterator[None]:
    """How to copy what `copy` cannot, registered only while copying (pickling a lock still fails
    elsewhere). A lock: a new, unlocked one (nothing holds a moto lock between requests
    in-process); a condition: one on a new lock. One of `_DEFAULTDICTS`: made without its
    __init__, then given its attributes, factory and items."""
    reductions: dict[type, Any] = {kind: _new_lock for kind in _LOCKS}
    reductions[threading.Condition] = _new_condition
    reductions.update({kind: _defaultdict for kind in _DEFAULTDICTS})
    saved = {kind: copyreg.dispatch_table.get(kind) for kind in reductions}
    copyreg.dispatch_table.update(reductions)
    try:
        yield
    finally:
        for kind, before in saved.items():
            if before is None:
                copyreg.dispatch_table.pop(kind, None)
            else:
                copyreg.dispatch_table[kind] = before


def _new_lock(lock: Any) -> tuple[Any, ...]:
    return type(lock), ()


def _new_condition(condition: threading.Condition) -> tuple[Any, ...]:
    """A condition on a copy of its lock (its own attributes are that lock's bound methods)."""
    return threading.Condition, (condition._lock,)  # type: ignore[attr-defined]


def _defaultdict(made: defaultdict[Any, Any]) -> tuple[Any, ...]:
    """The reduction `copy` rebuilds it from: `__new__`, then attributes, factory and items."""
    return (
        copyreg.__newobj__,  # type: ignore[attr-defined]
        (type(made),),
        (vars(made), {"default_factory": made.default_factory}),
        None,
        iter(made.items()),
    )
