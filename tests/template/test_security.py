"""Least privilege, read off the template CloudFormation deploys (the SAM-transformed one).

Every mutating permission of every function role is listed with its resource scope and its
conditions (`pytest tests/template/test_security.py -s` prints the list). A mutating action on
Resource "*" fails the test unless ALLOWED_ON_EVERY_RESOURCE below names it, with the reason AWS
gives and the conditions that scope it instead. A new function or statement is held to the same
rules without touching this file; a new "*" needs an entry here, in review.
"""

import json
from dataclasses import dataclass
from typing import Any

import pytest

from model_medic.remediate.capacity import SCALABLE_DIMENSION
from model_medic.remediate.components import COPY_DIMENSION
from model_medic.remediate.serverless import PROVISIONED_DIMENSION
from tests.template.conftest import resources_of

# Verbs that only read. Everything else an action can do counts as mutating (kms:Decrypt and
# GenerateDataKey included: the Service Authorization Reference files them under Write).
READ_VERBS = ("Describe", "List", "Get", "BatchGet", "Query", "Scan", "Search", "Lookup", "Head")

# Mutating actions that may name every resource, because AWS documents no resource-level
# permission that fits, each with the condition keys that must scope it instead.
ALLOWED_ON_EVERY_RESOURCE: dict[str, dict[str, dict[str, Any]]] = {
    # CloudWatch: PutMetricData has no resource type (Service Authorization Reference, Amazon
    # CloudWatch); cloudwatch:namespace keeps the functions to their own namespaces: the measured
    # metrics, and a component rollout's RolloutVerdict (remediate/rollout/component.py).
    "cloudwatch:PutMetricData": {"StringEquals": {"cloudwatch:namespace": ["Custom/SageMaker", "ModelMedic"]}},
    # Application Auto Scaling: a scalable target's ARN carries an opaque id that the stack cannot
    # know; the Service Authorization Reference gives RegisterScalableTarget the condition keys
    # application-autoscaling:service-namespace and application-autoscaling:scalable-dimension.
    "application-autoscaling:RegisterScalableTarget": {
        "StringEquals": {
            "application-autoscaling:service-namespace": "sagemaker",
            # Every dimension the layer registers a target of, read from its constants: variants'
            # instance counts (capacity.py), serverless variants' provisioned concurrency
            # (serverless.py) and inference components' copy counts (components.py).
            "application-autoscaling:scalable-dimension": [SCALABLE_DIMENSION, PROVISIONED_DIMENSION, COPY_DIMENSION],
        }
    },
}

# The AWS managed policies SAM attaches to every function role: CloudWatch Logs, and X-Ray for
# `Tracing: Active`. Their statements are AWS's, not in this template.
AWS_MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}

ENDPOINT_CHANGES = {"sagemaker:UpdateEndpoint", "sagemaker:UpdateEndpointWeightsAndCapacities"}


