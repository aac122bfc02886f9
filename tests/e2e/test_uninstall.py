"""Uninstall, end to end: a stack deployed into moto server, run for part of the demo (a
scale-up and its stepwise give-back, the daily report), then deleted - the stack deletes,
and what is left is exactly what README "Uninstall" says is kept, readable.

Its own server and stack (the demo module's stack must live for its whole module)."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from localcloud import scenarios, template, world
from localcloud.__main__ import parameters, simulate_aws, start_server
from localcloud.cloud import ROOT, LocalCloud

pytestmark = pytest.mark.slow
START = datetime.now(UTC).replace(second=0, microsecond=0)
README = (ROOT / "README.md").read_text()


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    server, port = start_server(ROOT / ".localcloud" / "moto-uninstall.log")
    try:
        local = LocalCloud(f"http://127.0.0.1:{port}", stack_name="model-medic-uninstall")
        world.seed_fleet(local)
        local.deploy(parameters("enforce"))
        world.seed(local, START)
        simulate_aws(local)
        yield local
    finally:
        server.terminate()
        server.wait(timeout=10)


def kept_in_readme() -> set[str]:
    """The logical IDs README's "Uninstall" table says are kept (first column, in backticks)."""
    section = README.split("### Uninstall", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    resources = template.load()["Resources"]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Za-z]+)`", row.split("|")[1]) if name in resources}


def test_a_stack_that_ran_deletes_and_leaves_exactly_what_the_readme_says(cloud: LocalCloud) -> None:
    timeline = scenarios.Timeline(cloud, START)
    timeline.decisions(cloud.endpoint_state_changed(world.ENDPOINT, START))
    scenarios.latency_scale_up_and_back(timeline)  # incidents, boosts given back step by step
    [report] = cloud.tick("DailyReportFunction", timeline.now + timedelta(days=1))  # reports in the bucket
    assert report.error is None, report.logs
    resources = dict(cloud.stack.resources)
    outputs = dict(cloud.stack.outputs)
    alarms_before = cloud.client("cloudwatch").describe_alarms(AlarmNamePrefix=world.ENDPOINT)["MetricAlarms"]
    assert alarms_before
    logs = cloud.client("logs")
    prefix = f"/aws/lambda/{cloud.stack.name}/"
    before = {g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]}
    assert before == {f"{prefix}{k}" for k in resources if k.endswith("Function")}  # one a function

    status = cloud.delete()
    assert status.startswith("DELETE_COMPLETE"), status

    assert kept_in_readme() == {"LedgerTable", "TopicKey", "ReportsBucket", "AccessLogsBucket"}
    # Kept, and still readable: the ledger with the run's decisions (its key is not deleted).
    dynamodb = cloud.client("dynamodb")
    table = outputs["LedgerTableName"]
    assert dynamodb.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"
    items = dynamodb.scan(TableName=table)["Items"]
    assert any(item.get("kind", {}).get("S") == "decision" for item in items)
    key = cloud.client("kms").describe_key(KeyId=outputs["TopicKeyArn"])["KeyMetadata"]
    assert (key["KeyState"], key["Enabled"]) == ("Enabled", True)
    s3 = cloud.client("s3")
    reports = s3.list_objects_v2(Bucket=outputs["ReportsBucketName"], Prefix="reports/").get("Contents", [])
    assert reports
    s3.head_bucket(Bucket=resources["AccessLogsBucket"])
    # Gone: everything else of the stack, and the fleet's alarms and dashboards.
    lambda_ = cloud.client("lambda")
    names = {f["FunctionName"] for f in lambda_.list_functions()["Functions"]}
    functions = {resources[k] for k in resources if k.endswith("Function")}
    assert functions
    assert not functions & names
    assert logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"] == []
    topics = {t["TopicArn"] for t in cloud.client("sns").list_topics()["Topics"]}
    assert not {outputs["CriticalTopicArn"], outputs["WarningTopicArn"], outputs["InfoTopicArn"]} & topics
    assert outputs["DeadLetterQueueUrl"] not in cloud.client("sqs").list_queues().get("QueueUrls", [])
    assert cloud.client("ssm").get_parameters(Names=[outputs["AutomationModeParameterName"]])["Parameters"] == []
    aliases = {a["AliasName"] for a in cloud.client("kms").list_aliases()["Aliases"]}
    assert f"alias/model-medic/{cloud.stack.name}" not in aliases
    assert cloud.client("cloudwatch").describe_alarms(AlarmNamePrefix=world.ENDPOINT)["MetricAlarms"] == []
    health = [f"{cloud.stack.name}-DeadLetters", f"{cloud.stack.name}-LettersNotSent"]
    assert resources["DeadLetterAlarm"] == health[0]  # made with the stack, and deleted with it
    assert cloud.client("cloudwatch").describe_alarms(AlarmNames=health)["MetricAlarms"] == []
    # The endpoints are the account's: untouched.
    endpoint = cloud.client("sagemaker").describe_endpoint(EndpointName=world.ENDPOINT)
    assert endpoint["EndpointStatus"] == "InService"
