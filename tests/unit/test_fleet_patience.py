"""Patience: transient AWS errors asked again with a growing, bounded back-off while the
invocation has time past its reserve; a permanent error raised at once; out of time, OutOfTime."""

from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from model_medic.fleet.patience import RESERVE, OutOfTime, Patience


def error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


def failing(errors: list[Exception]) -> Callable[[], str]:
    """Raises each error in turn, then answers "done"."""

    def request() -> str:
        if errors:
            raise errors.pop(0)
        return "done"

    return request


class Clock:
    def __init__(self, left: float) -> None:
        self.left = left
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.left -= seconds


def test_transient_errors_are_asked_again_with_a_doubling_back_off_capped_at_max_wait() -> None:
    clock = Clock(300.0)
    patience = Patience(lambda: clock.left, first_wait=1.0, max_wait=4.0, sleep=clock.sleep)
    transient = [
        error("Throttling"),
        error("InternalFailure", 500),
        EndpointConnectionError(endpoint_url="x"),
        error("ThrottlingException"),
        error("Any", 503),
    ]
    assert patience.call("PutMetricAlarm", failing(transient)) == "done"
    assert len(clock.waits) == 5
    for wait, full in zip(clock.waits, [1.0, 2.0, 4.0, 4.0, 4.0], strict=True):
        assert full / 2 <= wait <= full  # jittered between half and all of the back-off


@pytest.mark.parametrize("code", ["AccessDenied", "LimitExceeded", "ValidationError", "ResourceNotFound"])
def test_a_permanent_error_is_raised_at_once(code: str) -> None:
    clock = Clock(300.0)
    with pytest.raises(ClientError, match=code):
        Patience(lambda: clock.left, sleep=clock.sleep).call("PutMetricAlarm", failing([error(code, 403)]))
    assert clock.waits == []


def test_out_of_time_is_raised_before_a_wait_would_eat_into_the_reserve() -> None:
    clock = Clock(RESERVE + 10.0)
    patience = Patience(lambda: clock.left, first_wait=4.0, max_wait=16.0, sleep=clock.sleep)
    with pytest.raises(OutOfTime, match=r"DeleteAlarms: still Throttling after \d attempts"):
        patience.call("DeleteAlarms", failing([error("Throttling")] * 100))
    assert clock.left > RESERVE
    assert 1 <= len(clock.waits) <= 3


def test_without_a_clock_the_attempts_are_bounded() -> None:
    clock = Clock(0.0)
    with pytest.raises(OutOfTime, match="after 3 attempts"):
        Patience(None, attempts=3, sleep=clock.sleep).call("GetResources", failing([error("Throttling")] * 10))
    assert len(clock.waits) == 2


def test_has_time_keeps_the_reserve() -> None:
    assert Patience(lambda: RESERVE + 1.0).has_time()
    assert not Patience(lambda: RESERVE + 1.0).has_time(2.0)
    assert Patience(None).has_time(1e9)
