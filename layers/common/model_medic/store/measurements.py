"""Measurements remembered between runs: ComputeMetrics's windows and the latest measured drift."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from model_medic.store.table import Table, endpoint_pk, epoch

if TYPE_CHECKING:
    pass

# The partition of ComputeMetrics's window records; its role may touch no other (template.yaml).
METRICS_PK = "METRICS"
# A window's record is needed by the next run (its recomputation) and kept a week for the record.
METRIC_WINDOW_KEEP = timedelta(days=7)
_SETS = ("complete", "pending", "recomputed", "still_incomplete")


@dataclass(frozen=True)
class MetricWindow:
    """What ComputeMetrics computed for one window, and whether its datapoints were complete."""

    start: datetime
    end: datetime
    computed_at: datetime  # the scheduled time of the run that first computed it
    complete: frozenset[str]  # endpoints published then: their datapoints were all in
    pending: frozenset[str]  # endpoints held back then: datapoints may still have been arriving
    published: int  # data published, first computation and recomputation together
    recomputed_at: datetime | None = None  # the scheduled time of the run that recomputed it
    recomputed: frozenset[str] = frozenset()  # the pending endpoints, published by the recomputation
    still_incomplete: frozenset[str] = frozenset()  # of those, the ones still incomplete then

    def to_item(self) -> dict[str, Any]:
        return {
            "pk": METRICS_PK,
            "sk": f"WINDOW#{self.start.isoformat()}",
            "kind": "metrics-window",
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "computed_at": self.computed_at.isoformat(),
            "published": self.published,
            "expiration": epoch(self.end + METRIC_WINDOW_KEEP),
            **{key: getattr(self, key) for key in _SETS},  # an empty set is left out
            "recomputed_at": None if self.recomputed_at is None else self.recomputed_at.isoformat(),
        }

    @classmethod
    def from_item(cls, data: dict[str, Any]) -> MetricWindow:
        recomputed_at = data.get("recomputed_at")
        return cls(
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            computed_at=datetime.fromisoformat(data["computed_at"]),
            complete=frozenset(data.get("complete", ())),
            pending=frozenset(data.get("pending", ())),
            published=int(data["published"]),
            recomputed_at=None if recomputed_at is None else datetime.fromisoformat(recomputed_at),
            recomputed=frozenset(data.get("recomputed", ())),
            still_incomplete=frozenset(data.get("still_incomplete", ())),
        )


@dataclass(frozen=True)
class Drift:
    """The most drifted feature of an endpoint's latest measured hour."""

    endpoint: str
    hour: str
    feature: str
    psi: float

    def to_item(self) -> dict[str, Any]:
        return {
            "pk": endpoint_pk(self.endpoint),
            "sk": "DRIFT#latest",
            "kind": "drift",
            "hour": self.hour,
            "feature": self.feature,
            "psi": Decimal(repr(self.psi)),  # the float's shortest exact text, as a number
        }

    @classmethod
    def from_item(cls, data: dict[str, Any]) -> Drift:
        return cls(data["pk"].removeprefix("ENDPOINT#"), data["hour"], data["feature"], float(data["psi"]))


class Measurements:
    """Metric windows and the latest drift, in the ledger table."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def metric_window(self, start: datetime) -> MetricWindow | None:
        """What was computed for the window that starts at `start`, if it was."""
        item = self._table.get(METRICS_PK, f"WINDOW#{start.isoformat()}")
        return None if item is None else MetricWindow.from_item(item)

    def save_metric_window(self, window: MetricWindow) -> bool:
        """Record a computation of a window; False if another run has computed it meanwhile.

        The first computation may be written again only by a retry of the same run (same
        scheduled time), and the recomputation only once: this is what makes it happen once.
        """
        if window.recomputed_at is None:
            condition = "attribute_not_exists(pk) OR (computed_at = :at AND attribute_not_exists(recomputed_at))"
            values = {":at": window.computed_at.isoformat()}
        else:
            condition = "computed_at = :first AND (attribute_not_exists(recomputed_at) OR recomputed_at = :at)"
            values = {":first": window.computed_at.isoformat(), ":at": window.recomputed_at.isoformat()}
        return self._table.put(window.to_item(), condition=condition, values=values)

    def save_drift(self, endpoint: str, hour: datetime, feature: str, psi: float) -> None:
        """The most drifted feature of the latest measured hour (StartRetraining names it)."""
        self._table.put(Drift(endpoint, hour.isoformat(), feature, psi).to_item())

    def latest_drift(self, endpoint: str) -> Drift | None:
        item = self._table.get(endpoint_pk(endpoint), "DRIFT#latest")
        return None if item is None else Drift.from_item(item)
