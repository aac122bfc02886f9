"""The template's foundation: transform, encryption, dead-letter wiring, kill switch, outputs."""

from typing import Any

from tests.template.conftest import PARAMETERS, resources_of


def test_sam_transform_succeeds_and_yields_the_functions(transformed: dict[str, Any]):
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
):
    functions = resources_of(transformed, "AWS::Lambda::Function")
    configs = resources_of(transformed, "AWS::Lambda::EventInvokeConfig")
    configured = {config["Properties"]["FunctionName"]["Ref"]: config["Properties"] for config in configs.values()}
    for name in functions:
        assert name in configured, f"{name} has no EventInvokeConfig"
        invoke = configured[name]
        assert invoke["MaximumRetryAttempts"] == 2
        assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}


def test_the_topic_key_lets_cloudwatch_publish_and_every_topic_uses_it(transformed: dict[str, Any]):
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


def test_data_is_encrypted_and_kept_private(transformed: dict[str, Any]):
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


def test_kill_switch_parameter_has_a_name_and_only_known_values(transformed: dict[str, Any]):
    parameter = transformed["Resources"]["AutomationModeParameter"]["Properties"]
    assert parameter["Name"] == {"Fn::Sub": "/model-medic/${AWS::StackName}/automation-mode"}
    assert parameter["Value"] == "inherit"
    assert parameter["AllowedPattern"] == "^(inherit|enforce|dry-run|off)$"


def test_parameters_refuse_wrong_values_at_deploy_time(source: dict[str, Any]):
    parameters = source["Parameters"]
    assert parameters["AutomationMode"]["AllowedValues"] == ["enforce", "dry-run", "off"]
    assert parameters["AutomationMode"]["Default"] == "dry-run"
    assert "AllowedPattern" in parameters["EndpointNames"]
    assert "AllowedPattern" in parameters["AlertEmail"]


def test_layer_is_built_by_sam_for_the_lambda_runtime(source: dict[str, Any]):
    layer = source["Resources"]["CommonLayer"]
    assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}
    assert layer["Properties"]["ContentUri"] == "layers/common/"


def test_outputs_name_what_people_and_tests_need(source: dict[str, Any]):
    assert set(source["Outputs"]) >= {
        "CriticalTopicArn",
        "WarningTopicArn",
        "InfoTopicArn",
        "LedgerTableName",
        "ReportsBucketName",
        "DeadLetterQueueUrl",
        "AutomationModeParameterName",
    }


def test_each_named_endpoint_gets_one_alarm_stack_and_no_more(source: dict[str, Any]):
    from localcloud import template

    for names, expected in (("a", 1), ("a,b", 2), ("a,b,c,d,e", 5)):
        alarms = template.endpoint_alarms(source, {**PARAMETERS, "EndpointNames": names})
        assert len(alarms) == 6 * expected, names
        assert {a["Dimensions"][0]["Value"] for a in alarms} == set(names.split(","))


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
}


def test_iam_is_least_privilege(transformed: dict[str, Any]):
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


def test_action_functions_share_the_ledger_and_telling_policy(transformed: dict[str, Any]):
    for name in ("ScaleUpFunctionRole", "StartRetrainingFunctionRole", "RollbackModelFunctionRole"):
        managed = transformed["Resources"][name]["Properties"]["ManagedPolicyArns"]
        assert {"Ref": "ActionFunctionsPolicy"} in managed, name


def test_each_endpoint_has_a_dashboard_with_its_metrics(source: dict[str, Any]):
    from localcloud import template

    main = template.load()
    parent = template.Resolver(main, template.parameter_values(main, PARAMETERS))
    app = main["Resources"]["EndpointAlarms1"]["Properties"]
    nested = template.load(template.ROOT / app["Location"])
    passed = {name: parent.resolve(value) for name, value in app["Parameters"].items()}
    child = template.Resolver(nested, template.parameter_values(nested, passed))
    dashboard = child.resolve(nested["Resources"]["Dashboard"]["Properties"])
    assert dashboard["DashboardName"] == "model-medic-churn-prod"
    import json

    body = json.loads(dashboard["DashboardBody"])  # valid JSON once substituted
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
    assert [w["type"] for w in body["widgets"]].count("alarm") == 1
