"""Captured requests, responses and ground truth split into records the way Model Monitor reads them."""

from __future__ import annotations

import base64
import csv
from dataclasses import dataclass
from typing import Any, Literal

import orjson

Kind = Literal["csv", "json", "jsonlines"]

# Where a JSON ground-truth record keeps its label: `{"label": 1}`, the key of AWS's Clarify
# bias-monitoring examples, whose ground truth repeats the request's layout
# (`{"instances": [{"label": 0}, ...]}`; tests/data/real/clarify-merged-record.json).
LABEL_ATTRIBUTE = "label"


class DecodeError(ValueError):
    """A payload or record that cannot be read as configured."""


def loads(text: str | bytes) -> Any:
    """JSON text to Python (orjson: about twice the speed of `json` on capture records)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise DecodeError(f"not JSON: {error}") from None


def payload(data: Any) -> tuple[str, Kind]:
    """The text of a captured payload (`endpointInput`, `endpointOutput`, `groundTruthData`)
    and how to read it, from its encoding and observed content type."""
    if not isinstance(data, dict):
        raise DecodeError("the payload is not an object")
    raw = data.get("data", "")
    encoding = str(data.get("encoding", "CSV")).upper()
    content_type = str(data.get("observedContentType", "")).lower()
    if encoding == "BASE64":
        try:
            raw = base64.b64decode(raw, validate=True).decode("utf-8")
        except (ValueError, TypeError) as error:
            raise DecodeError(f"bad base64: {error}") from None
    if not isinstance(raw, str):
        raw = orjson.dumps(raw).decode()  # a JSON payload already parsed by the writer
    if "jsonlines" in content_type or "jsonl" in content_type:
        return raw, "jsonlines"
    if "json" in content_type or encoding == "JSON":
        return raw, "json"
    return raw, "csv"


def csv_rows(text: str) -> list[list[str]]:
    """Non-blank lines, split on commas (the csv module only where a quote needs it)."""
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        rows.append(next(csv.reader([line])) if '"' in line else line.split(","))
    return rows


def _json_lines(text: str) -> list[Any]:
    return [loads(line) for line in text.splitlines() if line.strip()]


def _path(item: dict[str, Any], attribute: str) -> Any:
    """The value at a dotted path of keys (and list positions: `probabilities.1`), or None
    when any step is absent."""
    value: Any = item
    for key in attribute.split("."):
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


# --- requests -------------------------------------------------------------------------------


def input_rows(data: Any, features_attribute: str = "features") -> list[list[Any] | dict[str, Any]]:
    """Every record of a captured request: a list of values, or an object of named values."""
    text, kind = payload(data)
    if kind == "csv":
        return list(csv_rows(text))
    if kind == "jsonlines":
        return [_instance(item, features_attribute) for item in _json_lines(text)]
    document = loads(text)
    if isinstance(document, dict):
        if "instances" in document:
            instances = document["instances"]
            if not isinstance(instances, list):
                raise DecodeError("'instances' is not a list")
            return [_instance(item, features_attribute) for item in instances]
        return [_instance(document, features_attribute)]
    if isinstance(document, list):
        if document and all(isinstance(item, (list, dict)) for item in document):
            return [_instance(item, features_attribute) for item in document]
        return [document]  # one instance, as a list of values
    raise DecodeError(f"a JSON request of type {type(document).__name__}")


def _instance(item: Any, features_attribute: str) -> list[Any] | dict[str, Any]:
    if isinstance(item, dict):
        if features_attribute:
            features = _path(item, features_attribute)
            if isinstance(features, list):
                return features
            if features is not None:
                raise DecodeError(f"'{features_attribute}' is not a list")
        return item  # features by name
    if isinstance(item, list):
        return item
    return [item]  # an instance of one value


# --- responses ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prediction:
    """One predicted record: the label, the probability of the positive class, or both."""

    label: str | None
    probability: float | None


@dataclass(frozen=True)
class OutputFormat:
    """Where a response keeps the predicted label and the probability (Model Monitor's
    inference and probability attributes), and what a bare value is."""

    inference_attribute: str = "predicted_label"
    probability_attribute: str = "score"
    bare_is_probability: bool = True

    @classmethod
    def for_problem(cls, problem: str, inference_attribute: str, probability_attribute: str) -> OutputFormat:
        """Only a binary classifier's probability counts: for multiclass and regression models
        the probability attribute is ignored (a list of class scores there must not make an
        otherwise readable record undecodable), and a bare value is the prediction itself."""
        binary = problem == "BinaryClassification"
        probability = probability_attribute if binary else ""
        return cls(inference_attribute, probability, bare_is_probability=binary and bool(probability))

    @property
    def fingerprint(self) -> str:
        bare = "p" if self.bare_is_probability else "l"
        return f"{self.inference_attribute}|{self.probability_attribute}|{bare}"


def _rows_or_document(data: Any) -> tuple[list[Any] | None, Any]:
    """A payload's records when it is CSV or JSON Lines, else its one JSON document."""
    text, kind = payload(data)
    if kind == "csv":
        return list(csv_rows(text)), None
    if kind == "jsonlines":
        return _json_lines(text), None
    return None, loads(text)


