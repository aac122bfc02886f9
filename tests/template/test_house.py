"""The house rules (docs/architecture.md, "Checks"): no class over 250 lines, no function over
60, every handler's body at most 15 lines, so that each can be read in one sitting; and no log
call that logging would refuse."""

import ast
import logging
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "common" / "model_medic"

# Functions that are data, not logic: each builds one literal that is clearest whole.
DATA_LITERALS: set[str] = set()


def _sizes(path: Path) -> list[tuple[str, str, int]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            found.append((kind, node.name, (node.end_lineno or node.lineno) - node.lineno + 1))
    return found


def test_no_class_over_250_lines_and_no_function_over_60() -> None:
    too_long = []
    for path in sorted(LAYER.rglob("*.py")):
        where = path.relative_to(LAYER).as_posix()
        for kind, name, lines in _sizes(path):
            limit = 250 if kind == "class" else 60
            if lines > limit and f"{where}:{name}" not in DATA_LITERALS:
                too_long.append(f"{where}: {kind} {name} has {lines} lines (at most {limit})")
    assert too_long == []


def test_the_allowances_name_code_that_exists_and_still_needs_them() -> None:
    still = set()
    for path in sorted(LAYER.rglob("*.py")):
        where = path.relative_to(LAYER).as_posix()
        still |= {f"{where}:{name}" for kind, name, lines in _sizes(path) if lines > (250 if kind == "class" else 60)}
    assert DATA_LITERALS - still == set()


def test_every_handler_body_is_at_most_15_lines() -> None:
    for app in sorted((ROOT / "functions").glob("*/app.py")):
        handler = next(
            node
            for node in ast.parse(app.read_text()).body
            if isinstance(node, ast.FunctionDef) and node.name == "lambda_handler"
        )
        body = (handler.end_lineno or handler.lineno) - handler.body[0].lineno + 1
        assert body <= 15, f"{app.parent.name}: {body} lines"


# What a LogRecord holds already: logging refuses an extra key of the same name with a KeyError
# (Powertools passes a log call's keywords as `extra`), so the log line and what it reports are
# lost and the caller fails on its error path instead.
_RECORD_KEYS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_LOG_LEVELS = {"debug", "info", "warning", "error", "exception", "critical"}


def test_no_log_call_passes_a_key_a_log_record_holds_already() -> None:
    clashes = []
    for path in sorted([*LAYER.rglob("*.py"), *(ROOT / "functions").glob("*/app.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _LOG_LEVELS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "logger"
            ):
                clashes += [
                    f"{path.relative_to(ROOT)}:{node.lineno} {k.arg}=" for k in node.keywords if k.arg in _RECORD_KEYS
                ]
    assert clashes == []