@dataclass(frozen=True)
class Grant:
    role: str
    sid: str
    action: str
    resources: tuple[str, ...]
    condition: str  # JSON, "" for none
    when: str  # the template condition a Fn::If branch depends on, "" for always

    def line(self) -> str:
        scope = ", ".join(self.resources)
        extra = f" when {self.condition}" if self.condition else ""
        branch = f" [if {self.when}]" if self.when else ""
        return f"{self.role:36} {self.action:52} {scope}{extra}{branch}"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _branches(value: Any, when: str = "") -> list[tuple[Any, str]]:
    """Both branches of a Fn::If (AWS::NoValue dropped), each with the condition it depends on."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        name, yes, no = value["Fn::If"]
        return [
            (branch, f"{label}{name}")
            for branch, label in ((yes, ""), (no, "not "))
            if branch != {"Ref": "AWS::NoValue"}
        ]
    return [(value, when)]


def _show(resource: Any) -> str:
    return resource if isinstance(resource, str) else json.dumps(resource, sort_keys=True)


def _function_roles(transformed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    roles = {}
    for name, role in resources_of(transformed, "AWS::IAM::Role").items():
        principals = [
            s["Principal"].get("Service")
            for s in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
            if isinstance(s.get("Principal"), dict)
        ]
        if ["lambda.amazonaws.com"] in principals or "lambda.amazonaws.com" in principals:
            roles[name] = role
    return roles


def _statements(transformed: dict[str, Any], role: dict[str, Any]) -> list[dict[str, Any]]:
    """The role's statements: inline policies and the stack's own managed policies."""
    documents = [policy["PolicyDocument"] for policy in role["Properties"].get("Policies", [])]
    for arn in role["Properties"].get("ManagedPolicyArns", []):
        if isinstance(arn, dict) and "Ref" in arn:
            documents.append(transformed["Resources"][arn["Ref"]]["Properties"]["PolicyDocument"])
        else:
            assert (arn.get("Fn::Sub") if isinstance(arn, dict) else arn) in AWS_MANAGED, arn
    return [statement for document in documents for statement in _as_list(document["Statement"])]


def grants(transformed: dict[str, Any]) -> list[Grant]:
    """Every Allow of every function role, one per action and template branch."""
    found = []
    for name, role in _function_roles(transformed).items():
        for wrapped in _statements(transformed, role):
            for statement, when in _branches(wrapped):
                if statement["Effect"] != "Allow":
                    continue
                assert "NotAction" not in statement, (name, statement)
                assert "NotResource" not in statement, (name, statement)
                for resource, resource_when in _branches(statement["Resource"], when):
                    resources = tuple(_show(r) for r in _as_list(resource))
                    condition = json.dumps(statement["Condition"], sort_keys=True) if "Condition" in statement else ""
                    for action in _as_list(statement["Action"]):
                        found.append(Grant(name, statement.get("Sid", ""), action, resources, condition, resource_when))
    return found


def mutating(grant: Grant) -> bool:
    verb = grant.action.split(":", 1)[1]
    return not verb.startswith(READ_VERBS)


def test_every_mutating_permission_is_listed_with_its_scope(transformed: dict[str, Any]) -> None:
    listed = sorted({g.line() for g in grants(transformed) if mutating(g)})
    print("\nMutating permissions of the function roles (role, action, resources, conditions):")
    print("\n".join(listed))
    # Each action function may change something, and every role lists at least its logs.
    roles = {line.split()[0] for line in listed}
    assert {"ScaleUpFunctionRole", "RollbackModelFunctionRole", "StartRetrainingFunctionRole"} <= roles


def test_no_mutating_action_on_every_resource_unless_aws_allows_no_narrower_scope(transformed: dict[str, Any]) -> None:
    loose = [g for g in grants(transformed) if mutating(g) and "*" in g.resources]
    unexplained = [g.line() for g in loose if g.action not in ALLOWED_ON_EVERY_RESOURCE]
    assert not unexplained, "mutating actions on Resource '*':\n" + "\n".join(unexplained)
    for grant in loose:
        required = ALLOWED_ON_EVERY_RESOURCE[grant.action]
        assert within(json.loads(grant.condition or "{}"), required), f"{grant.line()} must be scoped by {required}"


def within(condition: dict[str, dict[str, Any]], required: dict[str, dict[str, Any]]) -> bool:
    """Whether a grant's condition names every key the allow-list requires, each with values
    among those it allows (a role may allow fewer: PromoteCanary's variants only)."""
    if set(condition) != set(required) or any(set(condition[op]) != set(keys) for op, keys in required.items()):
        return False
    return all(
        bool(_values(condition[op][key])) and _values(condition[op][key]) <= _values(allowed)
        for op, keys in required.items()
        for key, allowed in keys.items()
    )


def _values(value: str | list[str]) -> set[str]:
    return {value} if isinstance(value, str) else set(value)


def test_the_allow_list_is_not_stale(transformed: dict[str, Any]) -> None:
    used = {g.action for g in grants(transformed) if "*" in g.resources}
    assert set(ALLOWED_ON_EVERY_RESOURCE) <= used, sorted(set(ALLOWED_ON_EVERY_RESOURCE) - used)


def test_endpoint_changes_reach_only_the_endpoints_in_scope(transformed: dict[str, Any]) -> None:
    changes = [g for g in grants(transformed) if g.action in ENDPOINT_CHANGES]
    assert {g.role for g in changes} >= {"ScaleUpFunctionRole", "RollbackModelFunctionRole"}
    for grant in changes:
        endpoints = [r for r in grant.resources if ":endpoint/" in r or "endpoint/" in r]
        configs = [r for r in grant.resources if "endpoint-config/" in r]
        assert endpoints or configs, grant.line()
        if configs:  # UpdateEndpoint also names the config it moves to; the endpoint is scoped apart
            assert grant.action == "sagemaker:UpdateEndpoint", grant.line()
            continue
        if grant.when == "DiscoversByTag":
            # With a discovery tag, the template cannot name the tag key in a condition key
            # (a parameter cannot be a key's name): endpoint/*, and scope.py checks the tag.
            assert endpoints == [
                '{"Fn::Sub": "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:endpoint/*"}'
            ]
        else:
            assert grant.when == "not DiscoversByTag", grant.line()
            # The ARNs of the names in EndpointNames, in this Region.
            assert "EndpointNames" in endpoints[0], grant.line()
            assert "endpoint/*" not in endpoints[0], grant.line()
            assert json.loads(grant.condition) == {"StringEquals": {"aws:RequestedRegion": {"Ref": "AWS::Region"}}}


def test_model_packages_can_only_be_rejected(transformed: dict[str, Any]) -> None:
    updates = [g for g in grants(transformed) if g.action == "sagemaker:UpdateModelPackage"]
    assert updates
    for grant in updates:
        assert json.loads(grant.condition) == {"StringEquals": {"sagemaker:ModelApprovalStatus": "Rejected"}}


def _topic_policy(transformed: dict[str, Any], topic: str) -> list[dict[str, Any]]:
    [policy] = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in resources_of(transformed, "AWS::SNS::TopicPolicy").values()
        if p["Properties"]["Topics"] == [{"Ref": topic}]
    ]
    return policy  # type: ignore[no-any-return]