def output_elements(data: Any) -> list[Any]:
    """Every record of a captured response (or a ground-truth payload), undecoded."""
    rows, document = _rows_or_document(data)
    if rows is not None:
        return rows
    if isinstance(document, dict):
        predictions = document.get("predictions")
        if isinstance(predictions, list):
            return predictions
        return [document]
    if isinstance(document, list):
        return document
    return [document]


def predictions(data: Any, fmt: OutputFormat) -> list[Prediction | None]:
    """Every record of a response as a Prediction; None for a record that does not decode."""
    found: list[Prediction | None] = []
    for element in output_elements(data):
        try:
            found.append(prediction(element, fmt))
        except DecodeError:
            found.append(None)
    return found


def prediction(element: Any, fmt: OutputFormat) -> Prediction:
    """One record of a response, read as configured."""
    if isinstance(element, dict):
        label = _path(element, fmt.inference_attribute) if fmt.inference_attribute else None
        probability = _path(element, fmt.probability_attribute) if fmt.probability_attribute else None
        if label is None and probability is None:
            raise DecodeError("neither the inference nor the probability attribute is in the record")
        return Prediction(_text(label), _probability(probability))
    if isinstance(element, list):
        label_at, probability_at = _index(fmt.inference_attribute), _index(fmt.probability_attribute)
        if label_at is None and probability_at is None:
            if len(element) != 1:
                raise DecodeError(f"{len(element)} values and no attribute names a column")
            return _bare(element[0], fmt)
        try:
            label = element[label_at] if label_at is not None else None
            probability = element[probability_at] if probability_at is not None else None
        except IndexError:
            raise DecodeError(f"a row of {len(element)} values has no such column") from None
        return Prediction(_text(label), _probability(probability))
    return _bare(element, fmt)


def _bare(value: Any, fmt: OutputFormat) -> Prediction:
    if fmt.bare_is_probability:
        return Prediction(None, _probability(value))
    text = _text(value)
    if text is None:
        raise DecodeError("an empty prediction")
    return Prediction(text, None)


def _index(attribute: str) -> int | None:
    return int(attribute) if attribute.isdigit() else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 1.0 in JSON is the label "1"
    if isinstance(value, (dict, list)):
        raise DecodeError("a label that is not a single value")
    text = str(value).strip()
    return text or None


def _probability(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]  # {"score": [0.7]}
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DecodeError(f"a probability that is not a number: {value!r}") from None
    if not 0.0 <= number <= 1.0:
        raise DecodeError(f"a probability outside [0, 1]: {number}")
    return number


def truth_elements(data: Any) -> list[Any]:
    """Every record of a ground-truth payload, undecoded: CSV lines, JSON Lines, a JSON list,
    or JSON `{"instances": [...]}` - the request's own layout, as Clarify's monitors want it."""
    rows, document = _rows_or_document(data)
    if rows is not None:
        return rows
    if isinstance(document, dict) and "instances" in document:
        if not isinstance(document["instances"], list):
            raise DecodeError("'instances' is not a list")
        return list(document["instances"])
    return document if isinstance(document, list) else [document]


def labels(data: Any, label_attribute: str = LABEL_ATTRIBUTE) -> list[str]:
    """Every label of a ground-truth payload (one per record of its request); a record that
    is a JSON object keeps its label at `label_attribute`."""
    found = []
    for element in truth_elements(data):
        if isinstance(element, dict):
            value = _path(element, label_attribute)
            if value is None:
                raise DecodeError(f"a ground-truth record without '{label_attribute}'")
        else:
            value = element[0] if isinstance(element, list) and len(element) == 1 else element
        text = _text(value)
        if text is None:
            raise DecodeError("an empty label")
        found.append(text)
    return found
