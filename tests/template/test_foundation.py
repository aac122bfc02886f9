"""The template's foundation: transform, encryption, dead-letter wiring, kill switch, outputs."""

from typing import Any

from localcloud import template
from tests.template.conftest import resources_of


def test_sam_transform_succeeds_and_yields_the_functions(transformed: dict[str, Any]) -> None:
    functions = resources_of(transformed, "AWS::Lambda::Function")
    assert functions, "the template defines no functions"
    for name, function in functions.items():
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.13", name
        assert properties["Architectures"] == ["arm64"], name
        assert properties["TracingConfig"] == {"Mode": "Active"}, name
        assert properties["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"], name


def test_every_asynchronously_invoked_function_parks_failures_in_the_dead_letter_queue(
    transformed: dict[str, Any],
) -> None:
    functions = resources_of(transformed, "AWS::Lambda::Function")
    configs = resources_of(transformed, "AWS::Lambda::EventInvokeConfig")
    configured = {config["Properties"]["FunctionName"]["Ref"]: config["Properties"] for config in configs.values()}
    for name in functions:
        assert name in configured, f"{name} has no EventInvokeConfig"
        invoke = configured[name]
        assert invoke["MaximumRetryAttempts"] == 2
        assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}


def test_the_topic_key_lets_cloudwatch_publish_and_every_topic_uses_it(transformed: dict[str, Any]) -> None:
    key = transformed["Resources"]["TopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    cloudwatch = [
        s for s in key["KeyPolicy"]["Statement"] if s.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com"
    ]
    assert len(cloudwatch) == 1
    assert set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert cloudwatch[0]["Effect"] == "Allow"
    topics = resources_of(transformed, "AWS::SNS::Topic")
    assert set(topics) >= {"CriticalTopic", "WarningTopic", "InfoTopic"}
    for name, topic in topics.items():
        # A reference to our key, never alias/aws/sns (CloudWatch cannot use that one).
        assert topic["Properties"]["KmsMasterKeyId"] == {"Ref": "TopicKey"}, name


