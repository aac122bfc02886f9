"""How far one alarm walks through the layer (issue 22's measure): a pytest plugin that profiles
each test's call phase and prints the model_medic modules (and rooms) and functions it entered,
the calls into the package and across its module boundaries, and the objects of the package it built.

    PYTHONPATH=. .venv/bin/pytest -q -s -p no:cacheprovider -p benchmarks.alarm_trace \\
      "tests/functional/test_scale_up.py::test_latency_alarm_opens_an_incident_and_boosts_each_variant_with_traffic_in_its_own_call"
"""

import json
import sys
from collections import Counter
from types import FrameType
from typing import Any

import pytest

_modules: set[str] = set()
_functions: set[str] = set()
_objects: Counter[str] = Counter()
_calls = {"into": 0, "across": 0}


def _package_module(frame: FrameType | None) -> str | None:
    name = str(frame.f_globals.get("__name__", "")) if frame is not None else ""
    return name if name.startswith("model_medic") else None


def _profile(frame: FrameType, event: str, _: Any) -> None:
    if event != "call":
        return
    callee = _package_module(frame)
    if callee is None:
        return
    caller = _package_module(frame.f_back)
    _calls["into"] += 1
    _modules.add(callee)
    _functions.add(f"{callee}.{frame.f_code.co_qualname}")
    if caller is not None and caller != callee:
        _calls["across"] += 1
    if frame.f_code.co_name == "__init__" and "self" in frame.f_locals and not _chained(frame):
        _objects[type(frame.f_locals["self"]).__name__] += 1


def _chained(frame: FrameType) -> bool:
    """Whether this __init__ is a subclass's `super().__init__()` on the same object (one object, counted once)."""
    caller = frame.f_back
    return (
        caller is not None
        and caller.f_code.co_name == "__init__"
        and caller.f_locals.get("self") is frame.f_locals["self"]
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    _modules.clear()
    _functions.clear()
    _objects.clear()
    _calls.update(into=0, across=0)
    sys.setprofile(_profile)
    try:
        yield
    finally:
        sys.setprofile(None)
    figures = {
        "modules": len(_modules),
        # The rooms (subpackages, and wiring.py) the modules belong to: model_medic.control.loop is in `control`.
        "rooms": len({m.split(".")[1] for m in _modules if "." in m}),
        "functions": len(_functions),
        "calls_into_the_package": _calls["into"],
        "calls_across_modules": _calls["across"],
        "objects_built": sum(_objects.values()),
        "most_built": dict(_objects.most_common(8)),
        "module_names": sorted(m.removeprefix("model_medic.") for m in _modules),
    }
    print(f"\n{item.name}: {json.dumps(figures)}")
