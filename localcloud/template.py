"""template.yaml as data: parsed, with its parameters resolved and `Fn::ForEach` expanded.

The template uses the `AWS::LanguageExtensions` transform so that one `Fn::ForEach`
creates the alarms of every monitored endpoint. CloudFormation expands it at deploy time;
the SAM transform library, moto's CloudFormation and the tests do not, so this module
expands it the way CloudFormation documents: within the loop's fragment, `${Id}` and
`&{Id}` (the value without non-alphanumeric characters) in keys, `${Id}` in strings, and
`{"Ref": Id}` are replaced by each value of the collection.
"""

import copy
import re
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"


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


def expand_language_extensions(template: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """The template with every `Fn::ForEach::*` expanded and the transform removed."""
    result = copy.deepcopy(template)
    transform = result.get("Transform")
    if isinstance(transform, list):
        remaining = [t for t in transform if t != LANGUAGE_EXTENSIONS]
        result["Transform"] = remaining[0] if len(remaining) == 1 else remaining
    for section in ("Resources", "Outputs", "Conditions"):
        if section in result:
            result[section] = _expand_section(result[section], parameters)
    return result


def _expand_section(section: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    expanded: dict[str, Any] = {}
    for key, value in section.items():
        if not key.startswith("Fn::ForEach::"):
            expanded[key] = value
            continue
        identifier, collection, fragment = value
        for item in _collection(collection, parameters):
            for out_key, out_value in _expand_section(fragment, parameters).items():
                name = _substitute_key(out_key, identifier, item)
                if name in expanded:
                    raise ValueError(f"Fn::ForEach makes {name} twice")
                expanded[name] = _substitute(out_value, identifier, item)
    return expanded


def _collection(collection: Any, parameters: dict[str, Any]) -> list[str]:
    if isinstance(collection, list):
        return [str(item) for item in collection]
    if isinstance(collection, dict) and set(collection) == {"Ref"}:
        value = parameters[collection["Ref"]]
        return list(value) if isinstance(value, list) else [str(value)]
    raise ValueError(f"unsupported Fn::ForEach collection: {collection!r}")


def _substitute_key(key: str, identifier: str, value: str) -> str:
    return key.replace("${" + identifier + "}", value).replace(
        "&{" + identifier + "}", re.sub(r"[^A-Za-z0-9]", "", value)
    )


def _substitute(node: Any, identifier: str, value: str) -> Any:
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] == identifier:
            return value
        return {_substitute_key(k, identifier, value): _substitute(v, identifier, value) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(item, identifier, value) for item in node]
    if isinstance(node, str):
        return node.replace("${" + identifier + "}", value)
    return node


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
