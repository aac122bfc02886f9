"""`model-medic status` and `explain` against moto: a stack found by its name (CloudFormation, the
functions' own settings from Lambda, their schedules from EventBridge), incidents and rollouts
driven by the real handlers, read back without a single write."""

import json
import re
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
import time_machine

from localcloud.moto_extensions import reset_simulation, set_update_seconds
from model_medic.status import cli
from model_medic.store.episodes import Episode
from model_medic.store.table import Table
from tests.conftest import REGION, AwsCalls, Stack, load_event, load_handler, make_endpoint
from tests.functional import test_promote_canary as canary
from tests.functional.test_endpoint_policy import tag
from tests.functional.test_scale_up import DELIVERED, OPENED, deliver, ok_at, scale_up_alarms, sweep

ENDPOINT, OTHER = "churn-prod", "fraud-prod"
STACK = "model-medic"
SCALE_UP = {
    "MAX_INSTANCE_COUNT": "4",
    "SCALE_STEP": "1",
    "SCALE_UP_COOLDOWN_MINUTES": "10",
    "SCALE_UP_VERIFY_MINUTES": "15",
    "SCALE_BACK_AFTER_MINUTES": "15",
    "POWERTOOLS_SERVICE_NAME": "scale-up",
}
RETRAINING = {
    "PIPELINE_NAME": "churn-retraining",
    "PIPELINE_PARAMETERS": "{}",
    "RETRAIN_COOLDOWN_HOURS": "24",
    "POWERTOOLS_SERVICE_NAME": "start-retraining",
}
ROLLBACK = {
    "CANARY_VARIANT": "canary",
    "REJECT_MODEL_PACKAGES": "false",
    "ROLLBACK_COOLDOWN_MINUTES": "30",
    "POWERTOOLS_SERVICE_NAME": "rollback-model",
}
# Each action function as the template declares it: its own variables and its sweep's schedule.
FUNCTIONS = {
    "ScaleUpFunction": (SCALE_UP, "rate(5 minutes)"),
    "StartRetrainingFunction": (RETRAINING, "rate(5 minutes)"),
    "RollbackModelFunction": (ROLLBACK, "rate(5 minutes)"),
    "PromoteCanaryFunction": (canary.SETTINGS, "rate(10 minutes)"),
}
ANSI = re.compile(r"\033\[[0-9;]*m")


def deploy(stack: Stack, name: str = STACK) -> None:
    """A CloudFormation stack in moto holding the four action functions (each with the stack's
    variables and its own) and the schedules that sweep them, pointing at the test's ledger."""
    resources: dict[str, Any] = {
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            },
        }
    }
    common = stack.env(MONITORED_ENDPOINTS=f"{ENDPOINT},{OTHER}")
    for function, (own, schedule) in FUNCTIONS.items():
        resources[function] = {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Runtime": "python3.13",
                "Handler": "app.lambda_handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"ZipFile": "def lambda_handler(event, context):\n    return {}\n"},
                "Environment": {"Variables": {**common, **own}},
            },
        }
        resources[f"{function}Sweep"] = {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "ScheduleExpression": schedule,
                "Targets": [{"Id": "sweep", "Arn": {"Fn::GetAtt": [function, "Arn"]}}],
            },
        }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=name, TemplateBody=json.dumps({"Resources": resources})
    )


