"""The local cloud: template.yaml deployed into moto server, and AWS's deliveries emulated.

* `deploy`: `sam build`, `sam package` into a bucket in moto, the SAM transform, and a
  CloudFormation stack in moto. moto's CloudFormation skips SNS subscriptions and
  EventInvokeConfig (docs/aws-behaviours.md, "moto gaps"): those are made here from the
  transformed template, never from a copy. It cannot run a Lambda-backed custom resource
  either: deploy plays CloudFormation's part itself - it sends the function the Create
  request, with a ResponseURL served here, and fails unless the answer is SUCCESS. That is
  how the stack gets its alarms: AlarmManagerFunction reconciles the fleet.
* `invoke`: the `sam local invoke` contract without Docker - the deployed function's
  handler and environment, run by `localcloud.runner` in a process of its own (forked from
  one that imported the libraries once: a cold start without the start-up work) whose AWS calls go
  to moto. The code is the built artifact (.aws-sam/build/<LogicalId>); the layer's
  package comes from layers/common and its dependencies from the project environment,
  which pins the same versions (the built layer holds arm64 binaries).
* `alarm`: sets the state in moto, then delivers what CloudWatch would - only on a
  transition: an alarm already in the requested state sets and delivers nothing ("the
  actions happen only on state transitions",
  docs/aws-behaviours.md, "Alarm actions run only on transitions"). Otherwise: the alarm
  message to the action topics' Lambda subscriptions whose filter policy matches (moto's own
  matcher), and the EventBridge state-change event to the rules whose pattern matches
  (moto's own pattern evaluator). Asynchronous semantics: two retries, then the event goes
  to the function's on-failure destination.
* `evaluate_alarm`: what moto does not do - judge a metric alarm from its metric's
  datapoints as CloudWatch would (`cloudwatch.evaluate`: M out of N, missing data) and, on a
  transition, set and deliver it like `alarm`.
* `tick`: a scheduled event from the function's schedule rule.
* `deliver_queues`: what Lambda's SQS event source mappings do (localcloud/queues.py): every
  message on a queue the stack maps to a function is delivered to it in batches, partial
  batch responses honoured, failures retried until the queue's redrive policy parks them.
  moto cannot (it would hand them to Docker: moto_extensions.py,
  `sqs_event_source_mappings_polled_here`). Run after every invocation that sent a message
  (`Invocation.delivered` holds the deliveries it caused), as Lambda's pollers would pick
  the messages up within seconds.
* `register_package`, `approve_package`, `set_package_approval`,
  `model_package_state_changed`: the model registry as a person or a pipeline uses it
  (CreateModelPackage / UpdateModelPackage at the simulated time), then the "SageMaker
  Model Package State Change" event SageMaker sends, delivered to the matching rules
  (localcloud/sagemaker_events.py has its shape and sources). Rejections made by Model
  Medic itself are API calls only: call `model_package_state_changed` to deliver theirs.
* `endpoint_state_changed`, `delete_endpoint`: the "SageMaker Endpoint State Change"
  event SageMaker sends when an endpoint's status changes (built from DescribeEndpoint and
  its tags, localcloud/sagemaker_events.py), delivered to the matching rules; deleting an
  endpoint sends its `DELETING` event, built from the endpoint as it was just before.
  `endpoints_changed` sends, for every endpoint whose status or last change moved since it
  last looked (ListEndpoints), the event SageMaker sends for it - as an update the service
  made finishes, SageMaker tells EventBridge without anyone asking.
* `set_clock`, `set_update_seconds`, `set_range_moves_capacity`, `fail_next_update`: the
  simulation settings of the moto server's extensions (localcloud/moto_extensions.py),
  through its `/moto-api/model-medic/...` routes. `invoke` sets the server's clock to the
  invocation's time first, so moto's endpoint updates and the handler share one clock.
  Updates are instant unless `set_update_seconds` (or MODEL_MEDIC_MOTO_UPDATE_SECONDS in
  the server's environment) says otherwise, and a new scalable-target range moves no
  instances unless `set_range_moves_capacity(True)`: the default deploy keeps the demo's
  assumptions.
"""

from __future__ import annotations

import fcntl
import hashlib
import http.server
import json
import os
import subprocess
import tempfile
import threading
import urllib.request
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, overload

import boto3
from moto.events.models import EventPattern
from moto.sns.utils import FilterPolicyMatcher
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from localcloud import cloudwatch, model_quality, moto_extensions, sagemaker_events, template
from localcloud.queues import QueuePoller
from localcloud.runner import WarmRunner

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.literals import StateValueType
    from mypy_boto3_cloudwatch.type_defs import MetricStatTypeDef
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_resourcegroupstaggingapi import ResourceGroupsTaggingAPIClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.literals import ModelApprovalStatusType
    from mypy_boto3_sagemaker.type_defs import ModelPackageContainerDefinitionTypeDef
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

