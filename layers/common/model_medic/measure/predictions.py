"""Captured predictions named by labels, hour by hour, through a prediction index of each complete hour."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from time import monotonic
from typing import TYPE_CHECKING, Any

import orjson

from model_medic.measure import records
from model_medic.measure.ground_truth import hours
from model_medic.measure.quality_join import Found
from model_medic.measure.records import OutputFormat, Prediction
from model_medic.measure.s3_objects import list_folders, list_keys, read_objects, split_s3_uri
from model_medic.platform.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# A capture hour is complete (its index may be written) this long after it ends: SageMaker
# writes capture files in batches, a few minutes late.
SEALED_AFTER = timedelta(minutes=30)
INDEX_FORMAT = "model-medic-prediction-index/1"


def deadline_in(seconds: float) -> float:
    """A deadline for `run`, on the clock it reads."""
    return monotonic() + seconds


class IndexingIncomplete(Exception):
    """The run's time was spent building the prediction index before every hour had one."""

    def __init__(self) -> None:
        super().__init__("prediction index incomplete")
        self.written = 0


def decode_capture(
    body: bytes, variant: str, fmt: OutputFormat, wanted: set[str] | None, into: dict[str, Found]
) -> int:
    """The predictions of one capture file (only the ids in `wanted`, when given); the
    number of records that did not decode."""
    malformed = 0
    for line in body.splitlines():
        if not line.strip():
            continue
        try:
            record = records.loads(line)
            metadata = record["eventMetadata"]
            event_id = str(metadata.get("inferenceId") or metadata["eventId"])
            if wanted is not None and event_id not in wanted:
                continue
            found = records.predictions(record["captureData"]["endpointOutput"], fmt)
        except (ValueError, KeyError, TypeError, AttributeError):
            malformed += 1
            continue
        into.setdefault(event_id, (variant, found))
    return malformed


def index_document(endpoint: str, hour: datetime, fmt: OutputFormat, found: dict[str, Found]) -> dict[str, Any]:
    """The prediction index of one endpoint and capture hour, as stored."""
    return {
        "format": INDEX_FORMAT,
        "endpoint": endpoint,
        "hour": hour.isoformat(),
        "reading": fmt.fingerprint,
        "predictions": {
            event_id: [variant, [None if p is None else [p.label, p.probability] for p in predicted]]
            for event_id, (variant, predicted) in found.items()
        },
    }


def from_index(stored: dict[str, Any]) -> dict[str, Found]:
    """The predictions of a stored index (`index_document`)."""
    return {
        event_id: (variant, [None if p is None else Prediction(p[0], p[1]) for p in predicted])
        for event_id, (variant, predicted) in stored.items()
    }


class CapturedPredictions:
    """The data capture of an endpoint's variants (`<capture>/<endpoint>/<variant>/YYYY/MM/DD/HH/`),
    and, when a location is given, the prediction index beside it."""

    def __init__(self, s3: S3Client, capture_uri: str, index_uri: str, fmt: OutputFormat) -> None:
        self._s3 = s3
        self._capture = split_s3_uri(capture_uri)
        self._index = split_s3_uri(index_uri) if index_uri else None
        self._fmt = fmt

    def named(
        self,
        endpoint: str,
        start: datetime,
        end: datetime,
        wanted: set[str],
        now: datetime,
        deadline: float | None = None,
    ) -> tuple[dict[str, Found], dict[str, int]]:
        """The predictions named by the labels, hour by hour: from the index where the hour is
        complete (building the index the first time), else from the capture files."""
        predictions: dict[str, Found] = {}
        stats = Counter({"malformed": 0, "hours": 0, "indexed": 0, "written": 0})
        if not wanted:
            return predictions, dict(stats)
        variants = self._variants(endpoint)
        for hour in hours(start, end):
            stats["hours"] += 1
            if self._index is not None and hour + timedelta(hours=1) + SEALED_AFTER <= now:
                try:
                    indexed, written, malformed = self._indexed_hour(endpoint, variants, hour, deadline)
                except IndexingIncomplete as incomplete:
                    incomplete.written = stats["written"]
                    raise
                stats["indexed"] += 1
                stats["written"] += written
                stats["malformed"] += malformed
                for event_id in wanted.intersection(indexed):
                    predictions.setdefault(event_id, indexed[event_id])
                continue
            stats["malformed"] += self._read_hour(variants, hour, wanted, predictions)
        return predictions, dict(stats)

    def index_key(self, endpoint: str, hour: datetime) -> str:
        assert self._index is not None
        return "/".join(p for p in (self._index[1], endpoint, f"{hour:%Y/%m/%d/%H}.json") if p)

    def _variants(self, endpoint: str) -> list[str]:
        bucket, prefix = self._capture
        return list_folders(self._s3, bucket, "/".join(p for p in (prefix, endpoint) if p) + "/")

    def _read_hour(self, variants: list[str], hour: datetime, wanted: set[str] | None, into: dict[str, Found]) -> int:
        bucket = self._capture[0]
        malformed = 0
        for variant_prefix in variants:
            variant = variant_prefix.rstrip("/").rsplit("/", 1)[-1]
            keys = list_keys(self._s3, bucket, f"{variant_prefix}{hour:%Y/%m/%d/%H}/")
            for body in read_objects(self._s3, bucket, keys):
                malformed += decode_capture(body, variant, self._fmt, wanted, into)
        return malformed

    def _indexed_hour(
        self, endpoint: str, variants: list[str], hour: datetime, deadline: float | None = None
    ) -> tuple[dict[str, Found], int, int]:
        """(predictions of a complete capture hour, 1 if the index was written now, malformed)."""
        assert self._index is not None
        bucket, key = self._index[0], self.index_key(endpoint, hour)
        stored = self._stored_index(bucket, key)
        if stored is not None:
            return stored, 0, 0
        if deadline is not None and monotonic() > deadline:
            raise IndexingIncomplete()
        found: dict[str, Found] = {}
        malformed = self._read_hour(variants, hour, None, found)
        document = index_document(endpoint, hour, self._fmt, found)
        self._s3.put_object(Bucket=bucket, Key=key, Body=orjson.dumps(document), ContentType="application/json")
        return found, 1, malformed

    def _stored_index(self, bucket: str, key: str) -> dict[str, Found] | None:
        """The stored index of an hour when there is one of this format and reading, else None."""
        try:
            document = records.loads(self._s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            if document.get("format") == INDEX_FORMAT and document.get("reading") == self._fmt.fingerprint:
                return from_index(document["predictions"])
        except self._s3.exceptions.NoSuchKey:
            pass
        except (ValueError, KeyError, TypeError, AttributeError):
            logger.warning("prediction index unreadable; rebuilt", index=f"s3://{bucket}/{key}")
        return None
