"""Per-endpoint policy from tags (`make bench`): what an endpoint's own policy costs.

* One ScaleUpFunction sweep over 100 and 500 endpoints discovered by tag, nothing in ALARM:
  without policy tags, and with three `model-medic:` tags on every endpoint of which one in
  ten is bad (the first sweep tells each bad tag once, a later sweep tells nothing) - the AWS
  calls by operation and the wall time, in moto.
* AlarmManagerFunction with per-endpoint thresholds: a run with nothing to change still
  writes nothing.
* Resolving a policy (`policy.read` + `policy.apply`) in process: a new tag set, and one seen
  before (cached).
"""

import os
import time
from collections import Counter
from typing import Any

import boto3
from moto import mock_aws

from benchmarks.calls import moto_environment, print_runs
from benchmarks.fleet import READERS, SCHEDULED, seed, timed

SIZES = (100, 500)


def tag_fleet(size: int) -> None:
    sagemaker = boto3.client("sagemaker")
    for i in range(size):
        arn = sagemaker.describe_endpoint(EndpointName=f"endpoint-{i:03d}")["EndpointArn"]
        tags = {
            "model-medic:max-instance-count": str(2 + i % 8),
            "model-medic:latency-threshold-ms": str(200 + 10 * (i % 50)),
            "model-medic:scale-step": "two" if i % 10 == 0 else "1",  # one in ten is bad
        }
        sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


def measure(size: int) -> list[tuple[str, Counter[str], float]]:
    from benchmarks.calls import handler
    from model_medic.platform import aws
    from model_medic.platform.settings import load_settings

    rows = []
    with mock_aws():
        aws.reset()
        load_settings.cache_clear()
        os.environ.update(seed(size))
        os.environ["ALARM_WRITES_PER_RUN"] = "10000"
        scale_up, manage_alarms = handler("scale_up"), handler("manage_alarms")

        def sweep() -> Any:
            return scale_up(SCHEDULED, None)

        calls, elapsed, _ = timed(sweep)
        rows.append(("ScaleUp sweep, no policy tags", calls, elapsed))
        tag_fleet(size)
        calls, elapsed, _ = timed(sweep)
        assert calls["Publish"] == size // 10, calls  # each bad tag told once
        rows.append(("ScaleUp sweep, 3 policy tags each, 10 % bad: first", calls, elapsed))
        calls, elapsed, _ = timed(sweep)
        assert calls["Publish"] == 0, calls
        rows.append(("ScaleUp sweep, the same tags again", calls, elapsed))
        if size <= 100:
            timed(lambda: manage_alarms(SCHEDULED, None))
            calls, elapsed, result = timed(lambda: manage_alarms(SCHEDULED, None))
            assert result["reconciled"]["unchanged"] == size * 4, result["reconciled"]  # no canary variant: 4 each
            assert not [op for op in calls if not op.startswith(READERS)], calls
            rows.append(("alarms with per-endpoint thresholds: nothing to change", calls, elapsed))
        aws.reset()
        load_settings.cache_clear()
    return rows


def resolve_cost() -> tuple[float, float]:
    """Microseconds to resolve one endpoint's policy: a tag set never seen, and one seen before."""
    from model_medic.platform.settings import ScaleUpSettings
    from model_medic.policy import tags as policy

    stack = ScaleUpSettings.model_validate(
        {
            "LEDGER_TABLE": "ledger",
            "INFO_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:info",
            "CRITICAL_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:critical",
            "MONITORED_ENDPOINTS": "a",
            "AUTOMATION_MODE": "enforce",
            "MODE_PARAMETER_NAME": "/m",
            "ACTIONS_PER_HOUR": "6",
            "MAX_INSTANCE_COUNT": "4",
            "SCALE_STEP": "1",
            "SCALE_UP_COOLDOWN_MINUTES": "10",
            "SCALE_BACK_AFTER_MINUTES": "15",
        }
    )
    count = 2000
    started = time.perf_counter()
    for i in range(count):
        policy.apply(stack, policy.read({"model-medic:max-instance-count": str(1 + i % 1000), "n": str(i)}))
    new = (time.perf_counter() - started) / count * 1e6
    tags = {"model-medic:max-instance-count": "3", "model-medic:latency-threshold-ms": "300", "team": "ml"}
    started = time.perf_counter()
    for _ in range(count):
        policy.apply(stack, policy.read(tags))
    seen = (time.perf_counter() - started) / count * 1e6
    return new, seen


def main() -> None:
    moto_environment()
    print("Per-endpoint policy from tags: endpoints discovered by tag, in moto\n")
    for size in SIZES:
        print_runs(size, measure(size))
    new, seen = resolve_cost()
    print(f"Resolving one endpoint's policy: {new:.0f} us for a new tag set, {seen:.1f} us for one seen before")


if __name__ == "__main__":
    main()