ROOT = template.ROOT
BUILD = ROOT / ".aws-sam" / "build"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
ACCOUNT = "123456789012"
ARTIFACTS_BUCKET = "model-medic-local-artifacts"
# The alarm's actions that run on entering each state.
ACTIONS: dict[str, Literal["AlarmActions", "OKActions", "InsufficientDataActions"]] = {
    "ALARM": "AlarmActions",
    "OK": "OKActions",
    "INSUFFICIENT_DATA": "InsufficientDataActions",
}
ASYNC_ATTEMPTS = 3  # the first try and Lambda's two retries of an asynchronous invocation


@dataclass
class Invocation:
    """One run of a function: what it returned or raised, and what it logged."""

    function: str
    event: Any
    result: Any = None
    error: str | None = None
    logs: str = ""
    attempts: int = 1
    parked: bool = False  # sent to the dead-letter queue after the last attempt
    calls: tuple[str, ...] = ()  # the AWS calls it made ("sagemaker:DescribeEndpoint"), runner.py
    # The invocations of the queue messages it sent, by the stack's event source mappings.
    delivered: list[Invocation] = field(default_factory=list)

    @property
    def outcomes(self) -> list[dict[str, Any]]:
        if isinstance(self.result, dict):
            return list(self.result.get("outcomes", []))
        return []


@dataclass
class AlarmEvaluation:
    """An alarm judged from its datapoints: the values of its periods, oldest first."""

    alarm: str
    values: list[float | None]
    threshold: float
    previous: str
    state: str
    invocations: list[Invocation] = field(default_factory=list)


@dataclass
class Stack:
    name: str
    resources: dict[str, str] = field(default_factory=dict)  # logical id -> physical id
    outputs: dict[str, str] = field(default_factory=dict)
    invoke_configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # function -> config


