"""The S3 client's presigned links (`aws.s3`): the bucket's Regional endpoint on AWS, the
configured endpoint in the local cloud (docs/aws-behaviours.md, "S3, SNS, KMS and IAM details")."""

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from model_medic.platform import aws

BUCKET = "model-medic-prod-reportsbucket-1a2b3c"
KEY = "reports/_index/2026-11-23.html"


@pytest.fixture(autouse=True)
def _fresh_session() -> Iterator[None]:
    """A session of this test's environment, and none of it left for the next test."""
    aws.reset(session=True)
    yield
    aws.reset(session=True)


def presigned() -> str:
    return aws.s3().generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": KEY}, ExpiresIn=3600)


@pytest.mark.parametrize(
    ("region", "host"),
    [
        # Launched after March 20, 2019: the global endpoint answers 400 Bad Request.
        ("af-south-1", f"{BUCKET}.s3.af-south-1.amazonaws.com"),
        # Older: the global endpoint redirects (307) for up to 24 hours after the bucket's creation.
        ("eu-west-1", f"{BUCKET}.s3.eu-west-1.amazonaws.com"),
        ("us-east-1", f"{BUCKET}.s3.us-east-1.amazonaws.com"),
        ("cn-north-1", f"{BUCKET}.s3.cn-north-1.amazonaws.com.cn"),
    ],
)
def test_a_presigned_link_names_the_buckets_regional_endpoint(
    monkeypatch: pytest.MonkeyPatch, region: str, host: str
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    monkeypatch.setenv("AWS_REGION", region)
    link = urlsplit(presigned())
    assert (link.scheme, link.hostname, link.path) == ("https", host, f"/{KEY}")
    query = parse_qs(link.query)
    assert query["X-Amz-Credential"][0].split("/")[2] == region  # signed for the bucket's Region
    assert query["X-Amz-Signature"]


def test_with_an_endpoint_url_configured_a_link_goes_there_path_style(monkeypatch: pytest.MonkeyPatch) -> None:
    # The local cloud (a container reaching the host): a virtual host `<bucket>.host.docker.internal` would not resolve.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://host.docker.internal:4566")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "af-south-1")
    link = urlsplit(presigned())
    assert (link.scheme, link.netloc, link.path) == ("http", "host.docker.internal:4566", f"/{BUCKET}/{KEY}")
    assert parse_qs(link.query)["X-Amz-Signature"]
