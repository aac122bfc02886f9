"""A stack watches named endpoints, tagged ones, or both - never none: the template's rule
EndpointsToWatch, evaluated as CloudFormation evaluates rule functions, with the parameter
values CloudFormation passes (a CommaDelimitedList of "" is the list [""])."""

from typing import Any

import pytest

from localcloud import template


def _evaluate(node: Any, parameters: dict[str, Any]) -> Any:
    """The rule functions the template uses (CloudFormation template reference, "Rule functions")."""
    if isinstance(node, dict) and len(node) == 1:
        [(name, args)] = node.items()
        if name == "Ref":
            return parameters[args]
        values = [_evaluate(a, parameters) for a in args]
        if name == "Fn::Equals":
            return values[0] == values[1]
        if name == "Fn::Not":
            return not values[0]
        if name == "Fn::EachMemberEquals":
            return all(member == values[1] for member in values[0])
        raise AssertionError(f"the test does not know rule function {name}")
    return node


def _allowed(names: str, tag: str) -> bool:
    rule = template.load()["Rules"]["EndpointsToWatch"]
    parameters = {"EndpointNames": names.split(","), "DiscoveryTag": tag}
    if not _evaluate(rule["RuleCondition"], parameters):
        return True
    return all(_evaluate(a["Assert"], parameters) for a in rule["Assertions"])


@pytest.mark.parametrize(
    ("names", "tag", "allowed"),
    [
        ("", "", False),  # nothing to watch: refused before anything is created
        ("", "model-medic:fleet=true", True),  # a fleet found only by tag
        ("churn-prod", "", True),
        ("churn-prod,fraud-prod", "team=ml", True),
    ],
)
def test_endpoint_names_may_be_empty_only_with_a_discovery_tag(names: str, tag: str, allowed: bool) -> None:
    assert _allowed(names, tag) is allowed


def test_endpoint_names_default_to_none() -> None:
    parameter = template.load()["Parameters"]["EndpointNames"]
    assert parameter["Default"] == ""
    assert parameter["Type"] == "CommaDelimitedList"
