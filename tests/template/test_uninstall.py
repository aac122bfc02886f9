"""Deleting the stack: what goes, what stays and why. Each function's logs are the stack's
(a log group with a retention); the ledger, the key that encrypts it, and the report and
access-log buckets with their policies are kept - the README's "Uninstall" names each of
them and how to remove it."""

import re
from typing import Any

from localcloud.template import ROOT
from tests.template.conftest import resources_of

KEPT = {"LedgerTable", "TopicKey", "ReportsBucket", "AccessLogsBucket", "ReportsBucketPolicy", "AccessLogsBucketPolicy"}
README = (ROOT / "README.md").read_text()


def uninstall_section() -> str:
    return README.split("### Uninstall", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]


def test_exactly_the_records_are_kept_and_each_on_replacement_too(source: dict[str, Any]) -> None:
    kept = {name for name, r in source["Resources"].items() if r.get("DeletionPolicy") == "Retain"}
    assert kept == KEPT
    for name in kept:
        assert source["Resources"][name].get("UpdateReplacePolicy") == "Retain", name


def test_the_ledgers_key_is_kept_as_long_as_the_ledger(source: dict[str, Any]) -> None:
    ledger = source["Resources"]["LedgerTable"]
    key = ledger["Properties"]["SSESpecification"]["KMSMasterKeyId"]
    assert key == {"Fn::GetAtt": ["TopicKey", "Arn"]}
    assert ledger["DeletionPolicy"] == source["Resources"]["TopicKey"]["DeletionPolicy"] == "Retain"


def test_the_readme_names_everything_kept_and_how_to_remove_it() -> None:
    section = uninstall_section()
    for name in KEPT - {"ReportsBucketPolicy", "AccessLogsBucketPolicy"}:
        assert f"`{name}`" in section, name
    assert "schedule-key-deletion" in section
    assert "delete-table" in section
    assert "object_versions" in section  # versioned buckets: every version, then the bucket


def test_every_function_logs_to_a_log_group_of_the_stack_with_the_retention_parameter(source: dict[str, Any]) -> None:
    functions = resources_of(source, "AWS::Serverless::Function")
    groups = resources_of(source, "AWS::Logs::LogGroup")
    assert functions
    key_policy = source["Resources"]["TopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    [logs] = [s for s in key_policy if s.get("Sid") == "CloudWatchLogsOfThisStack"]
    allowed = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]["Fn::Sub"]
    prefix = allowed.split(":log-group:", 1)[1].removesuffix("*")
    for name, function in functions.items():
        ref = function["Properties"]["LoggingConfig"]["LogGroup"]
        group = groups[ref["Ref"]]
        assert group.get("Condition") == function.get("Condition"), name
        properties = group["Properties"]
        assert properties["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert properties["KmsKeyId"] == {"Fn::GetAtt": ["TopicKey", "Arn"]}
        assert properties["LogGroupName"]["Fn::Sub"].startswith(prefix), name
        assert "DeletionPolicy" not in group  # the logs go with the stack
    assert len(groups) == len(functions)


def test_the_retention_parameter_offers_only_what_cloudwatch_logs_accepts(source: dict[str, Any]) -> None:
    parameter = source["Parameters"]["LogRetentionDays"]
    # PutRetentionPolicy's retentionInDays values (botocore's logs service model documents them).
    accepted = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
    assert set(parameter["AllowedValues"]) <= accepted
    assert parameter["Default"] in parameter["AllowedValues"]
    assert re.search(r"\bLogRetentionDays\b", README)
