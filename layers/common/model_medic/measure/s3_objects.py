"""Reading the measure jobs' S3 data: locations, listings and objects fetched concurrently."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

READERS = 16  # concurrent GETs when an hour of capture files is read (botocore clients are thread-safe)


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key.strip("/")


def read_objects(s3: S3Client, bucket: str, keys: list[str]) -> Iterator[bytes]:
    """The objects' bodies, fetched concurrently, yielded in the order of `keys`."""
    if len(keys) <= 1:
        for key in keys:
            yield s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return
    with ThreadPoolExecutor(max_workers=min(READERS, len(keys))) as pool:
        yield from pool.map(lambda key: s3.get_object(Bucket=bucket, Key=key)["Body"].read(), keys)


def list_keys(s3: S3Client, bucket: str, prefix: str) -> list[str]:
    """Every key under the prefix (ListObjectsV2, paged)."""
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def list_folders(s3: S3Client, bucket: str, root: str) -> list[str]:
    """The folders right under `root` (ListObjectsV2's CommonPrefixes, paged), each a full prefix."""
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=root, Delimiter="/"):
        found += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    return found
