"""`model-medic backtest` against the template and the project: it runs the functions' own pipelines,
its alarm messages reach exactly the functions the template's subscriptions send them to, and its
extra packages are an optional extra, imported only when it runs."""

import ast
import json
import re
import sys
import tomllib
from datetime import UTC, datetime

import pytest

from localcloud.template import ROOT
from model_medic.backtest import handlers
from model_medic.backtest.history import Transition, sns_message
from model_medic.backtest.run import matches
from model_medic.backtest.snapshot import Subscription
from tests.template.test_wiring import EXPECTED, Wired, wiring

BACKTEST = ROOT / "layers" / "common" / "model_medic" / "backtest"
AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _body(function: ast.FunctionDef) -> list[str]:
    """A function's statements, `settings = load_settings(...)` left out (the backtest is given them)."""
    kept = [
        statement
        for statement in function.body
        if not (
            isinstance(statement, ast.Assign)
            and isinstance(statement.value, ast.Call)
            and getattr(statement.value.func, "id", "") == "load_settings"
        )
        and not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))  # a docstring
    ]
    return [ast.dump(statement) for statement in kept]


@pytest.mark.parametrize("unit", sorted(handlers.HANDLERS))
def test_each_replayed_pipeline_is_its_functions_handler_statement_for_statement(unit: str) -> None:
    folder = handlers.SOURCES[unit]
    handler = next(
        node
        for node in ast.parse((ROOT / "functions" / folder / "app.py").read_text()).body
        if isinstance(node, ast.FunctionDef) and node.name == "lambda_handler"
    )
    mirrored = next(
        node
        for node in ast.parse((BACKTEST / "handlers.py").read_text()).body
        if isinstance(node, ast.FunctionDef) and node.name == handlers.HANDLERS[unit].__name__
    )
    assert _body(mirrored) == _body(handler)


@pytest.fixture(scope="module", params=["model-medic", "model-monitor"])
def wired(request: pytest.FixtureRequest) -> Wired:
    return wiring(request.param)


def test_the_backtests_alarm_messages_reach_exactly_the_functions_the_template_subscribes(wired: Wired) -> None:
    alarms, subscriptions, _ = wired
    for alarm in alarms:
        suffix = alarm["AlarmName"].split("-prod-")[1]
        described = {**alarm, "AlarmArn": f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{alarm['AlarmName']}"}
        for state, previous in (("ALARM", "OK"), ("OK", "ALARM")):
            change = Transition(alarm["AlarmName"], AT, previous, state, "test", "")
            body = json.dumps(sns_message(described, change, "000000000000", "US East (N. Virginia)"))
            topics = set(alarm.get({"ALARM": "AlarmActions", "OK": "OKActions"}[state], []))
            reached = {
                s["function"]
                for s in subscriptions
                if s["topic"] in topics
                and matches(Subscription("arn", "unit", s["function"], s["policy"], s["scope"]), body)
            }
            assert reached == EXPECTED[(suffix, state)], f"{alarm['AlarmName']} {state}"


def test_its_packages_are_an_optional_extra_pinned_as_the_development_environment_pins_them() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extra = project["project"]["optional-dependencies"]["backtest"]
    development = (ROOT / "requirements-dev.txt").read_text()
    for requirement in extra:
        pinned = re.fullmatch(r"([a-z-]+)(?:\[[a-z,]+\])?==(\S+)", requirement)
        assert pinned is not None, requirement
        name, version = pinned.groups()
        assert re.search(rf"^{name}(\[[a-z,]+\])?=={re.escape(version)}$", development, re.MULTILINE), requirement
    assert {re.split(r"[\[=]", r)[0] for r in extra} == {"moto", "time-machine"}
    assert "backtest/templates/*" in project["tool"]["setuptools"]["package-data"]["model_medic"]
    assert (BACKTEST / "templates" / "backtest.html.j2").is_file()


def test_the_room_imports_its_extra_packages_only_when_a_backtest_runs() -> None:
    """Module level: the layer's own dependencies; moto, time-machine and the local cloud inside a function."""
    allowed = set(sys.stdlib_module_names) | {"__future__", "botocore", "boto3", "jinja2", "model_medic"}
    allowed |= {"aws_lambda_powertools"}
    extra = {"moto", "time_machine", "localcloud"}
    for path in sorted(BACKTEST.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            for name in _imported(node):
                assert name in allowed or name.startswith("mypy_boto3_"), f"{path.name} imports {name} at module level"
        inside = {name for node in ast.walk(tree) for name in _imported(node) if not name.startswith("mypy_boto3_")}
        assert inside <= allowed | extra, f"{path.name}: {sorted(inside - allowed - extra)}"


def _imported(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name.split(".")[0] for alias in node.names}
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return {node.module.split(".")[0]}
    if isinstance(node, ast.If):  # `if TYPE_CHECKING:`
        return {name for child in node.body for name in _imported(child)}
    return set()