def test_data_is_encrypted_and_kept_private(transformed: dict[str, Any]) -> None:
    resources = transformed["Resources"]
    ledger = resources["LedgerTable"]["Properties"]
    assert ledger["BillingMode"] == "PAY_PER_REQUEST"
    stack_key = {"Fn::GetAtt": ["TopicKey", "Arn"]}
    assert ledger["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": stack_key}
    assert ledger["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert ledger["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    bucket = resources["ReportsBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == {"Ref": "ReportRetentionDays"}
    [deny] = resources["ReportsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})
    assert resources["DeadLetterQueue"]["Properties"]["KmsMasterKeyId"] == stack_key
    # The reports bucket's access logs, to a bucket of the stack kept as private as the reports.
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogsBucket"}
    logs = resources["AccessLogsBucket"]["Properties"]
    assert all(logs["PublicAccessBlockConfiguration"].values())
    assert logs["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"  # S3 delivers server access logs to SSE-S3 target buckets only
    }
    assert logs["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == {"Ref": "ReportRetentionDays"}


def test_kill_switch_parameter_has_a_name_and_only_known_values(transformed: dict[str, Any]) -> None:
    parameter = transformed["Resources"]["AutomationModeParameter"]["Properties"]
    assert parameter["Name"] == {"Fn::Sub": "/model-medic/${AWS::StackName}/automation-mode"}
    assert parameter["Value"] == "inherit"
    assert parameter["AllowedPattern"] == "^(inherit|enforce|dry-run|off)$"


def test_parameters_refuse_wrong_values_at_deploy_time(source: dict[str, Any]) -> None:
    parameters = source["Parameters"]
    assert parameters["AutomationMode"]["AllowedValues"] == ["enforce", "dry-run", "off"]
    assert parameters["AutomationMode"]["Default"] == "dry-run"
    assert "AllowedPattern" in parameters["EndpointNames"]
    assert "AllowedPattern" in parameters["AlertEmail"]


def test_layer_is_built_by_sam_for_the_lambda_runtime(source: dict[str, Any]) -> None:
    layer = source["Resources"]["CommonLayer"]
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["ContentUri"] == "layers/common/"


def test_outputs_name_what_people_and_tests_need(source: dict[str, Any]) -> None:
    assert set(source["Outputs"]) >= {
        "CriticalTopicArn",
        "WarningTopicArn",
        "InfoTopicArn",
        "LedgerTableName",
        "ReportsBucketName",
        "DeadLetterQueueUrl",
        "AutomationModeParameterName",
    }


def test_no_per_endpoint_alarm_slots_remain(source: dict[str, Any]) -> None:
    kinds = {r["Type"] for r in source["Resources"].values()}
    assert not kinds & {
        "AWS::Serverless::Application",
        "AWS::CloudFormation::Stack",
        "AWS::CloudWatch::Dashboard",
    }
    # The template's alarms are the stack's own health (test_health_alarms.py), none an endpoint's.
    alarms = resources_of(source, "AWS::CloudWatch::Alarm")
    assert set(alarms) == {"DeadLetterAlarm", "LettersNotSentAlarm"}
    assert "EndpointName" not in str(alarms)
    assert not [c for c in source.get("Conditions", {}) if c.startswith("MonitorsEndpoint")]
    assert "at most" not in source["Parameters"]["EndpointNames"]["Description"]
    assert not (template.ROOT / "alarms.yaml").exists()


def test_the_manager_keeps_the_alarms_and_its_triggers_go_before_its_delete(transformed: dict[str, Any]) -> None:
    resources = transformed["Resources"]
    fleet = resources["FleetAlarms"]
    assert fleet["Type"] == "Custom::FleetAlarms"
    assert fleet["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["AlarmManagerFunction", "Arn"]}
    targeted = {
        name: rule
        for name, rule in resources_of(transformed, "AWS::Events::Rule").items()
        if any(t["Arn"] == {"Fn::GetAtt": ["AlarmManagerFunction", "Arn"]} for t in rule["Properties"]["Targets"])
    }
    assert set(targeted) == {"AlarmManagerSchedule", "EndpointStateChangeRule"}
    for rule in targeted.values():
        assert rule["DependsOn"] == "FleetAlarms"  # deleted before FleetAlarms removes the alarms
    assert targeted["EndpointStateChangeRule"]["Properties"]["EventPattern"]["detail-type"] == [
        "SageMaker Endpoint State Change"
    ]
    # Every other stack parameter the alarms depend on is a property: changing one updates them.
    environment = resources["AlarmManagerFunction"]["Properties"]["Environment"]["Variables"]
    passed = {v["Ref"] for v in environment.values() if isinstance(v, dict) and "Ref" in v}
    properties = {v["Ref"] for v in fleet["Properties"].values() if isinstance(v, dict) and "Ref" in v}
    ignored = {"AWS::StackName", "WarningTopic", "LedgerTable", "InfoTopic", "CriticalTopic", "LedgerRetentionDays"}
    ignored |= {"ReportsBucket"}  # what its messages link to (every function has it), not what the alarms read
    assert passed - ignored <= properties


ALARM_WRITES = {"cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource"}


def test_alarm_management_is_limited_to_the_stacks_own_alarms(transformed: dict[str, Any]) -> None:
    stack = {"Ref": "AWS::StackName"}
    seen = set()
    for owner, statement in _statements(transformed):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        writes = set(actions) & ALARM_WRITES
        dashboard_writes = set(actions) & {"cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"}
        if not writes and not dashboard_writes:
            continue
        # PromoteCanary puts and deletes a component rollout's verdict alarm, by its name (component.py).
        assert owner in ("AlarmManagerFunctionRole", "PromoteCanaryFunctionRole"), f"{owner} may change alarms"
        assert set(actions) == writes or set(actions) == dashboard_writes | {"cloudwatch:GetDashboard"}
        if dashboard_writes:
            assert owner == "AlarmManagerFunctionRole", f"{owner} may change dashboards"
            name = statement["Resource"]["Fn::Sub"]
            assert name.endswith(":dashboard/model-medic_${AWS::StackName}_${AWS::Region}_*"), name
            seen |= dashboard_writes
            continue
        pattern = ":alarm:*" if owner == "AlarmManagerFunctionRole" else ":alarm:*-RolloutVerdict"
        assert statement["Resource"]["Fn::Sub"].endswith(pattern)
        condition = statement["Condition"]
        if writes == {"cloudwatch:DeleteAlarms"}:
            assert condition == {"StringEquals": {"aws:ResourceTag/model-medic:stack": stack}}
        else:
            assert condition["StringEquals"] == {"aws:RequestTag/model-medic:stack": stack}
            assert condition["ForAllValues:StringEquals"]["aws:TagKeys"] == ["model-medic:stack"]
            if "cloudwatch:PutMetricAlarm" in writes:
                assert condition["ForAllValues:StringEquals"]["cloudwatch:AlarmActions"] == [
                    {"Ref": "CriticalTopic"},
                    {"Ref": "WarningTopic"},
                ]
        seen |= writes
    assert seen == ALARM_WRITES | {"cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"}


def _statements(transformed: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, role in resources_of(transformed, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            found += [(name, s) for s in policy["PolicyDocument"]["Statement"]]
    for name, policy in resources_of(transformed, "AWS::IAM::ManagedPolicy").items():
        found += [(name, s) for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    # A conditional statement (Fn::If [condition, statement, AWS::NoValue]) counts as the statement.
    return [(name, _unless_condition(s)) for name, s in found if _unless_condition(s) is not None]


def _unless_condition(statement: dict[str, Any]) -> Any:
    if "Fn::If" not in statement:
        return statement
    _, when_true, when_false = statement["Fn::If"]
    return next((s for s in (when_true, when_false) if isinstance(s, dict) and "Effect" in s), None)


# The only actions allowed on every resource: those that have no resource-level permissions.
WILDCARD_RESOURCE_ACTIONS = {
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:RegisterScalableTarget",
    "cloudwatch:ListMetrics",
    "cloudwatch:GetMetricData",
    "cloudwatch:PutMetricData",
    "sagemaker:ListEndpoints",
    "sagemaker:ListTags",
    # The alarm manager names each endpoint's inference components: a list, no resource type.
    "sagemaker:ListInferenceComponents",
    "tag:GetResources",
    "cloudwatch:ListDashboards",
    # PromoteCanary reads the endpoints' states in pages (rollout/targets.py): a search, not a read of one ARN.
    "sagemaker:Search",
}


def test_iam_is_least_privilege(transformed: dict[str, Any]) -> None:
    statements = _statements(transformed)
    assert statements
    for owner, statement in statements:
        assert statement["Effect"] == "Allow", owner
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            _, verb = action.split(":")
            assert "*" not in verb or verb.startswith("GenerateDataKey"), f"{owner}: {action}"
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if "*" in resources:
            assert set(actions) <= WILDCARD_RESOURCE_ACTIONS, f"{owner}: {actions} on *"
            if "cloudwatch:PutMetricData" in actions:  # only into the namespace the function owns
                assert statement["Condition"]["StringEquals"]["cloudwatch:namespace"], owner


def test_action_functions_share_the_ledger_and_telling_policy(transformed: dict[str, Any]) -> None:
    for name in ("ScaleUpFunctionRole", "StartRetrainingFunctionRole", "RollbackModelFunctionRole"):
        managed = transformed["Resources"][name]["Properties"]["ManagedPolicyArns"]
        assert {"Ref": "ActionFunctionsPolicy"} in managed, name


def test_each_endpoint_has_a_dashboard_with_its_metrics() -> None:
    from model_medic.fleet.alarm_catalog import dashboard_body, dashboard_name

    assert dashboard_name("model-medic", "us-east-1", "churn-prod") == "model-medic_model-medic_us-east-1_churn-prod"
    import json

    arns = [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:churn-prod-{s}" for s in ("HighErrorRate", "HighLatency")]
    body = json.loads(dashboard_body("model-medic", "us-east-1", "churn-prod", arns))
    text = json.dumps(body)
    for metric in (
        "Invocations",
        "Invocation5XXErrors",
        "ModelLatency",
        "OverheadLatency",
        "TotalLatency",
        "ErrorRate",
        "MaxFeatureDrift",
        "accuracy",
        "Outcome_acted",
    ):
        assert metric in text, metric
    [alarms] = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert alarms["properties"]["alarms"] == arns