@pytest.mark.parametrize(("topic", "alarms"), [("CriticalTopic", True), ("WarningTopic", True), ("InfoTopic", False)])
def test_only_cloudwatch_alarms_and_the_stacks_publishers_may_publish(
    transformed: dict[str, Any], topic: str, alarms: bool
) -> None:
    statements = _topic_policy(transformed, topic)
    allows = [s for s in statements if s["Effect"] == "Allow"]
    [deny] = [s for s in statements if s["Effect"] == "Deny"]
    if alarms:
        [cloudwatch] = allows
        assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        assert cloudwatch["Action"] == "sns:Publish"
        assert cloudwatch["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        assert cloudwatch["Condition"]["ArnLike"] == {
            "aws:SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"}
        }
    else:
        assert allows == []
    # Every IAM principal (no aws:PrincipalServiceName) but the exempted roles is denied Publish.
    assert (deny["Principal"], deny["Action"], deny["Resource"]) == ("*", "sns:Publish", {"Ref": topic})
    assert deny["Condition"]["Null"] == {"aws:PrincipalServiceName": "true"}
    # A conditional function's role is exempted under its condition: {"Fn::If": [cond, role, NoValue]}.
    exempt = {
        (arn["Fn::If"][1] if "Fn::If" in arn else arn)["Fn::GetAtt"][0]
        for arn in deny["Condition"].get("ArnNotEquals", {}).get("aws:PrincipalArn", [])
    }
    for arn in deny["Condition"].get("ArnNotEquals", {}).get("aws:PrincipalArn", []):
        if "Fn::If" in arn:
            condition, role, absent = arn["Fn::If"]
            assert transformed["Resources"][role["Fn::GetAtt"][0]]["Condition"] == condition
            assert absent == {"Ref": "AWS::NoValue"}
    publishers = {
        g.role for g in grants(transformed) if g.action == "sns:Publish" and json.dumps({"Ref": topic}) in g.resources
    }
    # Exactly the roles whose policies let them publish here: none forgotten (their messages
    # would be denied in AWS, not in moto), none exempted for nothing.
    assert exempt == publishers, (sorted(publishers - exempt), sorted(exempt - publishers))


