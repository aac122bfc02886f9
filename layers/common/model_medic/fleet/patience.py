"""CloudWatch and tagging calls retried with back-off on transient errors, within the invocation's time."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from model_medic.platform import aws
from model_medic.platform.observability import logger

# Seconds kept back from the invocation's time: to answer CloudFormation (one PUT, `send`'s
# timeout is 30 s) or to raise to Lambda, instead of being cut off by the function's timeout.
RESERVE = 35.0


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


class OutOfTime(Exception):
    """The invocation's time ran out while AWS still answered with transient errors (or with
    work left): raised to Lambda, whose asynchronous retry runs the request again."""


@dataclass(frozen=True)
class Patience:
    """How long to keep asking: back-off from `first_wait` doubling up to `max_wait` seconds
    (each wait jittered between half and all of it), while `time_left()` keeps `reserve`
    seconds; without a clock (no Lambda context), at most `attempts` attempts."""

    time_left: Callable[[], float] | None = None
    reserve: float = RESERVE
    first_wait: float = 0.5
    max_wait: float = 16.0
    attempts: int = 8
    sleep: Callable[[float], None] = _sleep

    def has_time(self, needed: float = 0.0) -> bool:
        """Whether `needed` more seconds of work still leave the reserve."""
        return self.time_left is None or self.time_left() - needed > self.reserve

    def call[T](self, what: str, request: Callable[[], T]) -> T:
        """`request()`, asked again after a transient error (throttling, 5xx, the network)
        while there is time; a permanent error is raised as it is, at once."""
        attempt = 0
        while True:
            try:
                return request()
            except (ClientError, BotoCoreError) as error:
                if not aws.is_transient(error):
                    raise
                self.wait(attempt, what, error)
                attempt += 1

    def wait(self, attempt: int, what: str, error: Exception | str) -> None:
        """Sleep the back-off of `attempt` (0 first), or raise `OutOfTime` when that would eat
        into the reserve, or when the attempts are spent without a clock."""
        full = min(self.max_wait, self.first_wait * 2 ** min(attempt, 30))
        pause = random.uniform(full / 2, full)  # noqa: S311 - jitter spreads retries, it guards no secret
        cause = _cause(error)
        if (self.time_left is None and attempt + 1 >= self.attempts) or not self.has_time(pause):
            raise OutOfTime(f"{what}: still {cause} after {attempt + 1} attempts; out of time, Lambda retries")
        logger.info("transient error; asking again", call=what, error=cause, attempt=attempt + 1, wait=round(pause, 2))
        self.sleep(pause)


def _cause(error: Exception | str) -> str:
    if isinstance(error, ClientError):
        return aws.error_code(error) or str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return error if isinstance(error, str) else type(error).__name__
