"""The demo's scenarios: each drives the local cloud through the template's real wiring,
checks the effect it expects in the endpoint, and writes a readable timeline."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from localcloud import world
from localcloud.cloud import ROOT, Invocation, LocalCloud

ENDPOINT = world.ENDPOINT


@dataclass
class Timeline:
    """What happened, what the service decided, what changed - as lines for a person."""

    cloud: LocalCloud
    now: datetime
    lines: list[str] = field(default_factory=list)

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now

    def say(self, text: str) -> None:
        self.lines.append(f"  {self.now:%H:%M}  {text}")

    def decisions(self, invocations: list[Invocation]) -> list[dict[str, Any]]:
        outcomes = []
        for invocation in invocations:
            retried = f" (after {invocation.attempts} attempts)" if invocation.attempts > 1 else ""
            if invocation.error:
                parked = ", parked in the dead-letter queue" if invocation.parked else ""
                self.lines.append(f"         {invocation.function}: ERROR {invocation.error}{retried}{parked}")
            for outcome in invocation.outcomes:
                gate = f" [{outcome['gate']}]" if outcome.get("gate") else ""
                if outcome.get("replayed"):
                    self.lines.append(
                        f"         {invocation.function}: duplicate delivery - answered from the idempotency "
                        f"record ({outcome['action']} {outcome['result']} earlier), nothing done again"
                    )
                    outcomes.append(outcome)
                    continue
                self.lines.append(
                    f"         {invocation.function}: {outcome['action']} {outcome['result']}{gate}"
                    f" - {outcome['reason']}{retried}"
                )
                outcomes.append(outcome)
            if not invocation.outcomes and not invocation.error:
                published = invocation.result.get("published") if isinstance(invocation.result, dict) else None
                what = f"published {published} metric data" if published is not None else "nothing to do"
                self.lines.append(f"         {invocation.function}: {what}")
        return outcomes

    def endpoint(self) -> dict[str, Any]:
        state = world.endpoint_state(self.cloud)
        parts = [f"{name} {v['instances']} inst, weight {v['weight']:g}" for name, v in state["variants"].items()]
        floor = state["primary_min_capacity"]
        self.lines.append(
            f"         endpoint {ENDPOINT}: {state['config']} | {' | '.join(parts)} | primary floor {floor}"
        )
        return state

    def alarm(self, name: str, state: str) -> list[dict[str, Any]]:
        self.say(f"{name} -> {state}")
        return self.decisions(self.cloud.alarm(name, state, self.now))

    def tick(self, function: str) -> list[dict[str, Any]]:
        self.say(f"schedule tick -> {function}")
        return self.decisions(self.cloud.tick(function, self.now))


@dataclass
class Result:
    number: int
    title: str
    status: str  # passed, failed, pending
    lines: list[str]
    why: str = ""


Scenario = Callable[[Timeline], None]


class Expectation(AssertionError):
    """A scenario's expected effect did not happen."""


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise Expectation(what)


def latency_scale_up_and_back(t: Timeline) -> None:
    t.tick("ComputeMetricsFunction")
    latency = _latest(t, "TotalLatency")
    t.lines.append(f"         Custom/SageMaker TotalLatency {ENDPOINT}: {latency:.0f} ms (threshold 1000)")
    expect(latency > 1000, "the computed total latency crosses the HighLatency threshold")
    before = t.endpoint()
    decided = t.alarm(f"{ENDPOINT}-HighLatency", "ALARM")
    during = t.endpoint()
    expect([d["result"] for d in decided] == ["acted"], "the scale-up acted once")
    expect(during["primary_min_capacity"] == before["primary_min_capacity"] + 1, "the primary's floor rose by one")
    expect(during["primary_min_capacity"] <= 4, "the floor stayed within MaxInstanceCount")
    t.advance(timedelta(minutes=10))
    t.alarm(f"{ENDPOINT}-HighLatency", "OK")
    expect(t.endpoint()["primary_min_capacity"] == during["primary_min_capacity"], "capacity kept in the cool-down")
    t.advance(timedelta(minutes=20))
    decided = t.tick("ScaleUpFunction")
    after = t.endpoint()
    expect([d["action"] for d in decided if d["result"] == "acted"] == ["scale-back"], "the sweep gave it back")
    expect(after["primary_min_capacity"] == before["primary_min_capacity"], "the floor is back where it was")
    expect(after["variants"] == before["variants"], "the variants are back where they were")


def _latest(t: Timeline, metric: str) -> float:
    """The newest value ComputeMetricsFunction published for the endpoint."""
    result = t.cloud.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "Custom/SageMaker",
                        "MetricName": metric,
                        "Dimensions": [{"Name": "EndpointName", "Value": ENDPOINT}],
                    },
                    "Period": 300,
                    "Stat": "Average",
                },
            }
        ],
        StartTime=t.now - timedelta(minutes=15),
        EndTime=t.now,
        ScanBy="TimestampDescending",
    )["MetricDataResults"][0]
    return float(result["Values"][0]) if result["Values"] else 0.0