def test_every_function_can_use_the_key_of_its_encrypted_dead_letter_queue(transformed: dict[str, Any]) -> None:
    key = transformed["Resources"]["DeadLetterQueue"]["Properties"]["KmsMasterKeyId"]
    configs = resources_of(transformed, "AWS::Lambda::EventInvokeConfig")
    functions = resources_of(transformed, "AWS::Lambda::Function")
    assert len(configs) == len(functions)
    for config in configs.values():
        on_failure = config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
        assert on_failure == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    for name, function in functions.items():
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        usable = {g.action for g in grants(transformed) if g.role == role and _show(key) in g.resources}
        # Lambda sends a failed event to the encrypted queue with the execution role.
        assert {"kms:GenerateDataKey*", "kms:Decrypt"} <= usable, name


def test_every_function_is_bounded_and_its_environment_encrypted_with_the_stacks_key(
    transformed: dict[str, Any],
) -> None:
    for name, function in resources_of(transformed, "AWS::Lambda::Function").items():
        properties = function["Properties"]
        assert properties["KmsKeyArn"] == {"Fn::GetAtt": ["TopicKey", "Arn"]}, name
        assert 1 <= properties["ReservedConcurrentExecutions"] <= 5, name


def test_every_checkov_skip_says_why_next_to_its_resource(source: dict[str, Any], transformed: dict[str, Any]) -> None:
    skipped = {
        name: r["Metadata"]["checkov"]["skip"]
        for name, r in source["Resources"].items()
        if "checkov" in r.get("Metadata", {})
    }
    assert skipped
    for name, skips in skipped.items():
        for skip in skips:
            assert skip["id"].startswith("CKV"), (name, skip)
            assert len(skip["comment"]) > 40, (name, skip)
        # The transform keeps them on the resource checkov reads.
        assert transformed["Resources"][name]["Metadata"]["checkov"]["skip"] == skips, name
    # Only the findings the README explains are skipped: no VPC, no second DLQ path, the
    # access-log bucket not logging itself, and log retention as a parameter.
    assert {s["id"] for skips in skipped.values() for s in skips} == {
        "CKV_AWS_117",
        "CKV_AWS_116",
        "CKV_AWS_18",
        "CKV_AWS_338",
    }


def _managed_actions(transformed: dict[str, Any], policy: str) -> set[str]:
    actions: set[str] = set()
    for statement in transformed["Resources"][policy]["Properties"]["PolicyDocument"]["Statement"]:
        actions |= set(_as_list(statement["Action"]))
    return actions


def test_the_ledgers_transactions_have_every_permission_they_use(transformed: dict[str, Any]) -> None:
    """Each action of a TransactWriteItems needs its own permission (DynamoDB Developer Guide,
    "Using IAM with DynamoDB transactions"): the ledger's code sends Put, Update, Delete and
    ConditionCheck items; the action functions' shared policy must allow each."""
    import re
    from pathlib import Path

    layer = Path(__file__).resolve().parents[2] / "layers" / "common" / "model_medic"
    used = {
        kind
        for path in layer.rglob("*.py")
        for kind in re.findall(r'"(Put|Update|Delete|ConditionCheck)": ', path.read_text())
    }
    assert "ConditionCheck" in used  # the check below is not vacuous
    needed = {f"dynamodb:{'ConditionCheckItem' if kind == 'ConditionCheck' else kind + 'Item'}" for kind in used}
    allowed = _managed_actions(transformed, "ActionFunctionsPolicy")
    assert needed <= allowed, sorted(needed - allowed)


def test_scale_up_may_register_scalable_targets_as_application_auto_scaling_requires(
    transformed: dict[str, Any],
) -> None:
    """Application Auto Scaling validates the caller's permissions on the SageMaker target:
    DescribeEndpoint, DescribeEndpointConfig, UpdateEndpointWeightsAndCapacities."""
    allowed = {g.action for g in grants(transformed) if g.role.startswith("ScaleUpFunction")}
    assert {
        "sagemaker:DescribeEndpoint",
        "sagemaker:DescribeEndpointConfig",
        "sagemaker:UpdateEndpointWeightsAndCapacities",
        "application-autoscaling:RegisterScalableTarget",
    } <= allowed


