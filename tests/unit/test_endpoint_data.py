"""An endpoint's data, resolved purely (endpoint_data.py): its capture from its DataCaptureConfig,
the stack's DataCaptureS3Uri only for an endpoint without one, its baseline or labels from its
settings, and what is missing said part by part."""

from typing import Any

import pytest

from model_medic.measure.endpoint_data import Capture, Missing, capture_of, resolve


def described(**config: Any) -> dict[str, Any]:
    """A DescribeEndpoint answer with a DataCaptureConfigSummary: botocore's shape marks every member
    required, but real DescribeEndpoint leaves KmsKeyId out when the config names no key
    (docs/aws-behaviours.md, "Data capture and ground truth formats")."""
    summary = {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 100,
        "DestinationS3Uri": "s3://team-a-ml/datacapture",
    }
    return {"EndpointName": "fraud-a", "EndpointStatus": "InService", "DataCaptureConfig": {**summary, **config}}


def test_the_capture_is_where_the_endpoints_own_config_writes_whatever_the_stack_says() -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    found = capture_of(described(DestinationS3Uri="s3://team-a-ml/datacapture/", KmsKeyId=key), "s3://stack/capture")
    assert found == Capture("s3://team-a-ml/datacapture", key, "DataCaptureConfig")


def test_capture_turned_off_is_missing_even_with_a_stack_default() -> None:
    found = capture_of(described(EnableCapture=False, CaptureStatus="Stopped"), "s3://stack/capture")
    assert isinstance(found, Missing)
    assert found.need == "capture"
    assert "EnableCapture is false" in found.why


def test_capture_enabled_but_stopped_is_missing_even_with_a_stack_default() -> None:
    # CaptureStatus is "whether data capture is currently functional" (DataCaptureConfigSummary):
    # Stopped means nothing is being written to the destination, whatever EnableCapture says.
    found = capture_of(described(CaptureStatus="Stopped"), "s3://stack/capture")
    assert isinstance(found, Missing)
    assert "CaptureStatus is Stopped" in found.why
    assert capture_of(described(), "") == Capture("s3://team-a-ml/datacapture", "", "DataCaptureConfig")


def test_an_endpoint_without_a_capture_config_reads_the_stacks_default_else_is_missing() -> None:
    bare = {"EndpointName": "fraud-a", "EndpointStatus": "InService"}
    assert capture_of(bare, "s3://stack/capture") == Capture("s3://stack/capture", "", "DataCaptureS3Uri")
    # moto answers the endpoint config's empty DataCaptureConfig as {}: the same as none.
    assert capture_of({**bare, "DataCaptureConfig": {}}, "s3://stack/capture") == Capture(
        "s3://stack/capture", "", "DataCaptureS3Uri"
    )
    missing = capture_of(bare, "")
    assert isinstance(missing, Missing)
    assert "no DataCaptureConfig" in missing.why
    assert "DataCaptureS3Uri" in missing.why


def test_an_endpoint_that_cannot_be_described_says_why() -> None:
    missing = capture_of(None, "", "ValidationException: Could not find endpoint")
    assert isinstance(missing, Missing)
    assert "could not be described (ValidationException: Could not find endpoint)" in missing.why
    assert capture_of(None, "s3://stack/capture") == Capture("s3://stack/capture", "", "DataCaptureS3Uri")


def test_an_https_destination_is_not_read() -> None:
    # DestinationS3Uri's pattern is (https|s3)://...: the jobs read s3:// locations only.
    missing = capture_of(described(DestinationS3Uri="https://team-a-ml.s3.amazonaws.com/capture"), "")
    assert isinstance(missing, Missing)
    assert "not an s3:// URI" in missing.why


@pytest.mark.parametrize(
    ("job", "need", "tag", "parameter"),
    [
        ("drift", "baseline", "model-medic:baseline-s3-uri", "BaselineS3Uri"),
        ("quality", "ground-truth", "model-medic:ground-truth-s3-uri", "GroundTruthS3Uri"),
    ],
)
def test_a_job_without_its_location_says_which_tag_or_parameter_would_give_it(
    job: Any, need: str, tag: str, parameter: str
) -> None:
    data = resolve("fraud-a", job, described(), "", "")
    assert data.capture == Capture("s3://team-a-ml/datacapture")
    [missing] = data.missing
    assert missing.need == need
    assert tag in missing.why
    assert parameter in missing.why
    assert data.skipped() == {"endpoint": "fraud-a", "status": "no-data", "missing": {need: missing.why}}


def test_everything_missing_is_said_at_once() -> None:
    data = resolve("scale-only", "quality", {"EndpointName": "scale-only"}, "", "")
    assert data.capture is None
    assert [m.need for m in data.missing] == ["capture", "ground-truth"]
    assert data.sentence().startswith("capture: the endpoint has no DataCaptureConfig")
    assert "; ground-truth: neither a model-medic:ground-truth-s3-uri tag" in data.sentence()


def test_found_data_has_nothing_missing() -> None:
    data = resolve("fraud-a", "drift", described(), "s3://stack/capture", "s3://team-a-ml/baselines")
    assert (data.capture, data.location, data.missing) == (
        Capture("s3://team-a-ml/datacapture"),
        "s3://team-a-ml/baselines",
        (),
    )


def test_access_denied_names_the_parameters_that_grant_another_teams_bucket_and_key() -> None:
    from botocore.exceptions import ClientError

    from model_medic.measure.endpoint_problems import aws_refused

    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "ListObjectsV2")
    said = aws_refused("ComputeDriftFunction", denied)
    assert said.startswith("S3 refused ComputeDriftFunction: An error occurred (AccessDenied)")
    assert "DataBucketArns" in said
    assert "DataKmsKeyArns" in said
    missing = ClientError({"Error": {"Code": "NoSuchBucket", "Message": "gone"}}, "ListObjectsV2")
    assert "DataBucketArns" not in aws_refused("ComputeDriftFunction", missing)


def test_a_refusal_names_the_service_that_refused_not_always_s3() -> None:
    from botocore.exceptions import ClientError

    from model_medic.measure.endpoint_problems import aws_refused

    table = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "TransactWriteItems")
    said = aws_refused("ComputeDriftFunction", table)
    assert said.startswith("DynamoDB refused ComputeDriftFunction: An error occurred (AccessDeniedException)")
    assert "DataBucketArns" not in said
    metrics = ClientError({"Error": {"Code": "InvalidParameterValue", "Message": "bad"}}, "PutMetricData")
    assert aws_refused("ComputeDriftFunction", metrics).startswith("CloudWatch refused")
    other = ClientError({"Error": {"Code": "ValidationException", "Message": "?"}}, "DescribeEndpoint")
    assert aws_refused("ComputeDriftFunction", other).startswith("AWS refused")
