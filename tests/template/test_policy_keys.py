"""Every policy tag key (policy.KEYS) names a stack parameter, and that parameter reaches the
functions under the variable the key overrides: a tag overrides exactly what the stack sets."""

from typing import Any

from model_medic.policy.tags import KEYS


def _variables(source: dict[str, Any]) -> dict[str, set[str]]:
    """variable -> the parameters given to it (by !Ref) in any function's environment."""
    given: dict[str, set[str]] = {}
    environments = [source["Globals"]["Function"]["Environment"]["Variables"]] + [
        r["Properties"].get("Environment", {}).get("Variables", {})
        for r in source["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
    ]
    for variables in environments:
        for name, value in variables.items():
            if isinstance(value, dict) and "Ref" in value:
                given.setdefault(name, set()).add(value["Ref"])
    return given


def test_each_key_overrides_the_parameter_the_stack_gives_that_variable(source: dict[str, Any]) -> None:
    given = _variables(source)
    for key in KEYS:
        assert key.parameter in source["Parameters"], key
        assert given.get(key.variable) == {key.parameter}, (key.key, given.get(key.variable))