def test_encrypted_endpoint_configs_may_be_deployed_with_the_listed_keys_through_sagemaker_only(
    transformed: dict[str, Any],
) -> None:
    """A config with KmsKeyId needs the caller allowed kms:CreateGrant on its key (SageMaker's API
    permissions reference): rollouts and rollbacks deploy such configs. Only the keys in
    ModelKmsKeyArns, only via SageMaker, only grants for AWS resources; reports are decrypted via S3."""
    kms = [
        g for g in grants(transformed) if g.sid in ("UseEndpointKeysThroughSageMaker", "ReadEncryptedReportsThroughS3")
    ]
    by_role: dict[str, set[str]] = {}
    for grant in kms:
        assert grant.when == "HasModelKmsKeys", grant.line()
        assert grant.resources == (_show({"Ref": "ModelKmsKeyArns"}),), grant.line()
        service = "sagemaker" if grant.sid == "UseEndpointKeysThroughSageMaker" else "s3"
        assert "kms:ViaService" in grant.condition, grant.line()
        assert f"{service}." in grant.condition, grant.line()
        by_role.setdefault(grant.role, set()).add(grant.action)
    assert by_role == {
        "PromoteCanaryFunctionRole": {"kms:CreateGrant", "kms:DescribeKey", "kms:Decrypt"},
        "RollbackModelFunctionRole": {"kms:CreateGrant", "kms:DescribeKey"},
    }
    assert all(
        "kms:GrantIsForAWSResource" in g.condition
        for g in kms
        if g.action == "kms:CreateGrant" and g.sid.startswith("Use")
    )


def test_the_scale_up_may_register_every_dimension_it_raises(transformed: dict[str, Any]) -> None:
    # ScaleUpFunction raises instance counts, serverless provisioned concurrency and component
    # copies through RegisterScalableTarget; a dimension missing from its condition is AccessDenied
    # on AWS (moto enforces no IAM). `within` above checks a grant allows no more than the
    # allow-list; this checks the scale-up's allows no less.
    registers = [
        g
        for g in grants(transformed)
        if g.role == "ScaleUpFunctionRole" and g.action == "application-autoscaling:RegisterScalableTarget"
    ]
    assert len(registers) == 1, registers
    allowed = json.loads(registers[0].condition)["StringEquals"]["application-autoscaling:scalable-dimension"]
    assert _values(allowed) == {SCALABLE_DIMENSION, PROVISIONED_DIMENSION, COPY_DIMENSION}


def test_the_quality_job_may_list_the_bucket_whose_missing_index_it_reads(transformed: dict[str, Any]) -> None:
    # measure/predictions.py reads each hour's index before it exists and takes NoSuchKey (404) as
    # "not indexed yet"; S3 answers 404 only to a caller with s3:ListBucket on the bucket, else 403
    # (docs/aws-behaviours.md). A GetObject carries no s3:prefix: a prefix-conditioned grant would not count.
    lists = [
        g
        for g in grants(transformed)
        if g.role == "ComputeModelQualityFunctionRole" and g.sid == "ListThePredictionIndex"
    ]
    assert [(g.action, g.condition) for g in lists] == [("s3:ListBucket", "")]


def test_the_rollout_may_list_the_bucket_whose_missing_reports_it_reads(transformed: dict[str, Any]) -> None:
    # remediate/rollout/challenge.py takes NoSuchKey (404) as "registered, never written: no figure";
    # S3 answers 404 only to a caller with s3:ListBucket on the bucket, else 403, which the rollout
    # holds on as an unreadable report (docs/aws-behaviours.md). Unconditioned, on the bucket itself.
    reads = [g for g in grants(transformed) if g.role == "PromoteCanaryFunctionRole" and g.action.startswith("s3:")]
    bucket = "arn:${AWS::Partition}:s3:::${ModelMetricsBucket}"
    assert sorted((g.action, g.resources, g.condition, g.when) for g in reads) == [
        ("s3:GetObject", (_show({"Fn::Sub": f"{bucket}/*"}),), "", "HasModelMetricsBucket"),
        ("s3:ListBucket", (_show({"Fn::Sub": bucket}),), "", "HasModelMetricsBucket"),
    ]
