"""The automation mode of an endpoint: the global SSM kill switch, the stack's AutomationMode
and the endpoint's tag model-medic:automation-mode - doing less when in doubt."""

from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from model_medic.policy.policies import ModeSwitch

MISSING = object()


class Provider:
    def __init__(self, value: Any) -> None:
        self.value = value

    def get(self, name: str, max_age: int) -> str:
        if self.value is MISSING:
            raise GetParameterError("An error occurred (ParameterNotFound) when calling the GetParameter operation")
        return str(self.value)


def switch(ssm: Any, stack: str, tags: dict[str, str | None]) -> ModeSwitch:
    return ModeSwitch(Provider(ssm), "/model-medic/mode", stack, 30, tags.get)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ssm", "stack", "tag", "expected"),
    [
        # inherit: the endpoint's tag replaces the stack's AutomationMode, either way.
        ("inherit", "dry-run", "enforce", "enforce"),
        ("inherit", "enforce", "dry-run", "dry-run"),
        ("inherit", "enforce", "off", "off"),
        ("inherit", "dry-run", None, "dry-run"),
        # The global switch at off or dry-run always wins over a more permissive tag.
        ("off", "enforce", "enforce", "off"),
        ("off", "enforce", "dry-run", "off"),
        ("dry-run", "enforce", "enforce", "dry-run"),
        ("dry-run", "enforce", "off", "off"),
        # At enforce, an endpoint tagged dry-run or off still does only that.
        ("enforce", "dry-run", "dry-run", "dry-run"),
        ("enforce", "dry-run", "off", "off"),
        ("enforce", "dry-run", "enforce", "enforce"),
        ("enforce", "dry-run", None, "enforce"),
        # An unreadable switch is dry-run: a tag cannot lift it.
        (MISSING, "enforce", "enforce", "dry-run"),
        ("garbage", "enforce", "enforce", "dry-run"),
        (MISSING, "enforce", "off", "off"),
    ],
)
def test_the_global_kill_switch_bounds_every_endpoints_own_mode(
    ssm: Any, stack: str, tag: str | None, expected: str
) -> None:
    modes = switch(ssm, stack, {"tagged": tag})
    mode, source = modes.current("tagged")
    assert mode == expected
    if tag is not None and mode == tag and ssm == "inherit":
        assert "tag" in source


def test_without_an_endpoint_or_a_tag_the_mode_is_the_stacks() -> None:
    modes = switch("inherit", "dry-run", {"tagged": "enforce"})
    assert modes.current() == ("dry-run", "stack parameter")
    assert modes.current("untagged") == ("dry-run", "stack parameter")
    assert modes.current("tagged")[0] == "enforce"
