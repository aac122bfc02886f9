"""Installing like a product: a guided deploy that needs four answers (every other parameter
has a default), a samconfig.toml that names nothing of anyone's account, and a README whose
recorded `sam deploy --guided` session is what the template asks."""

import re
import tomllib
from typing import Any

from localcloud import sam
from localcloud.template import ROOT, Resolver, parameter_values

# What a first deploy must be asked: the endpoints or the tag that finds them, where alerts
# go, the mode (dry-run until switched). In this order, first.
SHORT_LIST = ["EndpointNames", "DiscoveryTag", "AlertEmail", "AutomationMode"]
# What no shipped configuration may set: it is the account's own (endpoints, buckets, address).
ACCOUNTS_OWN = {"EndpointNames", "DiscoveryTag", "AlertEmail", "DataCaptureS3Uri", "BaselineS3Uri", "GroundTruthS3Uri"}
README = (ROOT / "README.md").read_text()
PROMPT = re.compile(r"^\s*Parameter (\w+) \[(.*)\]:(.*)$")
FURTHER = re.compile(r"^\s*\.\.\. Enter for each of the (\d+) further parameters$")


def shown(default: Any) -> str:
    """A default as SAM's guided prompt shows it (`str` of the parsed YAML value)."""
    return str(default)


def test_every_parameter_has_a_default(source: dict[str, Any]) -> None:
    missing = [name for name, spec in source["Parameters"].items() if "Default" not in spec]
    assert missing == [], f"parameters a first deploy would have to answer: {missing}"


def test_the_short_list_comes_first_and_starts_in_dry_run(source: dict[str, Any]) -> None:
    parameters = source["Parameters"]
    assert list(parameters)[: len(SHORT_LIST)] == SHORT_LIST
    assert parameters["AutomationMode"]["Default"] == "dry-run"
    assert all(parameters[name]["Default"] == "" for name in SHORT_LIST if name != "AutomationMode")
    groups = source["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    assert groups[0]["Parameters"] == SHORT_LIST  # the console's first group too
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(parameters)  # each parameter in one group


def test_samconfig_ships_nothing_of_an_account_and_every_environment_in_dry_run(source: dict[str, Any]) -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    environments = {name for name in config if name != "version"}
    assert {"default", "staging", "prod"} <= environments
    for name in environments:
        deploy = config[name].get("deploy", {}).get("parameters", {})
        overrides = dict(re.findall(r'(\w+)="([^"]*)"', deploy.get("parameter_overrides", "")))
        assert set(overrides) <= set(source["Parameters"]), name
        assert not set(overrides) & ACCOUNTS_OWN, (name, overrides)
        if deploy:
            assert overrides.get("AutomationMode") == "dry-run", name


def recorded_session() -> list[str]:
    section = README.split("### First deploy, in dry-run", 1)[1]
    block = section.split("```text\n", 1)[1].split("```", 1)[0]
    return block.splitlines()


def test_the_readmes_guided_session_is_what_the_template_asks(source: dict[str, Any]) -> None:
    parameters = source["Parameters"]
    lines = recorded_session()
    asked = [PROMPT.match(line) for line in lines]
    prompts = [(m.group(1), m.group(2), m.group(3).strip()) for m in asked if m]
    names = [name for name, _, _ in prompts]
    assert names == list(parameters)[: len(names)], "in the template's order, from the first"
    for name, default, _ in prompts:
        assert default == shown(parameters[name]["Default"]), name
    answered = [name for name, _, answer in prompts if answer]
    assert set(answered) <= set(SHORT_LIST)
    assert "EndpointNames" in answered or "DiscoveryTag" in answered  # rule EndpointsToWatch
    [further] = [int(m.group(1)) for m in map(FURTHER.match, lines) if m]
    assert len(names) + further == len(parameters), "every further parameter is counted"
    # The prompts SAM asks after the parameters, as its guided deploy words them.
    tail = [line.strip() for line in lines[lines.index(next(ln for ln in lines if FURTHER.match(ln))) + 1 :]]
    assert tail[1] == "Confirm changes before deploy [Y/n]:"
    assert "Allow SAM CLI IAM role creation [Y/n]:" in tail


def test_the_readmes_non_interactive_deploy_gives_only_the_short_list(source: dict[str, Any]) -> None:
    section = README.split("### First deploy, in dry-run", 1)[1].split("\n### ", 1)[0]
    [command] = [line for line in section.splitlines() if "sam deploy --parameter-overrides" in line]
    given = dict(item.split("=", 1) for item in command.split("--parameter-overrides", 1)[1].split())
    assert set(given) <= set(SHORT_LIST)
    for name, value in given.items():
        pattern = source["Parameters"][name].get("AllowedPattern")
        values = value.split(",") if source["Parameters"][name]["Type"] == "CommaDelimitedList" else [value]
        assert pattern is None or all(re.match(pattern, v) for v in values), (name, value)


def test_drift_and_model_quality_are_deployed_only_with_their_locations(source: dict[str, Any]) -> None:
    resources = source["Resources"]
    assert resources["ComputeDriftFunction"]["Condition"] == "MeasuresDrift"
    assert resources["ComputeModelQualityFunction"]["Condition"] == "MeasuresQuality"
    for name in ("DataCaptureS3Uri", "BaselineS3Uri", "GroundTruthS3Uri"):
        assert re.match(source["Parameters"][name]["AllowedPattern"], "")
    # With the defaults (no locations) every Fn::Select of the template still finds its part, in
    # case CloudFormation evaluates the properties of the resources it does not create.
    values = parameter_values(source, {"EndpointNames": "churn-prod"})
    resolver = Resolver(source, values)
    assert not resolver.condition("MeasuresDrift")
    assert not resolver.condition("MeasuresQuality")
    resolver.resolve(source["Resources"])
    resolver.resolve(source["Conditions"])
    given = {"BaselineS3Uri": "s3://baselines/b"}
    assert Resolver(source, parameter_values(source, {**given, "EndpointNames": "x"})).condition("MeasuresDrift")
    # Teams' buckets alone deploy both: each endpoint's data is its own (its DataCaptureConfig and tags).
    teams = {"DataBucketArns": "arn:aws:s3:::team-a-ml,arn:aws:s3:::team-b-ml", "EndpointNames": "x"}
    resolver = Resolver(source, parameter_values(source, teams))
    assert resolver.condition("MeasuresDrift")
    assert resolver.condition("MeasuresQuality")
    resolver.resolve(source["Resources"])


def test_a_stack_with_the_defaults_only_transforms(source: dict[str, Any]) -> None:
    transformed = sam.transformed(source, {"EndpointNames": "churn-prod"})
    assert transformed["Resources"]["ComputeDriftFunction"]["Condition"] == "MeasuresDrift"