class LocalCloud:
    def __init__(self, endpoint_url: str, region: str = "us-east-1", stack_name: str = "model-medic-local") -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.stack = Stack(stack_name)
        # Each endpoint's (status, LastModifiedTime) when `endpoints_changed` last looked.
        self._endpoints_seen: dict[str, tuple[str, str]] | None = None
        self.calls: dict[str, set[str]] = {}  # every AWS call each function made, by logical ID
        self._custom: dict[str, dict[str, Any]] = {}  # the stack's custom resources, answered here
        # Each invocation a child of one warm process (localcloud/runner.py, `--serve`), ended with this cloud.
        self._runner = WarmRunner(str(ROOT))
        weakref.finalize(self, self._runner.close)
        self._session = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
            region_name=region,
        )
        self._clients: dict[str, Any] = {}

    # Each service's client type (mypy-boto3-*, development only); boto3 itself is untyped.
    @overload
    def client(self, service: Literal["application-autoscaling"]) -> ApplicationAutoScalingClient: ...
    @overload
    def client(self, service: Literal["cloudformation"]) -> CloudFormationClient: ...
    @overload
    def client(self, service: Literal["cloudwatch"]) -> CloudWatchClient: ...
    @overload
    def client(self, service: Literal["dynamodb"]) -> DynamoDBClient: ...
    @overload
    def client(self, service: Literal["events"]) -> EventBridgeClient: ...
    @overload
    def client(self, service: Literal["kms"]) -> KMSClient: ...
    @overload
    def client(self, service: Literal["lambda"]) -> LambdaClient: ...
    @overload
    def client(self, service: Literal["logs"]) -> CloudWatchLogsClient: ...
    @overload
    def client(self, service: Literal["resourcegroupstaggingapi"]) -> ResourceGroupsTaggingAPIClient: ...
    @overload
    def client(self, service: Literal["s3"]) -> S3Client: ...
    @overload
    def client(self, service: Literal["sagemaker"]) -> SageMakerClient: ...
    @overload
    def client(self, service: Literal["sns"]) -> SNSClient: ...
    @overload
    def client(self, service: Literal["sqs"]) -> SQSClient: ...
    @overload
    def client(self, service: Literal["ssm"]) -> SSMClient: ...
    def client(self, service: str) -> Any:
        # One client per service: building one parses its model and wires its handlers anew
        # (a tenth of the demo driver's time when each call built its own); clients are thread-safe.
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self.endpoint_url)
        return self._clients[service]

    def aws_env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    # --- the moto server's simulation settings (localcloud/moto_extensions.py) -----------

    def _simulation(self, route: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - the local moto server's own URL
            f"{self.endpoint_url}/moto-api/model-medic/{route}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return dict(json.loads(answer.read() or b"{}"))

    def set_clock(self, at: datetime | None) -> None:
        """moto's simulated clock: `at` from now on, ticking; None: the server's real clock."""
        self._simulation("clock", {"at": None if at is None else at.isoformat()})

    def set_update_seconds(self, seconds: float) -> None:
        """How long every endpoint change stays `Updating` in moto (simulated seconds)."""
        self._simulation("update-seconds", {"seconds": seconds})

    def set_range_moves_capacity(self, on: bool) -> None:
        """Whether RegisterScalableTarget scales a variant into its new range (as AWS does)."""
        self._simulation("range-moves-capacity", {"on": on})

    def fail_next_update(self, endpoint: str, reason: str = "") -> None:
        """The endpoint's next UpdateEndpoint rolls back to its old config, with `reason`."""
        self._simulation("fail-next-update", {"endpoint": endpoint, "reason": reason})

    def finish_pipelines(self, status: str = "Succeeded") -> int:
        """End every Executing pipeline execution in moto with `status` (Succeeded, Failed, Stopped)."""
        body = {"account": ACCOUNT, "region": self.region, "status": status}
        return int(self._simulation("finish-pipelines", body)["ended"])

    # --- deploy ---------------------------------------------------------------------------

    def deploy(self, parameters: dict[str, str], say: Callable[[str], None] = lambda _: None) -> Stack:
        """template.yaml built, packaged, transformed and created as a stack in moto; its custom
        resources answered by invoking their functions. `say`: each stage as it starts."""
        env = {**os.environ, **self.aws_env(), "PYENV_VERSION": "3.13.0", "SAM_CLI_TELEMETRY": "0"}
        _build(env, say)
        s3 = self.client("s3")
        s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
        with tempfile.TemporaryDirectory() as work:
            packaged = Path(work) / "packaged.yaml"
            say("  sam package (artifacts to the local cloud's S3)...")
            _run(
                [
                    str(SAM),
                    "package",
                    "--template-file",
                    str(BUILD / "template.yaml"),
                    "--s3-bucket",
                    ARTIFACTS_BUCKET,
                    "--output-template-file",
                    str(packaged),
                ],
                env,
            )
            source = yaml_parse(packaged.read_text())
        say("  SAM transform and CloudFormation create-stack in moto...")
        with _environ({"AWS_DEFAULT_REGION": self.region}):
            cfn = transform(source, parameters, _NoManagedPolicies())
        custom = {k: r for k, r in cfn["Resources"].items() if r["Type"].startswith("Custom::")}
        for logical_id in custom:  # answered below, by invoking their functions
            del cfn["Resources"][logical_id]
        for resource in cfn["Resources"].values():
            depends = resource.get("DependsOn")
            if depends is not None:
                kept = [d for d in ([depends] if isinstance(depends, str) else depends) if d not in custom]
                resource.pop("DependsOn")
                if kept:
                    resource["DependsOn"] = kept
        cloudformation = self.client("cloudformation")
        cloudformation.create_stack(
            StackName=self.stack.name,
            TemplateBody=json.dumps(cfn),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        described = cloudformation.describe_stacks(StackName=self.stack.name)["Stacks"][0]
        if described["StackStatus"] != "CREATE_COMPLETE":
            raise RuntimeError(
                f"stack {self.stack.name}: {described['StackStatus']} {described.get('StackStatusReason')}"
            )
        self.load()
        self._materialise(cfn)
        self._custom = custom
        for logical_id, resource in custom.items():
            say(f"  custom resource {logical_id}: Create...")
            self.custom_resource(logical_id, resource, "Create")
        return self.stack

    def delete(self) -> str:
        """CloudFormation's stack delete: each custom resource's Delete request first (it depends
        on its function, so CloudFormation deletes it before the function), then the stack;
        returns the stack's final status (DELETE_COMPLETE, or why not)."""
        for logical_id, resource in self._custom.items():
            self.custom_resource(logical_id, resource, "Delete")
        cloudformation = self.client("cloudformation")
        stack_id = cloudformation.describe_stacks(StackName=self.stack.name)["Stacks"][0]["StackId"]
        cloudformation.delete_stack(StackName=self.stack.name)
        described = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]
        return f"{described['StackStatus']} {described.get('StackStatusReason') or ''}".strip()

    def custom_resource(self, logical_id: str, resource: dict[str, Any], kind: str) -> dict[str, Any]:
        """CloudFormation's part for a Lambda-backed custom resource: the request, with a
        ResponseURL served here, to the function; returns the response (raises unless SUCCESS)."""
        properties = dict(resource["Properties"])
        function = properties["ServiceToken"]["Fn::GetAtt"][0]
        request = {
            "RequestType": kind,
            "ServiceToken": self._function_arn(function),
            "StackId": f"arn:aws:cloudformation:{self.region}:{ACCOUNT}:stack/{self.stack.name}/local",
            "RequestId": str(uuid.uuid4()),
            "ResourceType": resource["Type"],
            "LogicalResourceId": logical_id,
            "ResourceProperties": {k: v for k, v in properties.items() if k != "ServiceToken"},
        }
        if kind != "Create":
            request["PhysicalResourceId"] = f"{self.stack.name}-fleet-alarms"
        invocation, answer = self.answer_custom_resource(function, request, datetime.now(UTC))
        if answer is None or answer.get("Status") != "SUCCESS":
            raise RuntimeError(f"custom resource {logical_id} {kind}: {answer} {invocation.error or ''}")
        return answer

    def answer_custom_resource(
        self, logical_id: str, request: dict[str, Any], at: datetime
    ) -> tuple[Invocation, dict[str, Any] | None]:
        """Invoke the function on a custom resource request with a ResponseURL served here, on
        loopback (where AWS gives a pre-signed S3 URL); returns the run and the response it PUT, or None."""
        with _ResponseCatcher() as catcher:
            invocation = self.invoke(logical_id, {**request, "ResponseURL": catcher.url}, at)
            return invocation, catcher.answer

    def load(self) -> Stack:
        """Read the deployed stack's resources and outputs from moto."""
        cloudformation = self.client("cloudformation")
        summaries = cloudformation.list_stack_resources(StackName=self.stack.name)["StackResourceSummaries"]
        self.stack.resources = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in summaries}
        outputs = cloudformation.describe_stacks(StackName=self.stack.name)["Stacks"][0].get("Outputs", [])
        self.stack.outputs = {o["OutputKey"]: o["OutputValue"] for o in outputs}
        body = cloudformation.get_template(StackName=self.stack.name)["TemplateBody"]
        deployed = body if isinstance(body, dict) else json.loads(body)
        self.stack.invoke_configs = {
            r["Properties"]["FunctionName"]["Ref"]: r["Properties"]
            for r in deployed["Resources"].values()
            if r["Type"] == "AWS::Lambda::EventInvokeConfig"
        }
        return self.stack

    def _materialise(self, cfn: dict[str, Any]) -> None:
        """What moto's CloudFormation skips, from the template's own definitions."""
        sns = self.client("sns")
        for resource in cfn["Resources"].values():
            properties = resource.get("Properties", {})
            if resource["Type"] == "AWS::SNS::Subscription" and properties["Protocol"] == "lambda":
                attributes = {}
                if "FilterPolicy" in properties:
                    attributes["FilterPolicy"] = json.dumps(properties["FilterPolicy"])
                    attributes["FilterPolicyScope"] = properties.get("FilterPolicyScope", "MessageAttributes")
                sns.subscribe(
                    TopicArn=self._physical(properties["TopicArn"]),
                    Protocol="lambda",
                    Endpoint=self._function_arn(properties["Endpoint"]["Fn::GetAtt"][0]),
                    Attributes=attributes,
                )

    def _physical(self, ref: Any) -> str:
        if isinstance(ref, dict) and "Ref" in ref:
            logical = ref["Ref"]
            physical = self.stack.resources[logical]
            if logical.endswith("Topic") and not physical.startswith("arn:"):
                return f"arn:aws:sns:{self.region}:{ACCOUNT}:{physical}"
            return physical
        return str(ref)

    def _function_arn(self, logical_id: str) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{self.stack.resources[logical_id]}"

    def logical_id_of(self, function_arn: str) -> str:
        name = function_arn.split(":function:", 1)[1].split(":")[0]
        return next(k for k, v in self.stack.resources.items() if v == name)

    # --- invoke -------------------------------------------------------------------------

    def env_vars(self, endpoint_url: str | None = None) -> dict[str, dict[str, str]]:
        """The `--env-vars` file of `sam local invoke` for the deployed functions: each one's
        variables as deployed (what its `!Ref`s resolved to here, where `sam local` alone would
        leave logical IDs), with AWS_ENDPOINT_URL pointing at this local cloud (or `endpoint_url`,
        the address a container reaches it at)."""
        found: dict[str, dict[str, str]] = {}
        client = self.client("lambda")
        for logical_id, name in sorted(self.stack.resources.items()):
            if not logical_id.endswith("Function"):
                continue
            config = client.get_function_configuration(FunctionName=name)
            variables = {k: str(v) for k, v in config.get("Environment", {}).get("Variables", {}).items()}
            found[logical_id] = {**variables, "AWS_ENDPOINT_URL": endpoint_url or self.endpoint_url}
        return found

    def invoke(self, logical_id: str, event: Any, at: datetime) -> Invocation:
        """Run the deployed function once, synchronously (`sam local invoke`), at `at`."""
        self.set_clock(at)  # moto's endpoint updates and the handler share one clock
        name = self.stack.resources[logical_id]
        config = self.client("lambda").get_function_configuration(FunctionName=name)
        variables = {k: str(v) for k, v in config.get("Environment", {}).get("Variables", {}).items()}
        env = {
            "PATH": os.environ.get("PATH", ""),
            **variables,
            **self.aws_env(),
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize", 128)),
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
        }
        with tempfile.TemporaryDirectory() as work:
            request, result = Path(work) / "request.json", Path(work) / "result.json"
            request.write_text(
                json.dumps(
                    {
                        "paths": [str(BUILD / logical_id), str(ROOT / "layers" / "common")],
                        "handler": config["Handler"],
                        "event": event,
                        "at": at.isoformat(),
                        "function_name": name,
                        "request_id": str(uuid.uuid4()),
                        "timeout": config.get("Timeout", 3),
                        "memory": config.get("MemorySize", 128),
                    }
                )
            )
            stdout, stderr = self._runner.run(request, result, {**env, "PYTHONPATH": str(ROOT)})
            answer = json.loads(result.read_text()) if result.exists() else {"error": stderr[-2000:]}
        calls = tuple(answer.get("calls", ()))
        self.calls.setdefault(logical_id, set()).update(calls)
        invocation = Invocation(
            function=logical_id,
            event=event,
            result=answer.get("result"),
            error=answer.get("error"),
            logs=stdout + stderr,
            calls=calls,
        )
        if any(call.startswith("sqs:SendMessage") for call in calls):
            invocation.delivered = self.deliver_queues(at)
        return invocation

    def invoke_async(self, logical_id: str, event: Any, at: datetime) -> Invocation:
        """An asynchronous invocation: retried twice on error, then parked in the DLQ."""
        for attempt in range(1, ASYNC_ATTEMPTS + 1):
            invocation = self.invoke(logical_id, event, at)
            invocation.attempts = attempt
            if invocation.error is None:
                return invocation
        destination = self.stack.invoke_configs.get(logical_id, {}).get("DestinationConfig", {}).get("OnFailure")
        if destination is not None:
            queue_arn = self._queue_arn(destination["Destination"])
            sqs = self.client("sqs")
            url = sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[1])["QueueUrl"]
            record = {
                "version": "1.0",
                "timestamp": at.isoformat(),
                "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": ASYNC_ATTEMPTS},
                "requestPayload": event,
                "responsePayload": {"errorMessage": invocation.error},
            }
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record, default=str))
            invocation.parked = True
        return invocation

    def _queue_arn(self, destination: Any) -> str:
        if isinstance(destination, dict) and "Fn::GetAtt" in destination:
            url = self.stack.resources[destination["Fn::GetAtt"][0]]
            name = url.rsplit("/", 1)[1]
            return f"arn:aws:sqs:{self.region}:{ACCOUNT}:{name}"
        return str(destination)

    # --- queues: Lambda's SQS event source mappings ------------------------------------------

    def deliver_queues(self, at: datetime) -> list[Invocation]:
        """Every message on a queue of an enabled SQS event source mapping, delivered to its
        function at `at` as Lambda's poller does (localcloud/queues.py); the invocations, in order."""
        delivered: list[Invocation] = []
        sqs = self.client("sqs")
        mappings = self.client("lambda").get_paginator("list_event_source_mappings").paginate()
        for mapping in (m for page in mappings for m in page["EventSourceMappings"]):
            source = mapping.get("EventSourceArn", "")
            if not source.startswith("arn:aws:sqs:") or mapping.get("State", "Enabled") != "Enabled":
                continue
            function = self.logical_id_of(mapping["FunctionArn"])
            url = sqs.get_queue_url(QueueName=source.rsplit(":", 1)[1])["QueueUrl"]
            reports = "ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", [])
            poller = QueuePoller(sqs, url, mapping.get("BatchSize", 10), reports, self.region)

            def invoke(event: dict[str, Any], function: str = function) -> tuple[Any, str | None]:
                invocation = self.invoke(function, event, at)
                delivered.append(invocation)
                return invocation.result, invocation.error

            poller.drain(invoke)
        return delivered

    # --- alarms, events and schedules ----------------------------------------------------------

    def alarm(self, name: str, state: str, at: datetime, reason: str = "") -> list[Invocation]:
        """Set the alarm's state and deliver what CloudWatch would, through the real wiring."""
        [alarm] = self.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
        previous = alarm["StateValue"]
        reason = reason or f"local cloud: {name} set to {state}"
        if not self.set_alarm_state(name, state, at, reason):
            return []  # no transition: CloudWatch sets nothing and runs no action
        actions = ACTIONS[state]
        message = cloudwatch.sns_message(alarm, state, previous, reason, at, ACCOUNT, self.region)
        invocations = []
        for topic in alarm.get(actions, []):
            invocations += self.publish(topic, message, subject=f'{state}: "{name}" in {message["Region"]}', at=at)
        event = cloudwatch.state_change_event(alarm, state, previous, reason, at, ACCOUNT, self.region)
        invocations += self.put_event(event, at)
        return invocations

    def set_alarm_state(self, name: str, state: str, at: datetime, reason: str) -> bool:
        """The alarm's state change at `at`, delivering nothing; False (nothing set) when the
        metric alarm does not exist here or is in that state already."""
        cw = self.client("cloudwatch")
        found = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        if not found or found[0]["StateValue"] == state:
            return False
        self.set_clock(at)  # the state change is stamped with the simulated time, as its message is
        cw.set_alarm_state(AlarmName=name, StateValue=cast("StateValueType", state), StateReason=reason)
        return True

    def evaluate_alarm(self, name: str, at: datetime) -> AlarmEvaluation:
        """Judge the alarm from its metric's last EvaluationPeriods whole periods before `at`,
        as CloudWatch does; on a transition, set it and deliver what CloudWatch would."""
        cw = self.client("cloudwatch")
        [alarm] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
        period, periods = int(alarm["Period"]), int(alarm["EvaluationPeriods"])
        end = datetime.fromtimestamp(int(at.timestamp()) // period * period, tz=UTC)
        start = end - timedelta(seconds=period * periods)
        stat: MetricStatTypeDef = {
            "Metric": {
                "Namespace": alarm["Namespace"],
                "MetricName": alarm["MetricName"],
                "Dimensions": alarm.get("Dimensions", []),
            },
            "Period": period,
            "Stat": alarm["Statistic"],
        }
        if alarm.get("Unit"):
            stat["Unit"] = alarm["Unit"]
        [result] = cw.get_metric_data(
            MetricDataQueries=[{"Id": "m", "MetricStat": stat}], StartTime=start, EndTime=end
        )["MetricDataResults"]
        found = {int(t.timestamp()): float(v) for t, v in zip(result["Timestamps"], result["Values"], strict=True)}
        values = [found.get(int(start.timestamp()) + i * period) for i in range(periods)]
        state = cloudwatch.evaluate(alarm, values)
        evaluation = AlarmEvaluation(name, values, float(alarm["Threshold"]), alarm["StateValue"], state)
        if state != alarm["StateValue"]:
            shown = ", ".join("-" if v is None else f"{v:g}" for v in values)
            reason = f"local cloud: the last {periods} datapoints [{shown}], threshold {alarm['Threshold']:g}"
            evaluation.invocations = self.alarm(name, state, at, reason)
        return evaluation

    def publish(self, topic_arn: str, message: dict[str, Any], subject: str, at: datetime) -> list[Invocation]:
        """Deliver a message to the topic's Lambda subscribers whose filter policy matches."""
        sns = self.client("sns")
        body = json.dumps(message)
        invocations = []
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
        for subscription in subscriptions:
            if subscription["Protocol"] != "lambda":
                continue
            attributes = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])["Attributes"]
            policy = json.loads(attributes.get("FilterPolicy", "{}") or "{}")
            matcher = FilterPolicyMatcher(policy, attributes.get("FilterPolicyScope"))
            if not matcher.matches(None, body):
                continue
            record = {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription["SubscriptionArn"],
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": topic_arn,
                    "Subject": subject[: moto_extensions.SUBJECT_MAX],  # SNS takes fewer than 100 characters
                    "Message": body,
                    "Timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "MessageAttributes": {},
                },
            }
            invocations.append(
                self.invoke_async(self.logical_id_of(subscription["Endpoint"]), {"Records": [record]}, at)
            )
        return invocations

    def put_event(self, event: dict[str, Any], at: datetime) -> list[Invocation]:
        """Deliver an event on the default bus to the targets of every rule whose pattern matches."""
        events = self.client("events")
        invocations = []
        for rule in events.list_rules(EventBusName="default")["Rules"]:
            if "EventPattern" not in rule:
                continue
            # moto's own pattern evaluator (its TestEventPattern is not implemented).
            if not EventPattern.load(rule["EventPattern"]).matches_event(event):  # type: ignore[arg-type]
                continue
            for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]:
                if ":function:" in target["Arn"]:
                    invocations.append(self.invoke_async(self.logical_id_of(target["Arn"]), event, at))
        return invocations

    def object_created(self, bucket: str, key: str, at: datetime) -> list[Invocation]:
        """What S3 sends to EventBridge for a new object (with EventBridge notifications on)."""
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Object Created",
            "source": "aws.s3",
            "account": ACCOUNT,
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [f"arn:aws:s3:::{bucket}"],
            "detail": {"version": "0", "bucket": {"name": bucket}, "object": {"key": key}, "reason": "PutObject"},
        }
        return self.put_event(event, at)

    # --- the model registry ------------------------------------------------------------------

    def model_package_state_changed(self, package_arn: str, at: datetime) -> list[Invocation]:
        """Deliver SageMaker's "SageMaker Model Package State Change" event for the package as it is now."""
        described = self.client("sagemaker").describe_model_package(ModelPackageName=package_arn)
        event = sagemaker_events.model_package_state_change(described, at, ACCOUNT, self.region)
        return self.put_event(event, at)

    # --- endpoints ---------------------------------------------------------------------------

    def endpoint_state_changed(self, endpoint: str, at: datetime) -> list[Invocation]:
        """Deliver SageMaker's "SageMaker Endpoint State Change" event for the endpoint as it is now."""
        self.set_clock(at)
        described, tags = self._endpoint_and_tags(endpoint)
        if self._endpoints_seen is not None:
            self._endpoints_seen[endpoint] = _seen(described)
        return self.put_event(sagemaker_events.endpoint_state_change(described, tags, at, ACCOUNT, self.region), at)

    def endpoints_changed(self, at: datetime) -> list[tuple[str, list[Invocation]]]:
        """The state change SageMaker sends for each endpoint whose status or last change moved
        since the last look, delivered at `at`, as (what changed, in words; its invocations).
        An update begun and finished between two looks is one event, with the status it has now
        (SageMaker sends one at each status: `UPDATING`, then `IN_SERVICE`). The first look only
        takes note; a deleted endpoint's event is `delete_endpoint`'s."""
        self.set_clock(at)
        listed = self.client("sagemaker").get_paginator("list_endpoints").paginate()
        now = {e["EndpointName"]: _seen(e) for page in listed for e in page["Endpoints"]}
        before, self._endpoints_seen = self._endpoints_seen, now
        if before is None:
            return []
        sent = []
        for endpoint in sorted(n for n, seen in now.items() if before.get(n) != seen):
            described, tags = self._endpoint_and_tags(endpoint)
            event = sagemaker_events.endpoint_state_change(described, tags, at, ACCOUNT, self.region)
            said = f"{endpoint} {event['detail']['EndpointStatus']} on {described.get('EndpointConfigName')}"
            sent.append((said, self.put_event(event, at)))
        return sent

    def delete_endpoint(self, endpoint: str, at: datetime) -> list[Invocation]:
        """DeleteEndpoint at `at`, then deliver the `DELETING` state change SageMaker sends for it."""
        self.set_clock(at)
        described, tags = self._endpoint_and_tags(endpoint)
        self.client("sagemaker").delete_endpoint(EndpointName=endpoint)
        event = sagemaker_events.endpoint_state_change(described, tags, at, ACCOUNT, self.region, status="Deleting")
        return self.put_event(event, at)

    def _endpoint_and_tags(self, endpoint: str) -> tuple[dict[str, Any], dict[str, str]]:
        sagemaker = self.client("sagemaker")
        described: dict[str, Any] = dict(sagemaker.describe_endpoint(EndpointName=endpoint))
        listed = sagemaker.list_tags(ResourceArn=described["EndpointArn"]).get("Tags", [])
        return described, {t["Key"]: t["Value"] for t in listed}

    def register_package(
        self,
        group: str,
        image: str,
        at: datetime,
        *,
        approval: ModelApprovalStatusType = "PendingManualApproval",
        quality_report_uri: str | None = None,
        model_data_url: str | None = None,
        generated_by: str | None = None,
    ) -> tuple[str, list[Invocation]]:
        """Register a model package at `at` and deliver the state-change event SageMaker sends for it.

        SageMaker sends the event for a newly registered package too (localcloud/sagemaker_events.py),
        so a package registered already `Approved` reaches the rules like an approval does.
        """
        container: ModelPackageContainerDefinitionTypeDef = {"Image": image}
        if model_data_url:
            container["ModelDataUrl"] = model_data_url
        kwargs: dict[str, Any] = {}
        if quality_report_uri:
            kwargs["ModelMetrics"] = model_quality.model_metrics(quality_report_uri)
        if generated_by:
            kwargs["MetadataProperties"] = {"GeneratedBy": generated_by}
        self.set_clock(at)  # CreationTime is the simulated time
        arn = self.client("sagemaker").create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus=approval,
            InferenceSpecification={
                "Containers": [container],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            **kwargs,
        )["ModelPackageArn"]
        return str(arn), self.model_package_state_changed(str(arn), at)

    def approve_package(self, package_arn: str, at: datetime, description: str = "") -> list[Invocation]:
        """Approve the package in the registry at `at` (UpdateModelPackage), then deliver SageMaker's event."""
        return self.set_package_approval(package_arn, "Approved", at, description)

    def set_package_approval(
        self, package_arn: str, status: ModelApprovalStatusType, at: datetime, description: str = ""
    ) -> list[Invocation]:
        """Set the package's approval status at `at` as a person would, then deliver SageMaker's event."""
        self.set_clock(at)  # LastModifiedTime is the simulated time
        kwargs: dict[str, Any] = {"ApprovalDescription": description} if description else {}
        self.client("sagemaker").update_model_package(ModelPackageArn=package_arn, ModelApprovalStatus=status, **kwargs)
        return self.model_package_state_changed(package_arn, at)

    def set_package_status(self, package_arn: str, status: str, at: datetime) -> bool:
        """The package's approval status set at `at`, delivering nothing; False (nothing set)
        when the package does not exist here or has that status already."""
        sagemaker = self.client("sagemaker")
        try:
            described = sagemaker.describe_model_package(ModelPackageName=package_arn)
        except sagemaker.exceptions.ClientError:
            return False
        if described.get("ModelApprovalStatus") == status:
            return False
        self.set_clock(at)  # LastModifiedTime is the simulated time
        sagemaker.update_model_package(
            ModelPackageArn=package_arn, ModelApprovalStatus=cast("ModelApprovalStatusType", status)
        )
        return True

    def tick(self, function_or_rule: str, at: datetime) -> list[Invocation]:
        """The scheduled event of a function's schedule rule (or of the rule named)."""
        events = self.client("events")
        invocations = []
        for rule in events.list_rules(EventBusName="default")["Rules"]:
            if "ScheduleExpression" not in rule:
                continue
            targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
            for target in targets:
                if ":function:" not in target["Arn"]:
                    continue
                logical_id = self.logical_id_of(target["Arn"])
                if function_or_rule not in (logical_id, rule["Name"]):
                    continue
                event = {
                    "version": "0",
                    "id": str(uuid.uuid4()),
                    "detail-type": "Scheduled Event",
                    "source": "aws.events",
                    "account": ACCOUNT,
                    "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "region": self.region,
                    "resources": [rule["Arn"]],
                    "detail": {},
                }
                invocations.append(self.invoke_async(logical_id, event, at))
        if not invocations:
            raise KeyError(f"no schedule rule targets {function_or_rule}")
        return invocations


