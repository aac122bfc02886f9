"""What watching a fleet costs (`make bench`): the stack's scheduled functions run an hour in moto; calls, bill."""

import argparse
import io
import json
import logging
import os
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import time_machine
from botocore.client import BaseClient
from moto import mock_aws

from benchmarks import cost_world, prices
from benchmarks.calls import ROOT, moto_environment
from benchmarks.cost_world import Fleet, Scheduled
from localcloud import template
from localcloud.queues import QueuePoller

START = datetime(2026, 11, 23, 10, tzinfo=UTC)  # the simulated hour: 10:00-11:00 UTC, a Monday
SIZES = (1, 100, 500)


@dataclass
class Usage:
    """What one function did in the hour (or, for a daily one, in its day's run)."""

    invocations: int = 0
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    seconds: float = 0.0  # wall time in moto
    in_aws: float = 0.0  # of which with an AWS call (to moto) in flight
    log_bytes: int = 0  # what it wrote to its log (Powertools' logs and EMF metrics)
    metrics_requested: int = 0  # GetMetricData's metric queries
    custom_metrics: set[tuple[str, str, str]] = field(default_factory=set)  # namespace, name, dimensions
    read_units: float = 0.0  # DynamoDB's
    write_units: float = 0.0
    events: int = 0  # custom events put on EventBridge
    publishes: int = 0  # SNS messages


@dataclass(frozen=True)
class Context:
    """The parts of a Lambda context Powertools and the functions read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def tick(at: datetime) -> dict[str, Any]:
    """An EventBridge Scheduled Event at `at`."""
    return {
        "version": "0",
        "id": "bench",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": at.isoformat().replace("+00:00", "Z"),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/bench"],
        "detail": {},
    }


@contextmanager
def recording(usage: Usage) -> Iterator[None]:
    """Every botocore call inside the block into `usage`, and the wall time during which at least
    one was in flight (the measure jobs read S3 from several threads)."""
    original = BaseClient._make_api_call
    lock, flight = threading.Lock(), {"calls": 0, "since": 0.0}

    def record(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        service = client.meta.service_model.service_name
        with lock:
            usage.calls[(service, operation)] += 1
            if flight["calls"] == 0:
                flight["since"] = time.perf_counter()
            flight["calls"] += 1
        try:
            response = original(client, operation, params)
        finally:
            with lock:
                flight["calls"] -= 1
                if flight["calls"] == 0:
                    usage.in_aws += time.perf_counter() - flight["since"]
        with lock:
            measure(usage, service, operation, params, response)
        return response

    BaseClient._make_api_call = record
    try:
        yield
    finally:
        BaseClient._make_api_call = original


def measure(usage: Usage, service: str, operation: str, params: dict[str, Any], response: dict[str, Any]) -> None:
    """What a request is billed by: metrics requested, metrics published, request units, events."""
    if (service, operation) == ("cloudwatch", "GetMetricData"):
        usage.metrics_requested += sum("MetricStat" in q for q in params.get("MetricDataQueries", []))
    elif (service, operation) == ("cloudwatch", "PutMetricData"):
        for datum in params.get("MetricData", []):
            dimensions = json.dumps(sorted((d["Name"], d["Value"]) for d in datum.get("Dimensions", [])))
            usage.custom_metrics.add((params["Namespace"], datum["MetricName"], dimensions))
    elif service == "dynamodb":
        read, write = prices.request_units(operation, params, response)
        usage.read_units, usage.write_units = usage.read_units + read, usage.write_units + write
    elif (service, operation) == ("events", "PutEvents"):
        usage.events += len(params.get("Entries", []))
    elif (service, operation) == ("sns", "Publish"):
        usage.publishes += 1


@contextmanager
def logs(usage: Usage) -> Iterator[None]:
    """The function's log output (Powertools' logger and its EMF metrics) counted, not shown;
    EMF metrics are custom metrics too."""
    from model_medic.platform.observability import logger

    buffer = io.StringIO()
    handler = logger.registered_handler
    if not isinstance(handler, logging.StreamHandler):
        raise TypeError(f"Powertools' logger writes through {type(handler).__name__}, not a stream handler")
    previous = handler.setStream(buffer)
    try:
        with redirect_stdout(buffer):
            yield
    finally:
        handler.setStream(previous)
        text = buffer.getvalue()
        usage.log_bytes += len(text.encode())
        for line in text.splitlines():
            usage.custom_metrics.update(prices.emf_metrics(line))


def invoke(
    function: Scheduled, env: dict[str, str], at: datetime, usage: Usage | None = None, queue: str | None = None
) -> dict[str, Any]:
    """One scheduled run of the function's handler at `at` (the clock moved there), recorded; a
    data job's run then has its `queue` delivered to it batch by batch, as its event source
    mapping does (the mapping's ReceiveMessage and DeleteMessageBatch are counted with it)."""
    os.environ.clear()
    os.environ.update(env)
    load_settings_cache_clear()
    handler = lambda_handler(function.folder)
    context = Context(function.logical_id, function.memory_mb)
    spent = usage or Usage()
    poller = QueuePoller(boto3.client("sqs"), queue, function.batch_size) if queue else None

    def delivered(event: dict[str, Any]) -> tuple[Any, str | None]:
        spent.invocations += 1
        return handler(event, context), None

    with time_machine.travel(at, tick=True), recording(spent), logs(spent):
        started = time.perf_counter()
        result = handler(tick(at), context)
        deliveries = poller.drain(delivered) if poller else []
        spent.seconds += time.perf_counter() - started
    spent.invocations += 1
    failed = [d.failed for d in deliveries if d.failed]
    if failed:
        raise RuntimeError(f"{function.logical_id}: messages failed at {at}: {failed[:3]}")
    return result


_HANDLERS: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]] = {}


