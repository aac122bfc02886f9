"""template.yaml (and the nested alarms.yaml) as data, with intrinsic functions resolved.

moto's CloudFormation skips `AWS::CloudWatch::Alarm` and SNS subscriptions (FACTS.md), and
the wiring tests need the alarms as CloudFormation would create them: this module reads
the templates and resolves parameters and conditions, so that both work from the
template's own definitions rather than from a second copy.
"""

import re
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml_parse(path.read_text())  # type: ignore[no-any-return]


def parameter_values(template: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    """Every parameter's value: given, else its default; CommaDelimitedList as a list."""
    values: dict[str, Any] = {}
    for name, spec in template.get("Parameters", {}).items():
        if name in given:
            raw: Any = given[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            raise ValueError(f"parameter {name} has no value and no default")
        if spec.get("Type") == "CommaDelimitedList" and isinstance(raw, str):
            raw = [item.strip() for item in raw.split(",") if item.strip()]
        values[name] = raw
    return values


# --- resolving intrinsic functions -------------------------------------------------------

PSEUDO = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}


class Resolver:
    """Resolves Ref / Fn::Sub / Fn::If / Fn::Join / Fn::Equals / Fn::Not against parameters.

    A reference to a resource stays `{"Ref": LogicalId}` (or its Fn::GetAtt), for the
    caller to map onto what it created; everything else becomes a plain value.
    """

    def __init__(self, template: dict[str, Any], parameters: dict[str, Any], pseudo: dict[str, str] | None = None):
        self._parameters = parameters
        self._pseudo = {**PSEUDO, **(pseudo or {})}
        self._conditions = template.get("Conditions", {})

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self._conditions[name]))

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            [(key, value)] = node.items()
            if key == "Ref":
                if value in self._parameters:
                    return self._parameters[value]
                if value in self._pseudo:
                    return self._pseudo[value]
                return node
            if key == "Fn::Sub":
                return self._sub(value)
            if key == "Fn::If":
                name, if_true, if_false = value
                return self.resolve(if_true if self.condition(name) else if_false)
            if key == "Fn::Select":
                index, items = value
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                separator, text = value
                return str(self.resolve(text)).split(separator)
            if key == "Fn::Join":
                separator, items = value
                return separator.join(str(self.resolve(item)) for item in self.resolve(items))
            if key == "Fn::Equals":
                left, right = (self.resolve(v) for v in value)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(value[0])
            if key == "Condition":
                return self.condition(value)
        return {k: self.resolve(v) for k, v in node.items()}

    def _sub(self, value: Any) -> str:
        text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if name in self._parameters:
                return str(self._parameters[name])
            if name in self._pseudo:
                return self._pseudo[name]
            return match.group(0)  # a resource attribute: left for the caller

        return re.sub(r"\$\{([A-Za-z0-9:.]+)\}", replace, text)


def endpoint_alarms(main: dict[str, Any], given: dict[str, str], root: Path = ROOT) -> list[dict[str, Any]]:
    """The alarms the stack creates: each nested alarms application whose condition holds,
    its template resolved with the parameters the main template passes it. A reference to
    a resource of the main stack (a topic) stays `{"Ref": LogicalId}`."""
    parent = Resolver(main, parameter_values(main, given))
    alarms = []
    for resource in main["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Application":
            continue
        if "Condition" in resource and not parent.condition(resource["Condition"]):
            continue
        properties = resource["Properties"]
        nested = load(root / properties["Location"])
        passed = {name: parent.resolve(value) for name, value in properties["Parameters"].items()}
        child = Resolver(nested, parameter_values(nested, passed))
        alarms += [
            child.resolve(r["Properties"])
            for r in nested["Resources"].values()
            if r["Type"] == "AWS::CloudWatch::Alarm"
        ]
    return alarms