def duplicate_error_alarm_scales_once(t: Timeline) -> None:
    before = t.endpoint()
    t.say(f"{ENDPOINT}-HighErrorRate -> ALARM (SNS delivers it twice)")
    first = t.cloud.alarm(f"{ENDPOINT}-HighErrorRate", "ALARM", t.now)
    decided = t.decisions(first)
    scale_up = next(i for i in first if i.function == "ScaleUpFunction")
    t.advance(timedelta(seconds=40))
    t.say("the same SNS message again")
    again = t.decisions([t.cloud.invoke_async("ScaleUpFunction", scale_up.event, t.now)])
    during = t.endpoint()
    expect([d["result"] for d in decided] == ["acted"], "the first delivery acted")
    expect(bool(again) and again[0]["replayed"] is True, "the second delivery was answered from the idempotency record")
    expect(during["primary_min_capacity"] == before["primary_min_capacity"] + 1, "exactly one scale-up")
    t.advance(timedelta(minutes=5))
    t.alarm(f"{ENDPOINT}-HighErrorRate", "OK")
    t.advance(timedelta(minutes=20))
    t.tick("ScaleUpFunction")
    expect(t.endpoint()["primary_min_capacity"] == before["primary_min_capacity"], "capacity given back")


def drift_starts_retraining_once(t: Timeline) -> None:
    sagemaker = t.cloud.client("sagemaker")

    def executions() -> list[dict[str, Any]]:
        return sagemaker.list_pipeline_executions(PipelineName=world.PIPELINE)["PipelineExecutionSummaries"]  # type: ignore[no-any-return]

    t.say("operator: build the drift baseline from training.csv")
    built = t.cloud.invoke("ComputeDriftFunction", {"build-baseline": {"endpoint": ENDPOINT}}, t.now)
    expect(built.error is None, f"the baseline was built ({built.error})")
    t.lines.append(f"         ComputeDriftFunction: baseline {built.result['baseline']}")
    hour = t.now.replace(minute=0, second=0, microsecond=0)
    world.capture(t.cloud, hour, 1200, mean_age=40, mix=(30, 40, 30))
    t.say("an hour of captured requests: customers younger (age 45 -> 40), plan mix 50/30/20 -> 30/40/30")
    t.advance(timedelta(minutes=65 - t.now.minute))
    t.say("schedule tick -> ComputeDriftFunction")
    [measured] = t.cloud.tick("ComputeDriftFunction", t.now)
    expect(measured.error is None, f"drift was measured ({measured.error})")
    [churn] = measured.result["endpoints"]
    expect(churn["status"] == "published", f"drift was published ({churn['status']})")
    drifts = ", ".join(f"{name} PSI {v['psi']:.2f}" for name, v in churn["features"].items())
    t.lines.append(f"         ComputeDriftFunction: {churn['rows']} rows; {drifts}; MaxFeatureDrift published")
    expect(max(v["psi"] for v in churn["features"].values()) > 0.2, "the drift crosses the 0.2 alarm threshold")
    decided = t.alarm(f"{ENDPOINT}-DataDrift", "ALARM")
    runs = executions()
    t.lines.append(
        f"         pipeline {world.PIPELINE}: {len(runs)} execution(s), "
        f"{runs[0]['PipelineExecutionStatus'] if runs else '-'}"
    )
    expect([d["result"] for d in decided] == ["acted"], "retraining started")
    expect("drift in age" in decided[0]["reason"], "the pipeline is told which feature drifted")
    expect(len(runs) == 1 and runs[0]["PipelineExecutionStatus"] == "Executing", "one execution, running")
    t.advance(timedelta(hours=1))
    t.cloud.client("cloudwatch").set_alarm_state(AlarmName=f"{ENDPOINT}-DataDrift", StateValue="OK", StateReason="demo")
    t.advance(timedelta(minutes=30))
    decided = t.alarm(f"{ENDPOINT}-DataDrift", "ALARM")
    runs = executions()
    t.lines.append(f"         pipeline {world.PIPELINE}: {len(runs)} execution(s)")
    expect([d["result"] for d in decided] == ["skipped"], "the second drift alarm started nothing")
    expect(len(runs) == 1, "still one execution")


