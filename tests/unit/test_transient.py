"""Which AWS errors are tried again (`aws.is_transient`), from the errors as botocore raises them:
the error responses are parsed by botocore's own parsers from each service's wire form (SNS's
XML, SQS's JSON with its legacy query code, DynamoDB's JSON), and the client-side errors are
raised by a real client (docs/aws-behaviours.md, "Transient or permanent")."""

import json
from typing import Any, cast

import boto3
import botocore.session
import pytest
from botocore import exceptions as boto_errors
from botocore.exceptions import ClientError
from botocore.parsers import create_parser

from model_medic.platform import aws
from model_medic.store.table import Table, request_token

_BOTOCORE = botocore.session.get_session()


def answered(
    service: str, operation: str, status: int, body: str, headers: dict[str, str] | None = None
) -> ClientError:
    """The ClientError botocore raises for this HTTP answer of `operation`."""
    model = _BOTOCORE.get_service_model(service)
    parser = create_parser(model.metadata["protocol"])
    response = {"status_code": status, "headers": headers or {}, "body": body.encode()}
    parsed: Any = parser.parse(response, model.operation_model(operation).output_shape)
    shape = model.shape_for_error_code(parsed["Error"]["Code"])
    if shape is not None:  # the modeled error's own fields, as botocore's endpoint adds them
        parsed.update(parser.parse(response, shape))
    return ClientError(parsed, operation)


def sns_error(code: str, status: int) -> ClientError:
    body = f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>no</Message></Error></ErrorResponse>"
    return answered("sns", "Publish", status, body)


def dynamodb_error(code: str, status: int = 400, **more: Any) -> ClientError:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "no", **more})
    return answered("dynamodb", "TransactWriteItems", status, body)


def cancelled(*reasons: str) -> ClientError:
    return dynamodb_error("TransactionCanceledException", CancellationReasons=[{"Code": code} for code in reasons])


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (sns_error("Throttled", 429), True),  # SNS's ThrottledException
        (sns_error("KMSThrottling", 400), True),  # a topic encrypted with KMS
        (sns_error("InternalError", 500), True),
        (sns_error("NotFound", 404), False),
        (sns_error("InvalidParameter", 400), False),
        (sns_error("SomethingNew", 429), True),  # any 429 is a throttle
        (dynamodb_error("TransactionConflictException"), True),  # a single write inside a transaction
        (dynamodb_error("ConditionalCheckFailedException"), False),
        (dynamodb_error("ValidationException"), False),
        (dynamodb_error("InternalServerError", 500), True),
    ],
    ids=lambda value: value.response["Error"]["Code"] if isinstance(value, ClientError) else str(value),
)
def test_throttles_and_faults_are_tried_again_and_refusals_are_not(error: ClientError, transient: bool) -> None:
    assert aws.is_transient(error) is transient


def test_sqs_kms_throttling_is_a_throttle_under_its_legacy_query_code() -> None:
    # SQS speaks JSON but answers with its query-protocol code in a header; botocore keeps that
    # as the code and the JSON type as QueryErrorCode.
    body = json.dumps({"__type": "com.amazonaws.sqs#KmsThrottled", "message": "slow down"})
    error = answered("sqs", "SendMessage", 400, body, headers={"x-amzn-query-error": "KMS.ThrottlingException;Sender"})
    assert (error.response["Error"]["Code"], error.response["Error"]["QueryErrorCode"]) == (
        "KMS.ThrottlingException",
        "KmsThrottled",
    )
    assert aws.is_transient(error)
    gone = answered(
        "sqs",
        "SendMessage",
        400,
        json.dumps({"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "no"}),
        headers={"x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender"},
    )
    assert not aws.is_transient(gone)


@pytest.mark.parametrize(
    ("reasons", "transient"),
    [
        (("None", "TransactionConflict", "None"), True),
        (("ThrottlingError", "None"), True),
        (("ProvisionedThroughputExceeded",), True),
        # A conflict beside a failed condition: trying again tells whether the condition still fails.
        (("ConditionalCheckFailed", "TransactionConflict"), True),
        (("ConditionalCheckFailed", "None"), False),
        (("None", "ValidationError", "TransactionConflict"), False),
        (("ItemCollectionSizeLimitExceeded", "ThrottlingError"), False),
    ],
)
def test_a_transaction_cancelled_by_a_concurrent_one_or_a_throttle_is_tried_again(
    reasons: tuple[str, ...], transient: bool
) -> None:
    assert aws.is_transient(cancelled(*reasons)) is transient


def test_a_request_the_model_refuses_fails_the_same_way_every_time() -> None:
    client = boto3.session.Session(region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b").client(
        "sns"
    )
    with pytest.raises(boto_errors.ParamValidationError) as refused:
        client.publish(TopicArn="arn:aws:sns:us-east-1:123456789012:t")  # no Message
    assert not aws.is_transient(refused.value)
    assert not aws.is_transient(boto_errors.NoCredentialsError())
    assert not aws.is_transient(boto_errors.NoRegionError())


def test_network_failures_are_tried_again() -> None:
    assert aws.is_transient(boto_errors.EndpointConnectionError(endpoint_url="https://sns"))
    assert aws.is_transient(boto_errors.ReadTimeoutError(endpoint_url="https://sns"))
    assert aws.is_transient(boto_errors.ConnectionClosedError(endpoint_url="https://sns"))


def test_a_transactions_token_is_its_content_in_a_canonical_form_within_dynamodbs_limit() -> None:
    put = {"Put": {"TableName": "t", "Item": {"pk": {"S": "a"}, "holders": {"SS": ["x", "y"]}}}}
    same = {"Put": {"Item": {"holders": {"SS": ["y", "x"]}, "pk": {"S": "a"}}, "TableName": "t"}}
    other = {"Put": {"TableName": "t", "Item": {"pk": {"S": "b"}, "holders": {"SS": ["x", "y"]}}}}
    token = request_token([put], "retries-1")
    assert 1 <= len(token) <= 36  # ClientRequestToken's limits in the DynamoDB model
    assert request_token([same], "retries-1") == token
    assert request_token([other], "retries-1") != token
    assert request_token([put, other], "retries-1") != request_token([other, put], "retries-1")
    assert request_token([put], "retries-2") != token


class Client:
    """A DynamoDB client that records each TransactWriteItems and answers the first `faults` of
    them with a throttle."""

    def __init__(self, faults: int = 0) -> None:
        self.calls: list[dict[str, Any]] = []
        self.faults = faults

    def transact_write_items(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)
        if len(self.calls) <= self.faults:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "TransactWriteItems")


def test_a_transaction_tried_again_in_place_keeps_its_token_and_each_write_has_its_own() -> None:
    client = Client()
    table = Table(cast("Any", client), "t")
    requests = [table.put_request({"pk": "a", "sk": "b"}), table.put_request({"pk": "a", "sk": "c"})]
    table.transact(requests)  # outside a write's retries: botocore's own token, a fresh one per call
    assert "ClientRequestToken" not in client.calls[-1]
    client.faults = 2
    aws.persist(lambda: table.transact(requests))
    first, again = client.calls[1:3]
    assert first["ClientRequestToken"] == again["ClientRequestToken"]
    aws.persist(lambda: table.transact(requests))  # another write of the same items: another token
    assert client.calls[3]["ClientRequestToken"] != first["ClientRequestToken"]
    assert aws.retries() is None
