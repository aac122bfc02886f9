"""template.yaml as data, with intrinsic functions resolved.

moto's CloudFormation skips SNS subscriptions (docs/aws-behaviours.md, "moto gaps"), and the
wiring tests need the alarms as AlarmManagerFunction creates them: this module reads the
template and resolves parameters and conditions, so that both work from the template's own
definitions (the manager's environment, the alarm catalog) rather than from a second copy.
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
    """Resolves Ref / Fn::Sub / Fn::If / Fn::Join / Fn::Equals / Fn::Not / Fn::And / Fn::Or against parameters.

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
            if key == "Fn::And":
                return all(self.resolve(item) for item in value)
            if key == "Fn::Or":
                return any(self.resolve(item) for item in value)
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


def manager_alarms(main: dict[str, Any], given: dict[str, str], endpoints: list[str]) -> list[dict[str, Any]]:
    """The alarms AlarmManagerFunction keeps for these endpoints (none with tags of their own,
    each serving the stack's canary variant: all six), from the stack's thresholds as its
    environment receives them. Actions name the topics by logical ID (`CriticalTopic`,
    `WarningTopic`), for the caller to map onto what it created."""
    from model_medic.fleet.alarm_catalog import AlarmThresholds, Topics, endpoint_alarms

    resolver = Resolver(main, parameter_values(main, given))
    env = {
        **resolver.resolve(main["Globals"]["Function"]["Environment"]["Variables"]),
        **resolver.resolve(main["Resources"]["AlarmManagerFunction"]["Properties"]["Environment"]["Variables"]),
    }
    thresholds = AlarmThresholds(
        error_rate=float(env["ERROR_RATE_THRESHOLD"]),
        latency_ms=float(env["LATENCY_THRESHOLD_MS"]),
        drift=float(env["DRIFT_THRESHOLD"]),
        accuracy=float(env["ACCURACY_THRESHOLD"]),
        quality_source=env["QUALITY_METRICS_SOURCE"],
        model_monitor_drift_feature=str(env["MODEL_MONITOR_DRIFT_FEATURE"]),
        model_monitor_drift_threshold=float(env["MODEL_MONITOR_DRIFT_THRESHOLD"]),
        canary_variant=str(env["CANARY_VARIANT"]),
        canary_max_error_rate=float(env["CANARY_MAX_ERROR_RATE"]),
        canary_max_latency_ms=float(env["CANARY_MAX_LATENCY_MS"]),
    )
    topics = Topics(critical=env["CRITICAL_TOPIC_ARN"]["Ref"], warning=env["WARNING_TOPIC_ARN"]["Ref"])
    variants = [thresholds.canary_variant]
    return [alarm for endpoint in endpoints for alarm in endpoint_alarms(endpoint, thresholds, topics, variants)]