def accuracy_drop_rolls_back(t: Timeline) -> None:
    before = t.endpoint()
    expect(before["variants"]["canary"]["weight"] > 0, "the canary takes traffic before")
    hour = t.now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    # The canary (10% of traffic) is right 30% of the time; the primary holds at 80%.
    key = world.predictions_and_labels(t.cloud, hour, {"primary": (900, 0.8), "canary": (100, 0.3)})
    t.say(f"labels for the last hour's predictions land in s3://{world.DATA_BUCKET}/{key}")
    [quality] = t.cloud.object_created(world.DATA_BUCKET, key, t.now)
    expect(quality.error is None, f"model quality was computed ({quality.error})")
    [result] = quality.result["results"]
    published = result["published"]
    accuracy = published["(endpoint)"]["accuracy"]
    t.lines.append(
        f"         ComputeModelQualityFunction: {result['matched']} labels joined; accuracy {accuracy:.2f} "
        f"(primary {published['primary']['accuracy']:.2f}, canary {published['canary']['accuracy']:.2f})"
    )
    expect(accuracy < 0.8, "the accuracy published is below the 0.8 alarm threshold")
    decided = t.alarm(f"{ENDPOINT}-ModelAccuracyDrop", "ALARM")
    after = t.endpoint()
    expect([d["result"] for d in decided] == ["acted"], "the rollback acted")
    expect(after["variants"]["canary"]["weight"] == 0, "the canary serves no traffic")
    expect(after["variants"]["primary"]["weight"] == before["variants"]["primary"]["weight"], "primary unchanged")


def _share(state: dict[str, Any]) -> float:
    canary, primary = state["variants"]["canary"]["weight"], state["variants"]["primary"]["weight"]
    return round(canary / (canary + primary) * 100, 1) if canary + primary else 0.0


def healthy_canary_promoted(t: Timeline) -> None:
    world.start_rollout(t.cloud, 0.05)
    t.say("operator: canary churn-v2 gets 5% of the traffic")
    world.traffic(t.cloud, "primary", t.now, 240, per_minute=190, error_rate=0.01)
    world.traffic(t.cloud, "canary", t.now, 240, per_minute=40, error_rate=0.01)
    path = [_share(t.endpoint())]
    for _ in range(20):
        t.advance(timedelta(minutes=10))
        decided = t.tick("PromoteCanaryFunction")
        if any(d["result"] == "acted" for d in decided):
            path.append(_share(t.endpoint()))
        if path[-1] == 100:
            break
    t.lines.append(f"         canary share: {' -> '.join(f'{p:g}%' for p in path)}")
    expect(path == [5, 10, 25, 50, 100], "the canary walked 5 -> 10 -> 25 -> 50 -> 100")
    expect(t.endpoint()["variants"]["primary"]["weight"] == 0, "the primary serves nothing at 100%")


def bad_canary_rolled_back(t: Timeline) -> None:
    world.start_rollout(t.cloud, 0.05)
    t.say("operator: a new canary gets 5% of the traffic; it fails 12% of its requests")
    world.traffic(t.cloud, "primary", t.now, 30, per_minute=190, error_rate=0.01)
    world.traffic(t.cloud, "canary", t.now, 30, per_minute=40, error_rate=0.12)
    t.advance(timedelta(minutes=10))
    decided = t.tick("PromoteCanaryFunction")
    state = t.endpoint()
    expect([d["result"] for d in decided] == ["acted"], "the first evaluation acted")
    expect("roll back" in decided[0]["reason"], "it rolled the canary back")
    expect(state["variants"]["canary"]["weight"] == 0, "the canary serves no traffic")


def dry_run_at_run_time(t: Timeline) -> None:
    parameter = t.cloud.stack.outputs["AutomationModeParameterName"]
    ssm = t.cloud.client("ssm")
    ssm.put_parameter(Name=parameter, Value="dry-run", Type="String", Overwrite=True)
    t.say(f"operator: ssm put-parameter {parameter} = dry-run")
    before = t.endpoint()
    try:
        decided = t.alarm(f"{ENDPOINT}-HighLatency", "ALARM")
        after = t.endpoint()
    finally:
        ssm.put_parameter(Name=parameter, Value="inherit", Type="String", Overwrite=True)
    expect([d["result"] for d in decided] == ["dry-run"], "the decision was a dry run")
    expect("min-capacity" in decided[0]["reason"], "it says what it would have done")
    expect(after == before, "nothing changed")
    t.advance(timedelta(minutes=5))
    t.cloud.client("cloudwatch").set_alarm_state(
        AlarmName=f"{ENDPOINT}-HighLatency", StateValue="OK", StateReason="demo"
    )