class _ResponseCatcher:
    """A one-shot HTTP server on loopback that takes the PUT a custom resource answers with."""

    def __init__(self) -> None:
        self.answer: dict[str, Any] | None = None
        catcher = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                catcher.answer = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/response"

    def __enter__(self) -> _ResponseCatcher:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


class _environ:
    def __init__(self, values: dict[str, str]) -> None:
        self._values = values
        self._saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        for key, value in self._values.items():
            self._saved[key] = os.environ.get(key)
            os.environ[key] = value

    def __exit__(self, *_: object) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _sources_digest() -> str:
    """What `sam build` builds from: the template, the functions and the layer (its code and its
    pinned requirements), file names and contents."""
    digest = hashlib.sha256()
    files = [ROOT / "template.yaml", ROOT / "layers" / "common" / "requirements.txt"]
    for tree in (ROOT / "functions", ROOT / "layers" / "common" / "model_medic"):
        files += sorted(p for p in tree.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _build(env: dict[str, str], say: Callable[[str], None]) -> None:
    """`sam build`, unless the build directory holds a build of these very sources (a second
    local cloud in one test run, or `make up` again with nothing changed). Under an exclusive
    lock on a file beside the build: local clouds deployed at once (the parallel test run's
    workers) wait for the one that builds, then use its build."""
    BUILD.parent.mkdir(parents=True, exist_ok=True)
    with (BUILD.parent / "build.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        stamp = BUILD / ".model-medic-sources"
        digest = _sources_digest()
        if (BUILD / "template.yaml").exists() and stamp.exists() and stamp.read_text() == digest:
            say("  sam build: the build of these sources is there already")
            return
        say("  sam build (the functions and the layer's pinned requirements)...")
        stamp.unlink(missing_ok=True)
        _run([str(SAM), "build", "--template", str(ROOT / "template.yaml"), "--build-dir", str(BUILD)], env)
        stamp.write_text(digest)


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=ROOT)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:2])} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def _seen(endpoint: Mapping[str, Any]) -> tuple[str, str]:
    """What tells that an endpoint changed: its status and its LastModifiedTime."""
    return str(endpoint["EndpointStatus"]), str(endpoint.get("LastModifiedTime"))