def status(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # what the handlers printed before
    code = cli.main([*argv, "--stack", STACK])
    out, err = capsys.readouterr()
    return code, out, err


def as_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = status(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def column(lines: list[str], header: str, name: str) -> list[str]:
    """Each line's text from where the header's column `name` starts."""
    start = header.index(name)
    return [line[start:] for line in lines]


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(OPENED, tick=False) as traveller:
        yield traveller


@pytest.fixture
def scale_up(stack: Stack, clock: time_machine.Traveller, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """ScaleUpFunction (test_scale_up's settings), deployed in the stack; endpoint changes take 2 minutes."""
    for name, value in SCALE_UP.items():
        monkeypatch.setenv(name, value)
    deploy(stack)
    make_endpoint(ENDPOINT, {"primary": {"count": 2, "weight": 0.9}, "canary": {"count": 1, "weight": 0.1}})
    make_endpoint(OTHER)
    scale_up_alarms({"HighLatency": "ALARM"})
    reset_simulation()
    set_update_seconds(120)
    yield load_handler("scale_up")
    reset_simulation()


def recover(scale_up: Any, clock: time_machine.Traveller) -> tuple[dict[str, Any], datetime]:
    """A latency incident: one step of two changes, each InService, then the alarm OK at 10:08."""
    [acted] = deliver(scale_up, clock, load_event("scale_up/high_latency_alarm.json"))
    for minute in (3, 6):
        sweep(scale_up, clock, OPENED + timedelta(minutes=minute))
    recovered = OPENED + timedelta(minutes=8)
    deliver(scale_up, clock, ok_at(recovered), at=recovered)
    return acted, recovered


def test_status_shows_the_open_incident_its_step_in_flight_and_when_it_is_looked_at_again(
    scale_up: Any, stack: Stack, clock: time_machine.Traveller, capsys: pytest.CaptureFixture[str]
) -> None:
    [acted] = deliver(scale_up, clock, load_event("scale_up/high_latency_alarm.json"))
    assert acted["result"] == "acted"
    now = OPENED + timedelta(minutes=1)
    shown = as_json(capsys, "status", "--at", now.isoformat())
    assert shown["stack"] | {"functions": None} == {
        "name": STACK,
        "status": "CREATE_COMPLETE",
        "region": REGION,
        "at": now.isoformat(),
        "mode": "enforce",
        "mode_why": "stack parameter",
        "kill_switch": stack.mode_parameter,
        "functions": None,
    }
    assert [(unit, schedule) for unit, _, schedule in shown["stack"]["functions"]] == [
        ("rollback", "rate(5 minutes)"),
        ("rollout", "rate(10 minutes)"),
        ("scale-up", "rate(5 minutes)"),
        ("start-retraining", "rate(5 minutes)"),
    ]
    churn, fraud = shown["endpoints"]
    assert (churn["name"], churn["status"], churn["scope"]) == (ENDPOINT, "Updating", "named in EndpointNames")
    assert (fraud["name"], fraud["status"], fraud["incidents"], fraud["actions"]) == (OTHER, "InService", [], [])
    [incident] = churn["incidents"]
    assert incident["id"] == acted["incident"]
    assert incident["short_id"] == acted["incident"].rsplit("#", 1)[1]
    assert (incident["action"], incident["state"], incident["alarm_name"]) == (
        "scale-up",
        "waiting",
        f"{ENDPOINT}-HighLatency",
    )
    step = incident["in_flight"]
    assert step["changes"] == ["primary instance-count 2 -> 3", "canary instance-count 1 -> 2"]
    assert (step["done"], step["called"]) == (0, True)  # the primary's change is Updating
    assert incident["next_evaluation"] == (now + timedelta(minutes=5)).isoformat()  # the sweep's rate
    assert incident["held_until"] == (DELIVERED + timedelta(minutes=10)).isoformat()  # the cool-down
    assert incident["held"].startswith("scale-up is cooling down until")
    assert incident["verify_until"] is None
    [told] = churn["actions"]
    assert (told["action"], told["result"], told["incident"]) == ("scale-up", "acted", incident["short_id"])


def test_the_text_reads_like_kubectl_get_aligned_and_coloured_only_on_a_terminal(
    scale_up: Any,
    stack: Stack,
    clock: time_machine.Traveller,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deliver(scale_up, clock, load_event("scale_up/high_latency_alarm.json"))
    at = (OPENED + timedelta(minutes=1)).isoformat()
    code, out, _ = status(capsys, "status", "--at", at)
    assert code == 0
    assert "\033[" not in out  # captured output is no terminal: no colour
    lines = out.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("ENDPOINT  ")))
    table = lines[header : header + 3]
    assert [line.split()[0] for line in table] == ["ENDPOINT", ENDPOINT, OTHER]
    assert [c.split()[0] for c in column(table, table[0], "STATUS")] == ["STATUS", "Updating", "InService"]
    assert [c.split()[0] for c in column(table, table[0], "MODE ")] == ["MODE", "enforce", "enforce"]
    start = lines.index("INCIDENTS (open)")
    incidents = lines[start + 1 : start + 3]
    assert [c.split()[0] for c in column(incidents, incidents[0], "STATE")] == ["STATE", "waiting"]
    assert [c.split()[0] for c in column(incidents, incidents[0], "NEXT EVAL")] == ["NEXT", "10:06"]
    assert [c.split()[0] for c in column(incidents, incidents[0], "NO STEP BEFORE")] == ["NO", "10:10"]
    assert all(line == line.rstrip() for line in lines)
    # On a terminal: the same text with colour around the words that matter; NO_COLOR: none.
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    _, painted, _ = status(capsys, "status", "--at", at)
    assert "\033[33mwaiting\033[0m" in painted
    assert ANSI.sub("", painted) == out
    monkeypatch.setenv("NO_COLOR", "1")
    assert status(capsys, "status", "--at", at)[1] == out


def test_colour_needs_a_terminal_and_no_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal:
        def __init__(self, tty: bool) -> None:
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert cli.coloured(Terminal(True)) is True  # type: ignore[arg-type]
    assert cli.coloured(Terminal(False)) is False  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli.coloured(Terminal(True)) is False  # type: ignore[arg-type]


def test_mode_kill_switch_and_tags_say_where_each_endpoints_mode_and_policy_come_from(
    scale_up: Any, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    tag(
        OTHER,
        **{
            "model-medic:automation-mode": "off",
            "model-medic:max-instance-count": "3",
            "model-medic:scale-step": "2",  # the stack's ScaleStep is 1: a tag may only lower it
            "model-medic:colour": "blue",
        },
    )
    shown = as_json(capsys, "status", "--at", OPENED.isoformat())
    churn, fraud = shown["endpoints"]
    assert (churn["mode"], churn["mode_why"]) == ("enforce", "stack parameter")
    assert (fraud["mode"], fraud["mode_why"]) == ("off", f"endpoint {OTHER}'s tag")
    assert fraud["policy"]["applied"] == [
        {"key": "model-medic:automation-mode", "value": "off"},
        {"key": "model-medic:max-instance-count", "value": "3"},
    ]
    refused = {(r["key"], r["value"]): r["reason"] for r in fraud["policy"]["refused"]}
    assert set(refused) == {("model-medic:colour", "blue"), ("model-medic:scale-step", "2")}
    assert refused[("model-medic:scale-step", "2")].startswith("it would raise the stack's ScaleStep (1) to 2")
    assert refused[("model-medic:colour", "blue")].startswith("unknown key")
    # The kill switch bounds every endpoint: at dry-run no endpoint does more.
    stack.set_mode("dry-run")
    shown = as_json(capsys, "status", "--at", OPENED.isoformat())
    assert (shown["stack"]["mode"], shown["stack"]["mode_why"]) == ("dry-run", f"SSM {stack.mode_parameter}")
    churn, fraud = shown["endpoints"]
    assert (churn["mode"], fraud["mode"]) == ("dry-run", "off")
    assert fraud["mode_why"] == f"endpoint {OTHER}'s tag (under SSM {stack.mode_parameter})"


def test_explain_tells_the_whole_story_of_an_incident_named_by_its_digest(
    scale_up: Any, stack: Stack, clock: time_machine.Traveller, capsys: pytest.CaptureFixture[str]
) -> None:
    acted, recovered = recover(scale_up, clock)
    digest = acted["incident"].rsplit("#", 1)[1]
    now = OPENED + timedelta(minutes=9)
    story = as_json(capsys, "explain", digest[:8], "--at", now.isoformat())
    incident = story["incident"]
    assert (incident["id"], incident["state"], incident["outcome"]) == (acted["incident"], "recovered", "recovered")
    assert incident["next_evaluation"] is None  # closed: nothing more to look at
    assert [e["what"] for e in incident["timeline"]] == [
        "detected",
        "action",
        "in-service",
        "action",
        "in-service",
        "recovered",
    ]
    [step] = story["steps"]
    assert (step["number"], step["done"]) == (1, 2)
    assert step["changes"] == ["primary instance-count 2 -> 3", "canary instance-count 1 -> 2"]
    # Every decision of the incident (two recorded in the same second come in their keys' order).
    assert sorted((d["at"], d["result"], d["gate"]) for d in story["decisions"]) == [
        (DELIVERED.isoformat(), "acted", "-"),
        (DELIVERED.isoformat(), "skipped", "waiting"),
        ((OPENED + timedelta(minutes=3)).isoformat(), "skipped", "waiting"),
        ((OPENED + timedelta(minutes=6)).isoformat(), "skipped", "verifying"),
        (recovered.isoformat(), "recovered", "-"),
    ]
    assert {(m["about"], m["channel"]) for m in story["messages"]} == {
        ("step-1", "SNS"),
        ("step-1", "EventBridge"),
        ("recovered", "SNS"),
        ("recovered", "EventBridge"),
    }
    code, out, _ = status(capsys, "explain", digest, "--at", now.isoformat())
    assert code == 0
    assert f"Incident  {digest}  scale-up on {ENDPOINT}" in out
    assert "MESSAGES (told once)" in out


def test_explain_at_a_time_before_the_incident_opened_shows_it_without_its_decisions(
    scale_up: Any, stack: Stack, clock: time_machine.Traveller, capsys: pytest.CaptureFixture[str]
) -> None:
    # An --at before the opening (or a laptop's clock behind Lambda's) made the decisions' query a
    # BETWEEN with its bounds out of order, which DynamoDB refuses (the local cloud too).
    [acted] = deliver(scale_up, clock, load_event("scale_up/high_latency_alarm.json"))
    story = as_json(capsys, "explain", acted["incident"], "--at", (OPENED - timedelta(hours=1)).isoformat())
    assert story["incident"]["id"] == acted["incident"]
    assert story["decisions"] == []  # none was made by then
    assert as_json(capsys, "explain", acted["incident"], "--at", DELIVERED.isoformat())["decisions"]


def test_status_of_one_endpoint_shows_every_incident_of_the_day_with_its_timeline_and_every_decision(
    scale_up: Any, stack: Stack, clock: time_machine.Traveller, capsys: pytest.CaptureFixture[str]
) -> None:
    recover(scale_up, clock)
    now = (OPENED + timedelta(minutes=30)).isoformat()
    shown = as_json(capsys, "status", ENDPOINT, "--at", now)
    assert shown["detail"] is True
    [endpoint] = shown["endpoints"]
    [incident] = endpoint["incidents"]  # closed, within the day: shown with its timeline
    assert incident["closed_at"] is not None
    assert incident["timeline"][0]["what"] == "detected"
    assert [a["result"] for a in endpoint["actions"]][-1] == "acted"  # newest first: the first decision last
    code, out, _ = status(capsys, "status", ENDPOINT, "--at", now)
    assert code == 0
    assert f"TIMELINE scale-up {incident['short_id']} ({ENDPOINT}-HighLatency)" in out
    # The overview shows only what is open.
    assert as_json(capsys, "status", "--at", now)["endpoints"][0]["incidents"] == []
    # A name typed in another case is the endpoint as SageMaker spells it (names are case-insensitive).
    assert as_json(capsys, "status", ENDPOINT.upper(), "--at", now)["endpoints"] == shown["endpoints"]


def test_status_and_explain_write_nothing(
    scale_up: Any, stack: Stack, clock: time_machine.Traveller, capsys: pytest.CaptureFixture[str], aws_calls: AwsCalls
) -> None:
    [acted] = deliver(scale_up, clock, load_event("scale_up/high_latency_alarm.json"))
    tag(OTHER, **{"model-medic:scale-step": "2"})  # a refused tag: Policies would tell it, status only shows it
    stack.drain("info")
    aws_calls.made.clear()
    as_json(capsys, "status", "--at", OPENED.isoformat())
    as_json(capsys, "status", ENDPOINT, "--at", OPENED.isoformat())
    as_json(capsys, "explain", acted["incident"], "--at", OPENED.isoformat())
    assert {service for service, _ in aws_calls.made} >= {"cloudformation", "lambda", "events", "dynamodb", "ssm"}
    assert aws_calls.mutating() == []
    assert stack.drain("info") == []
    assert stack.drain("critical") == []


def test_an_endpoint_that_does_not_exist_or_is_out_of_scope_is_shown_as_it_is(
    scale_up: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    make_endpoint("legacy-batch")
    [legacy] = as_json(capsys, "status", "legacy-batch", "--at", OPENED.isoformat())["endpoints"]
    assert (legacy["status"], legacy["problem"]) == ("InService", None)
    assert legacy["scope"] == "not in scope: endpoint legacy-batch is not in scope (not named in EndpointNames)"
    [ghost] = as_json(capsys, "status", "ghost-prod", "--at", OPENED.isoformat())["endpoints"]
    assert ghost["status"] == "missing"
    assert ghost["problem"].startswith("ValidationException: ")
    code, out, _ = status(capsys, "status", "ghost-prod", "--at", OPENED.isoformat())
    assert code == 0
    assert "Endpoint  ghost-prod  missing  (not in scope: " in out


def test_a_stack_that_is_not_there_is_said_plainly(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["status", "--stack", "nope"])
    _, err = capsys.readouterr()
    assert code == 1
    assert err.startswith("model-medic: stack nope: ValidationError:")


def test_an_incident_that_is_not_there_is_said_plainly(scale_up: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = status(capsys, "explain", "0123456789abcdef")
    assert (code, out) == (1, "")
    assert err == f"model-medic: no incident 0123456789abcdef on the endpoints in scope of stack {STACK}\n"


def test_the_default_stack_is_samconfigs(tmp_path: Any) -> None:
    assert cli.default_stack(tmp_path) == "model-medic"
    (tmp_path / "samconfig.toml").write_text('version = 0.1\n[default.global.parameters]\nstack_name = "mm-dev"\n')
    assert cli.default_stack(tmp_path) == "mm-dev"
    (tmp_path / "samconfig.toml").write_text("not toml = = =")
    assert cli.default_stack(tmp_path) == "model-medic"


def test_options_go_before_or_after_the_command() -> None:
    before = cli.parser().parse_args(["--stack", "a", "--json", "status", "x"])
    after = cli.parser().parse_args(["status", "x", "--stack", "a", "--json"])
    plain = cli.parser().parse_args(["--stack", "a", "status"])
    assert (before.stack, before.json, before.endpoint) == ("a", True, "x")
    assert (after.stack, after.json, after.endpoint) == ("a", True, "x")
    assert (plain.stack, plain.json, plain.endpoint) == ("a", False, None)


# --- a rollout -------------------------------------------------------------------------------

T0 = canary.T0


@pytest.fixture
def rollout(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Any:
    """PromoteCanaryFunction (test_promote_canary's settings) and an operator's canary at 5 % with traffic."""
    for name, value in canary.SETTINGS.items():
        monkeypatch.setenv(name, value)
    deploy(stack)
    make_endpoint(OTHER)
    make_endpoint(ENDPOINT, {"primary": {"count": 4, "weight": 0.95}, "canary": {"count": 1, "weight": 0.05}})
    canary.traffic("primary", T0, 120, per_minute=200)
    canary.traffic("canary", T0, 120, per_minute=60)
    return load_handler("promote_canary")


def test_a_rollout_shows_its_step_share_and_the_judges_last_verdict_per_metric(
    rollout: Any, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    decided = [o for minute in range(10, 50, 10) for o in canary.tick(rollout, T0 + timedelta(minutes=minute))]
    assert [o["result"] for o in decided if o["result"] == "acted"] == ["acted"]  # 5 % -> 10 %
    now = T0 + timedelta(minutes=45)
    [churn, _] = as_json(capsys, "status", "--at", now.isoformat())["endpoints"]
    shown = churn["rollout"]
    assert churn["incidents"] == []  # a rollout is shown as a rollout
    assert (shown["state"], shown["share"], shown["step"], shown["steps"]) == (
        "under way",
        10,
        10,
        [5, 10, 25, 50, 100],
    )
    assert shown["package"] is None  # an operator's canary names no package
    assert shown["verdict"] == "promote"
    assert shown["next_evaluation"] == (now + timedelta(minutes=10)).isoformat()
    assert [m["metric"] for m in shown["metrics"]] == [
        "error rate",
        "latency",
        "p99 latency",
        "error-rate ceiling",
        "latency ceiling",
    ]
    assert {m["finding"] for m in shown["metrics"]} <= {"ok", "undecided", "unavailable"}
    code, out, _ = status(capsys, "status", "--at", now.isoformat())
    assert code == 0
    lines = out.splitlines()
    start = lines.index("THE JUDGE'S LAST VERDICT, PER METRIC")
    findings = lines[start + 1 : start + 7]
    assert [c.split()[0] for c in column(findings, findings[0], "FINDING")] == [
        "FINDING",
        *(m["finding"] for m in shown["metrics"]),
    ]
    story = as_json(capsys, "explain", shown["short_id"], "--at", now.isoformat())
    assert story["rollout"]["share"] == 10
    assert story["steps"][0]["changes"][-1].startswith("canary 5% -> 10%")


def test_a_rollout_stopped_by_an_operators_change_is_said_in_the_reports_words(
    rollout: Any, stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for minute in range(10, 50, 10):
        canary.tick(rollout, T0 + timedelta(minutes=minute))  # 5 % -> 10 %
    canary.operator_sets_canary(0.3)
    [stopped] = canary.tick(rollout, T0 + timedelta(minutes=50))
    assert (stopped["result"], stopped["gate"]) == ("stopped", "changed-outside")
    now = T0 + timedelta(minutes=55)
    [churn] = as_json(capsys, "status", ENDPOINT, "--at", now.isoformat())["endpoints"]
    assert (churn["rollout"]["state"], churn["rollout"]["next_evaluation"]) == ("stopped", None)
    story = as_json(capsys, "explain", churn["rollout"]["short_id"], "--at", now.isoformat())
    assert (story["incident"]["state"], story["incident"]["outcome"]) == ("closed", "stopped")
    assert story["incident"]["timeline"][-1]["what"] == "stopped"
    assert [d["result"] for d in story["decisions"]][-1] == "stopped"
    # The daily report says the same word for the same rollout.
    report, _ = canary.daily_report(monkeypatch)
    [row] = [i for i in report["incidents"] if i["id"] == story["incident"]["id"]]
    assert row["outcome"] == report["canary"]["rollout"]["ended"] == "stopped"


def test_the_clients_follow_region_and_endpoint_url(stack: Stack) -> None:
    """The clients follow --region and --endpoint-url (boto3 reads AWS_DEFAULT_REGION and AWS_ENDPOINT_URL)."""
    import os

    from model_medic.platform import aws

    cli.use_aws("eu-west-1", "http://127.0.0.1:1")
    try:
        client = aws.cloudformation()
        assert client.meta.region_name == "eu-west-1"
        assert client.meta.endpoint_url == "http://127.0.0.1:1"
    finally:
        os.environ["AWS_DEFAULT_REGION"] = REGION
        os.environ.pop("AWS_ENDPOINT_URL", None)
        aws.reset()


def test_status_shows_a_flapping_alarms_open_episode_with_its_count_pages_and_next_reminder(
    scale_up: Any, stack: Stack, clock: time_machine.Traveller, capsys: pytest.CaptureFixture[str]
) -> None:
    # The episode as the pager keeps it (test_paging.py drives one through the handler): the
    # latency alarm met at the ceiling 10 times since 10:00, paged once.
    episode = Episode(
        "scale-up",
        ENDPOINT,
        f"{ENDPOINT}-HighLatency",
        "bound",
        opened_at=OPENED.isoformat(),
        last_seen=(OPENED + timedelta(minutes=54)).isoformat(),
        paged_at=OPENED.isoformat(),
        seen=10,
        holding=frozenset({"incident"}),
    )
    Table(stack.dynamodb, stack.table).put(episode.to_item())
    clock.move_to(OPENED + timedelta(hours=1))
    line = (
        f"flapping: {ENDPOINT} at its bound for {ENDPOINT}-HighLatency (scale-up): 10 ALARM transition(s) "
        "since 10:00, 1 page(s), last met 10:54; next reminder 14:00"
    )
    code, out, _ = status(capsys, "status")
    assert code == 0
    lines = ANSI.sub("", out).splitlines()
    assert lines[lines.index("PAGING EPISODES (open)") + 1] == line
    [churn] = [e for e in as_json(capsys, "status")["endpoints"] if e["name"] == ENDPOINT]
    assert churn["episodes"] == [line]
    _, detail, _ = status(capsys, "status", ENDPOINT)
    assert line in ANSI.sub("", detail)