def daily_report(t: Timeline) -> None:
    t.say("schedule tick -> DailyReportFunction")
    [run] = t.cloud.tick("DailyReportFunction", t.now)
    expect(run.error is None, f"the report was written ({run.error})")
    bucket = t.cloud.stack.outputs["ReportsBucketName"]
    s3 = t.cloud.client("s3")
    folder = ROOT / "out" / "demo-reports"
    folder.mkdir(parents=True, exist_ok=True)
    copied = []
    for written in run.result["written"]:
        for key in (written["html"], written["json"]):
            if not key:
                continue
            target = folder / key.replace("reports/", "").replace("/", "-")
            target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            copied.append((key, target))
    grades = ", ".join(f"{endpoint} {grade}" for endpoint, grade in run.result["grades"].items())
    t.lines.append(f"         DailyReportFunction: {run.result['day']} - grades {grades}")
    for key, path in copied:
        t.lines.append(f"         s3://{bucket}/{key} -> {path}")
    report = json.loads(next(p for _, p in copied if p.suffix == ".json").read_text())
    expect(bool(report["decisions"]), "the report lists the day's decisions")
    expect(any(p.name.startswith("index-") for _, p in copied), "an index of the day was written")


def batched_json_drift_detected(t: Timeline) -> None:
    built = t.cloud.invoke("ComputeDriftFunction", {"build-baseline": {"endpoint": ENDPOINT}}, t.now)
    expect(built.error is None, f"the baseline was built ({built.error})")
    hour = t.now.replace(minute=0, second=0, microsecond=0)
    rows = world.capture_json_batches(t.cloud, hour, requests=120, per_request=10, mean_age=38, mix=(25, 35, 40))
    t.say(
        f'an hour of batched JSON requests ({{"instances": [{{"features": [...]}}, x10]}}): {rows} rows; '
        "customers younger (age 45 -> 38), plan mix 50/30/20 -> 25/35/40"
    )
    t.advance(timedelta(minutes=65 - t.now.minute))
    t.say("schedule tick -> ComputeDriftFunction")
    [measured] = t.cloud.tick("ComputeDriftFunction", t.now)
    expect(measured.error is None, f"drift was measured ({measured.error})")
    [churn] = measured.result["endpoints"]
    drifts = ", ".join(f"{name} PSI {v['psi']:.2f}" for name, v in churn["features"].items())
    t.lines.append(
        f"         ComputeDriftFunction: {churn['status']} - {churn['rows']} rows from {rows // 10} requests; {drifts}"
    )
    expect(churn["status"] == "published", f"drift was published ({churn['status']})")
    expect(churn["rows"] == rows, f"every instance of every batch was read ({churn['rows']} of {rows})")
    expect(max(v["psi"] for v in churn["features"].values()) > 0.2, "the drift crosses the 0.2 alarm threshold")


SCENARIOS: list[tuple[str, Scenario | str]] = [
    (
        "Latency climbs: ComputeMetrics sees it; HighLatency ALARM raises capacity; OK gives it back later",
        latency_scale_up_and_back,
    ),
    ("Error burst, the same alarm delivered twice: exactly one scale-up", duplicate_error_alarm_scales_once),
    (
        "Drift: captured inputs shift, ComputeDrift measures it, retraining starts once; a second alarm starts nothing",
        drift_starts_retraining_once,
    ),
    (
        "Accuracy drop: late labels meet their predictions, accuracy falls, the canary is rolled back",
        accuracy_drop_rolls_back,
    ),
    ("Healthy canary promoted step by step to 100% as schedules tick and time advances", healthy_canary_promoted),
    ("Bad canary rolled back at the first evaluation", bad_canary_rolled_back),
    ("Mode switched to dry-run at run time: the next alarm changes nothing and says why", dry_run_at_run_time),
    ("Daily report: the HTML and JSON land in the bucket and in a local folder", daily_report),
    (
        "Batched JSON traffic (several instances a request, as the built-in algorithms take them): drift detected",
        batched_json_drift_detected,
    ),
]


def run_all(cloud: LocalCloud, start: datetime) -> list[Result]:
    timeline = Timeline(cloud, start)
    timeline.say("SageMaker reports churn-prod-config-1 InService (EventBridge)")
    timeline.decisions(cloud.put_event(_in_service_event(start), start))
    results = []
    for number, (title, scenario) in enumerate(SCENARIOS, start=1):
        timeline.lines = []
        if isinstance(scenario, str):
            results.append(Result(number, title, "pending", [], scenario))
            continue
        try:
            scenario(timeline)
            results.append(Result(number, title, "passed", timeline.lines))
        except Expectation as missed:
            results.append(Result(number, title, "failed", timeline.lines, f"expected: {missed}"))
        timeline.advance(timedelta(hours=2))  # each scenario starts clear of the last one's cool-downs
    return results


def _in_service_event(at: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "demo-endpoint-in-service",
        "detail-type": "SageMaker Endpoint State Change",
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{ENDPOINT}"],
        "detail": json.loads(
            json.dumps(
                {
                    "EndpointName": ENDPOINT,
                    "EndpointConfigName": f"{ENDPOINT}-config-1",
                    "EndpointStatus": "IN_SERVICE",
                }
            )
        ),
    }
