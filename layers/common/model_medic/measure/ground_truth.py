"""Ground truth read from S3: an endpoint's labels of a window, by the id of the prediction they name."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from model_medic.intake.triggers import EARLIEST, LATEST
from model_medic.measure import records
from model_medic.measure.quality_join import NO_VARIANT, Found
from model_medic.measure.records import OutputFormat, Prediction
from model_medic.measure.s3_objects import list_folders, list_keys, read_objects, split_s3_uri

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

Labels = dict[str, list[str]]  # id -> the labels of its request's records


def hours(start: datetime, end: datetime) -> list[datetime]:
    found, at = [], start
    while at < end:
        found.append(at)
        at += timedelta(hours=1)
    return found


def truth_record(record: Any, fmt: OutputFormat) -> tuple[str, list[str], list[Prediction | None] | None]:
    """One line of ground truth: (id, labels, the predictions it carries or None).

    A plain ground-truth record names its prediction by `eventMetadata.eventId` (which holds
    the capture's inferenceId or eventId). A merged record - capture and ground truth in one
    line - keeps the capture's own metadata, so its id is its `inferenceId`, else `eventId`,
    and its prediction is its `captureData.endpointOutput`, read as configured. Raises
    KeyError, TypeError or records.DecodeError for a record that cannot be read.
    """
    metadata = record["eventMetadata"]
    found = records.labels(record["groundTruthData"])
    capture = record.get("captureData")
    if capture is None:
        return str(metadata["eventId"]), found, None
    event_id = str(metadata.get("inferenceId") or metadata["eventId"])
    output = capture.get("endpointOutput")
    return event_id, found, None if output is None else records.predictions(output, fmt)


def evaluation_time_for_key(key: str) -> datetime | None:
    """For a ground-truth object <prefix>/<endpoint>/YYYY/MM/DD/HH/name: the end of its hour."""
    parts = key.split("/")
    try:
        year, month, day, hour = (int(p) for p in parts[-5:-1])
        end = datetime(year, month, day, hour, tzinfo=UTC) + timedelta(hours=1)
    except (ValueError, OverflowError):  # not a date, or year 9999's last hour
        return None
    return end if EARLIEST <= end < LATEST else None


class GroundTruth:
    """The labels under `<ground truth>/<endpoint>/YYYY/MM/DD/HH/`, and under
    `<endpoint>/<variant>/YYYY/MM/DD/HH/` where Model Monitor's merge step writes them."""

    def __init__(self, s3: S3Client, ground_truth_uri: str, fmt: OutputFormat) -> None:
        self._s3 = s3
        self._bucket, self._prefix = split_s3_uri(ground_truth_uri)
        self._fmt = fmt

    def endpoint_for_key(self, key: str) -> str | None:
        """<prefix>/<endpoint>/[<variant>/]YYYY/MM/DD/HH/<file>: the endpoint (the variant
        folder is the layout of Model Monitor's merge output)."""
        prefix = self._prefix
        if prefix and not key.startswith(prefix + "/"):
            return None
        rest = key[len(prefix) + 1 :] if prefix else key
        parts = rest.split("/")
        return parts[0] if len(parts) in (6, 7) else None

    def labels(self, endpoint: str, start: datetime, end: datetime) -> tuple[Labels, dict[str, Found], dict[str, int]]:
        """(id -> labels, id -> the predictions merged records carry with their variant, counts).

        Files under <endpoint>/YYYY/MM/DD/HH/ and, as Model Monitor's merge step lays them
        out, under <endpoint>/<variant>/YYYY/MM/DD/HH/ (a merged record there is that variant's).
        """
        bucket = self._bucket
        root = "/".join(p for p in (self._prefix, endpoint) if p) + "/"
        labels: Labels = {}
        carried: dict[str, Found] = {}
        stats = Counter({"duplicates": 0, "malformed": 0})
        folders = [(NO_VARIANT, root)] + [(name, f"{root}{name}/") for name in self._variants(root)]
        for hour in hours(start, end):
            for variant, folder in folders:
                for body in read_objects(self._s3, bucket, list_keys(self._s3, bucket, f"{folder}{hour:%Y/%m/%d/%H}/")):
                    self._read_file(body, variant, labels, carried, stats)
        return labels, carried, dict(stats)

    def _read_file(
        self, body: bytes, variant: str, labels: Labels, carried: dict[str, Found], stats: Counter[str]
    ) -> None:
        """One file's records into `labels` (and `carried`); the first label of an id stands."""
        for line in body.splitlines():
            if not line.strip():
                continue
            try:
                event_id, found, predicted = truth_record(records.loads(line), self._fmt)
            except (ValueError, KeyError, TypeError, AttributeError):
                stats["malformed"] += 1
                continue
            if event_id in labels:
                stats["duplicates"] += 1
                continue
            labels[event_id] = found
            if predicted is not None:
                carried[event_id] = (variant, predicted)

    def _variants(self, root: str) -> list[str]:
        """The variant folders beside the year folders of an endpoint's ground truth."""
        found = [prefix[len(root) :].rstrip("/") for prefix in list_folders(self._s3, self._bucket, root)]
        return [name for name in found if not (len(name) == 4 and name.isdigit())]
