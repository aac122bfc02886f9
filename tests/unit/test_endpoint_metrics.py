"""Pure parts of ComputeMetrics: windows and the arithmetic, against hand-computed values."""

from datetime import UTC, datetime, timedelta

import pytest

from model_medic.measure.endpoint_metrics import Sums, complete, derive, window_for


def test_window_is_the_last_whole_period_before_the_scheduled_time() -> None:
    for scheduled in ("2026-11-22T10:05:00", "2026-11-22T10:05:59", "2026-11-22T10:09:59"):
        window = window_for(datetime.fromisoformat(scheduled).replace(tzinfo=UTC), timedelta(minutes=5))
        assert (window.start, window.end) == (
            datetime(2026, 11, 22, 10, 0, tzinfo=UTC),
            datetime(2026, 11, 22, 10, 5, tzinfo=UTC),
        )
        assert window.period == 300


@pytest.mark.parametrize(
    ("scheduled", "lag", "start"),
    [
        ("10:07:00", 2, "10:00"),  # ended 2 minutes ago: computed now
        ("10:06:00", 2, "09:55"),  # ended 1 minute ago: the period before it
        ("10:05:00", 2, "09:55"),
        ("10:09:59", 2, "10:00"),
        ("10:10:00", 5, "10:00"),
        ("10:05:00", 0, "10:00"),
    ],
)
def test_the_window_ended_at_least_the_lag_before_the_scheduled_time(scheduled: str, lag: int, start: str) -> None:
    at = datetime.fromisoformat(f"2026-11-22T{scheduled}+00:00")
    window = window_for(at, timedelta(minutes=5), timedelta(minutes=lag))
    assert window.start == datetime.fromisoformat(f"2026-11-22T{start}:00+00:00")
    assert window.end - window.start == timedelta(minutes=5)
    assert at - window.end >= timedelta(minutes=lag)


def test_a_window_is_complete_when_every_metric_it_saw_has_moved_past_it() -> None:
    seen = sums(invocations=10)
    seen.seen = {"Invocations", "ModelLatency"}
    assert complete(seen, {"Invocations", "ModelLatency", "OverheadLatency"})
    assert not complete(seen, {"Invocations"})  # ModelLatency's last minute may still be coming
    assert not complete(seen, set())  # traffic stopped, or the window's end is late: wait once
    assert complete(Sums(), set())  # idle in the window: nothing to wait for


def sums(**values: float) -> Sums:
    s = Sums()
    for key, value in values.items():
        setattr(s, key, value)
    return s


def test_total_latency_is_in_milliseconds_from_microseconds() -> None:
    s = sums(model_latency_sum=400_000, model_latency_count=2, overhead_latency_sum=60_000, overhead_latency_count=2)
    assert s.total_latency_ms() == pytest.approx(230.0)  # (200000 + 30000) us / 1000


def test_no_invocations_means_no_error_rate_not_zero() -> None:
    assert sums(invocations=0, errors_5xx=0).error_rate_percent() is None
    assert sums(invocations=200, errors_4xx=3, errors_5xx=1).error_rate_percent() == pytest.approx(2.0)


def test_the_endpoint_weights_variants_by_their_sample_counts() -> None:
    data = derive(
        {
            ("churn", "primary"): sums(
                model_latency_sum=400_000,
                model_latency_count=2,
                overhead_latency_sum=60_000,
                overhead_latency_count=2,
                invocations=1000,
                errors_4xx=10,
                errors_5xx=15,
            ),
            ("churn", "canary"): sums(
                model_latency_sum=500_000,
                model_latency_count=1,
                overhead_latency_sum=50_000,
                overhead_latency_count=1,
                invocations=100,
                errors_5xx=20,
            ),
        }
    )
    found = {(d.metric, d.variant): d.value for d in data}
    assert found[("TotalLatency", "primary")] == pytest.approx(230.0)
    assert found[("TotalLatency", "canary")] == pytest.approx(550.0)
    assert found[("TotalLatency", None)] == pytest.approx((900_000 / 3 + 110_000 / 3) / 1000)
    assert found[("ErrorRate", "primary")] == pytest.approx(2.5)
    assert found[("ErrorRate", "canary")] == pytest.approx(20.0)
    assert found[("ErrorRate", None)] == pytest.approx(45 / 1100 * 100)
    assert {d.unit for d in data if d.metric == "TotalLatency"} == {"Milliseconds"}
    assert {d.unit for d in data if d.metric == "ErrorRate"} == {"Percent"}


def test_a_variant_without_latency_samples_has_no_total_latency() -> None:
    data = derive({("churn", "AllTraffic"): sums(invocations=10, model_latency_count=0)})
    assert [(d.metric, d.variant) for d in data] == [("ErrorRate", "AllTraffic"), ("ErrorRate", None)]