def lambda_handler(folder: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """functions/<folder>/app.py's handler, decorators and all (its logs and EMF metrics are part of the bill)."""
    import importlib.util

    if folder not in _HANDLERS:
        spec = importlib.util.spec_from_file_location(f"cost_{folder}_app", ROOT / "functions" / folder / "app.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _HANDLERS[folder] = module.lambda_handler
    return _HANDLERS[folder]


def load_settings_cache_clear() -> None:
    from model_medic.platform.settings import load_settings

    load_settings.cache_clear()


def warm_up(
    functions: list[Scheduled], envs: dict[str, dict[str, str]], queues: dict[str, str], fleet: Fleet, start: datetime
) -> None:
    """Before the hour: the alarms created (as many runs as the write budget takes), the sweeps
    run once (the first enters the ledger's rosters), and the prediction index the hourly
    quality runs before would have left; so that the hour is a steady one."""
    manager = next(f for f in functions if f.logical_id == "AlarmManagerFunction")
    while invoke(manager, envs[manager.logical_id], start - timedelta(minutes=15))["reconciled"]["pending"]:
        pass
    for function in functions:
        if len(function.minutes) > 1 and function is not manager:
            at = start - timedelta(minutes=60 - function.minutes[-1])
            invoke(function, envs[function.logical_id], at, queue=queues.get(function.logical_id))
    if "ComputeModelQualityFunction" in envs:
        cost_world.seed_prediction_index(envs["ComputeModelQualityFunction"], fleet, start)


def run_hour(fleet: Fleet, start: datetime = START) -> tuple[dict[str, Usage], dict[str, int]]:
    """The hour from `start` for a fleet in a fresh moto account: each function's usage (a daily
    one: its run that day), and what the fleet holds (alarms, dashboards)."""
    from localcloud.moto_extensions import install_all
    from model_medic.platform import aws

    install_all()  # what AWS does and moto does not (localcloud/moto_extensions.py), as in the tests
    main = template.load()
    values = template.parameter_values(main, cost_world.parameters())
    functions = cost_world.schedules(main, values)
    saved = dict(os.environ)
    try:
        with mock_aws():
            aws.reset()
            made = {**cost_world.seed(fleet, start), **cost_world.make_queues(functions)}
            queues = {f.logical_id: made[f.queue] for f in functions if f.queue}
            base = {**saved, "ALARM_WRITES_PER_SECOND": "0"}  # moto keeps no quota (AWS: 3 a second)
            envs = {
                f.logical_id: {**base, **cost_world.environment(main, values, f.logical_id, made)} for f in functions
            }
            warm_up(functions, envs, queues, fleet, start)
            usage = {f.logical_id: Usage() for f in functions}
            for at, function in timeline(functions, start):
                invoke(
                    function, envs[function.logical_id], at, usage[function.logical_id], queues.get(function.logical_id)
                )
            held = holdings()
            aws.reset()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        load_settings_cache_clear()
    return usage, held


def timeline(functions: list[Scheduled], start: datetime) -> list[tuple[datetime, Scheduled]]:
    """Every run of the hour in time order; a daily function once, at its time of the day
    after `start`'s (its run is counted per day)."""
    runs = []
    for function in functions:
        if function.daily_hour is None:
            runs += [(start + timedelta(minutes=m), function) for m in function.minutes]
        else:
            day = (start + timedelta(days=1)).replace(hour=function.daily_hour, minute=function.minutes[0])
            runs.append((day, function))
    return sorted(runs, key=lambda run: (run[0], run[1].logical_id))


def holdings() -> dict[str, int]:
    cloudwatch = boto3.client("cloudwatch")
    alarms = sum(len(p["MetricAlarms"]) for p in cloudwatch.get_paginator("describe_alarms").paginate())
    dashboards = len(cloudwatch.list_dashboards()["DashboardEntries"])
    return {"alarms": alarms, "dashboards": dashboards}


def calls_table(results: dict[int, dict[str, Usage]], functions: list[Scheduled]) -> list[str]:
    """AWS calls an hour by function and API (a daily function's: a day), a column per fleet size."""
    daily = {f.logical_id for f in functions if f.daily_hour is not None}
    sizes = sorted(results)
    rows = sorted({(name, api) for usage in results.values() for name, u in usage.items() for api in u.calls})
    lines = [
        "| function | API | " + " | ".join(f"{n} endpoint{'s' * (n > 1)}" for n in sizes) + " |",
        "|---|---|" + "---:|" * len(sizes),
    ]
    for name, (service, operation) in rows:
        shown = f"{name} (a day)" if name in daily else name
        counts = " | ".join(str(results[n][name].calls[(service, operation)]) for n in sizes)
        lines.append(f"| {shown} | {service} {operation} | {counts} |")
    totals = " | ".join(
        f"{sum(sum(u.calls.values()) for name, u in results[n].items() if name not in daily):,}" for n in sizes
    )
    lines.append(f"| **all, an hour** (the daily report apart) | | {totals} |")
    return lines


def function_table(results: dict[int, dict[str, Usage]], functions: list[Scheduled]) -> list[str]:
    """AWS calls an hour by function (the daily report: a day), a column per fleet size, and
    the two APIs each calls most at the largest size."""
    sizes = sorted(results)
    lines = [
        "| function | runs | " + " | ".join(f"{n} endpoint{'s' * (n > 1)}" for n in sizes) + " | mostly |",
        "|---|---|" + "---:|" * len(sizes) + "---|",
    ]
    for function in sorted(functions, key=lambda f: (f.daily_hour is not None, f.logical_id)):
        name = function.logical_id
        runs = "1 a day" if function.daily_hour is not None else f"{len(function.minutes)} an hour"
        counts = " | ".join(f"{sum(results[n][name].calls.values()):,}" for n in sizes)
        top = results[sizes[-1]][name].calls.most_common(2)
        mostly = ", ".join(f"{operation} {count:,}" for (_, operation), count in top)
        lines.append(f"| {name} | {runs} | {counts} | {mostly} |")
    return lines


def bill_table(
    results: dict[int, dict[str, Usage]], held: dict[int, dict[str, int]], functions: list[Scheduled]
) -> list[str]:
    """The month's bill by line, a column per fleet size."""
    daily = {f.logical_id for f in functions if f.daily_hour is not None}
    memory = {f.logical_id: f.memory_mb for f in functions}
    sizes = sorted(results)
    bills = {n: prices.monthly_bill(results[n], held[n], daily, memory) for n in sizes}
    lines = [
        "| USD a month (quantity) | " + " | ".join(f"{n} endpoint{'s' * (n > 1)}" for n in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for index, line in enumerate(bills[sizes[0]]):
        cells = [bills[n][index] for n in sizes]
        lines.append(
            f"| {line.name} | " + " | ".join(f"{c.usd:,.2f} ({_quantity(c.quantity)} {c.unit})" for c in cells) + " |"
        )
    totals = [sum(line.usd for line in bills[n]) for n in sizes]
    lines.append("| **total** | " + " | ".join(f"**{t:,.2f}**" for t in totals) + " |")
    lines.append("| an endpoint | " + " | ".join(f"{t / n:,.2f}" for t, n in zip(totals, sizes, strict=True)) + " |")
    return lines


def _quantity(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.2g}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="endpoints, comma-separated")
    sizes = [int(n) for n in parser.parse_args(argv).sizes.split(",")]
    moto_environment()
    # A run that adds no metric of its own says so once (Powertools); in Lambda it is one log line.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    print(__doc__.splitlines()[0], "\n")
    print(prices.ASSUMPTIONS, "\n")
    results, held = {}, {}
    for size in sizes:
        started = time.perf_counter()
        results[size], held[size] = run_hour(Fleet(size))
        print(f"{size} endpoints: simulated in {time.perf_counter() - started:.0f} s; held {held[size]}")
    functions = stack_schedules()
    print("\nAWS calls an hour, by function (in moto)\n")
    print("\n".join(function_table(results, functions)))
    print("\nAWS calls an hour, by function and API (in moto)\n")
    print("\n".join(calls_table(results, functions)))
    print("\nThe month's bill (us-east-1 prices, no free tier)\n")
    print("\n".join(bill_table(results, held, functions)))


def stack_schedules() -> list[Scheduled]:
    """The scheduled functions of the stack the benchmark deploys (`cost_world.parameters`)."""
    main_template = template.load()
    return cost_world.schedules(main_template, template.parameter_values(main_template, cost_world.parameters()))


if __name__ == "__main__":
    main()
