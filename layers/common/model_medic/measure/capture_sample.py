"""An hour of captured inputs read against a baseline's columns: the sample the drift statistics compare."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import chain, repeat
from typing import Any

import orjson

from model_medic.measure import records

PEEK_ROWS = 1000  # captured rows whose widths decide whether the training set's first column is its label, at most


def first_column_is_label(training_width: int, captured_width: int) -> bool | None:
    """Pure: whether a training set's first column is its label, from the widths alone.

    Captured requests never carry the label, and Model Monitor expects the training and
    inference schemas to match, "the prediction/output column(s) ... assumed to be the 1st
    column(s) in the training dataset" (docs/aws-behaviours.md). So a training set as wide as
    the captured rows has no label column (False); one column wider has its label first
    (True); any other width fits neither (None: a shape mismatch, whatever the label).
    """
    if captured_width == training_width:
        return False
    if captured_width == training_width - 1:
        return True
    return None


def captured_width(row: list[Any] | dict[str, Any], columns: list[str]) -> int:
    """The width of one captured row against the training set's `columns` (label candidate
    first): a list's length; a record of named values as wide as the training set when it
    names the first column, one fewer when it does not."""
    if isinstance(row, dict):
        return len(columns) if columns[0] in row else len(columns) - 1
    return len(row)


def peek_widths(body: bytes, columns: list[str], features_attribute: str, limit: int = PEEK_ROWS) -> Counter[int]:
    """The widths of the first rows of a capture file (at most `limit`); lines and requests
    that do not decode are left to the sample, which counts them."""
    widths: Counter[int] = Counter()
    for line in body.splitlines():
        if not line.strip():
            continue
        try:
            rows = records.input_rows(orjson.loads(line)["captureData"]["endpointInput"], features_attribute)
        except (ValueError, KeyError, TypeError):
            continue
        widths.update(captured_width(row, columns) for row in rows)
        if widths.total() >= limit:
            break
    return widths


def with_label_decided(baseline: dict[str, Any], label_first: bool) -> dict[str, Any]:
    """Pure: a baseline built with label_column "auto", as this hour reads it: without its
    first column when that is the label, with every column otherwise."""
    candidate = baseline["label_candidate"]
    columns = list(baseline.get("columns") or [f["name"] for f in baseline["features"]])
    training_width = len(columns)
    if label_first:
        columns = columns[1:]
    kept = set(columns)
    return {
        **baseline,
        "columns": columns,
        "features": [f for f in baseline["features"] if f["name"] in kept],
        "label_column": candidate if label_first else None,
        "label_candidate": None,
        "training_width": training_width,
    }


def read_hour(
    baseline: dict[str, Any], bodies: Iterable[bytes], features_attribute: str = "features"
) -> tuple[dict[str, Any], Sample]:
    """The hour's capture files read against the baseline: (the baseline as read, the sample).

    A baseline whose label column is decided by the widths (`label_candidate`) is settled
    first, by the most common width of the hour's first rows (`PEEK_ROWS`): the files read
    to decide are kept and then read like the others, so each file is fetched once.
    """
    if not baseline.get("label_candidate"):
        sample = sample_for(baseline, features_attribute)
        for body in bodies:
            sample.add_capture_file(body)
        return baseline, sample
    columns = list(baseline.get("columns") or [f["name"] for f in baseline["features"]])
    waiting: list[bytes] = []
    widths: Counter[int] = Counter()
    remaining = iter(bodies)
    for body in remaining:
        waiting.append(body)
        widths.update(peek_widths(body, columns, features_attribute, PEEK_ROWS - widths.total()))
        if widths.total() >= PEEK_ROWS:
            break
    label_first = True  # SageMaker's layout, until the capture says otherwise
    if widths:
        decided = first_column_is_label(len(columns), widths.most_common(1)[0][0])
        label_first = decided is not False  # neither width: the sample reports the mismatch
    used = with_label_decided(baseline, label_first)
    sample = sample_for(used, features_attribute)
    for body in chain(waiting, remaining):
        sample.add_capture_file(body)
    return used, sample


# The endpointInput object of a capture record when it holds no braces (a CSV request, not a
# JSON one). It starts with a literal, which the regex engine finds fast; a match inside some
# other string would make more matches than records, and the file is then read line by line.
_PLAIN_INPUT = re.compile(rb'"endpointInput"\s*:\s*(\{[^{}]*\})')


class Sample:
    """The captured inputs of one hour, per feature (columns), with what could not be read.

    `rows` counts the records (rows) read; `malformed` the capture lines and records that
    could not be decoded or held a value that is not a finite number where the baseline has
    a numeric feature. NaN and +/-infinity are malformed values (`non_finite` counts them per
    feature): `float` reads "nan" and "inf", but they measure nothing, a baseline holds none
    (`baseline.build_baseline`), and one NaN leaves the sorted values out of order.
    `mismatched` counts the rows whose width or names differ from the baseline,
    with the widths seen (`widths`) and the names missing (`missing`). Whether those are a
    shape mismatch or malformed records is the hour's to say (`counts`).
    """

    def __init__(
        self,
        names: list[str],
        numeric: set[str],
        features_attribute: str = "features",
        measured: set[str] | None = None,
        training_width: int | None = None,
    ) -> None:
        """`names`: every column of a captured row, in order; `measured`: the ones kept
        (default all; a baseline feature without a distribution only holds its place);
        `training_width`: the training set's columns, when the widths decided the label."""
        self.names = names
        self.numeric = numeric
        self.features_attribute = features_attribute
        self.measured = set(names) if measured is None else measured
        self.training_width = training_width
        self.rows = 0
        self.malformed = 0
        self.mismatched = 0
        self.widths: Counter[int] = Counter()
        self.missing: Counter[str] = Counter()
        self.non_finite: Counter[str] = Counter()
        self._numeric_at = [i for i, name in enumerate(names) if name in numeric]
        self._text_at = [i for i, name in enumerate(names) if name not in numeric and name in self.measured]
        self._numbers: list[list[float]] = [[] for _ in self._numeric_at]
        self._texts: list[list[str]] = [[] for _ in self._text_at]

    @property
    def values(self) -> dict[str, Sequence[Any]]:
        """Per feature, every value of the hour."""
        columns: dict[str, Sequence[Any]] = {}
        for index, column in zip(self._numeric_at, self._numbers, strict=True):
            columns[self.names[index]] = column
        for index, texts in zip(self._text_at, self._texts, strict=True):
            columns[self.names[index]] = texts
        return {name: columns[name] for name in self.names if name in columns}

    def add_capture_file(self, text: str | bytes) -> None:
        """Every capture record of a JSON Lines file; the hot loop of the drift job.

        A file whose every line is a record with a plain CSV request (the common case) is
        read in bulk: the `endpointInput` objects are found by one regular-expression scan,
        each decoded on its own (a small object: cheaper than the whole record), and their
        rows split and converted a column at a time. Any other file is read line by line,
        each request through `records.input_rows`; a line that is not JSON, or a record
        that does not decode, is counted and skipped.
        """
        body = text if isinstance(text, bytes) else text.encode("utf-8")
        lines = [line for line in body.splitlines() if line.strip()]
        if self._add_plain_csv(body, len(lines)):
            return
        split: list[list[str]] = []
        for line in lines:
            try:
                data = orjson.loads(line)["captureData"]["endpointInput"]
                raw = data["data"]
                plain = data.get("encoding") == "CSV" and "json" not in str(data.get("observedContentType", ""))
                if plain and isinstance(raw, str) and '"' not in raw:
                    split.extend(row.split(",") for row in raw.splitlines() if row and not row.isspace())
                    continue
                rows = records.input_rows(data, self.features_attribute)
            except (ValueError, KeyError, TypeError):  # orjson's and records' errors are ValueErrors
                self.malformed += 1
                continue
            for row in rows:
                self.add_row(row)
        self._add_split(split)

    def _add_plain_csv(self, body: bytes, records_in_file: int) -> bool:
        """The bulk path; False (nothing added) when the file is not all plain CSV records."""
        joined = _plain_csv(body, records_in_file)
        if joined is None:
            return False
        lines = [line for line in joined.splitlines() if line and not line.isspace()]
        if not self._add_uniform(lines):
            self._add_split([line.split(",") for line in lines])
        return True

    def _add_uniform(self, lines: list[str]) -> bool:
        """Rows that all have the baseline's width and numbers where it has numeric features:
        one split of everything, columns by slicing. False (nothing added) otherwise."""
        width = len(self.names)
        if set(map(str.count, lines, repeat(","))) != {width - 1}:
            return False
        flat = ",".join(lines).split(",")
        try:
            converted = [list(map(float, flat[index::width])) for index in self._numeric_at]
        except ValueError:
            return False
        if not _all_finite(converted):
            return False
        for column, numbers in zip(self._numbers, converted, strict=True):
            column.extend(numbers)
        for texts, index in zip(self._texts, self._text_at, strict=True):
            texts.extend(map(str.strip, flat[index::width]))
        self.rows += len(lines)
        return True

    def _add_split(self, rows: list[list[str]]) -> None:
        width = len(self.names)
        if set(map(len, rows)) <= {width}:
            good = rows
        else:
            good = [row for row in rows if len(row) == width]
            for row in rows:
                if len(row) != width:
                    self.mismatched += 1
                    self.widths[len(row)] += 1
        if not good:
            return
        columns = list(zip(*good, strict=True))
        try:
            converted: list[list[float]] | None = [list(map(float, columns[index])) for index in self._numeric_at]
        except ValueError:
            converted = None
        if converted is None or not _all_finite(converted):
            # A value that is not a (finite) number somewhere: row by row, to drop only that row.
            for row in good:
                self.add_row(row)
            return
        for column, numbers in zip(self._numbers, converted, strict=True):
            column.extend(numbers)
        for texts, index in zip(self._texts, self._text_at, strict=True):
            texts.extend(map(str.strip, columns[index]))
        self.rows += len(good)

    def add_row(self, row: list[Any] | dict[str, Any]) -> None:
        """One record: values in the baseline's column order, or named values."""
        if isinstance(row, dict):
            absent = [name for name in self.names if name in self.measured and name not in row]
            if absent:
                self.mismatched += 1
                self.missing.update(absent)
                return
            values: list[Any] = [row.get(name) for name in self.names]
        else:
            values = row
        if len(values) != len(self.names):
            self.mismatched += 1
            self.widths[len(values)] += 1
            return
        try:
            numbers = [float(values[index]) for index in self._numeric_at]
        except (ValueError, TypeError):
            self.malformed += 1
            return
        if not all(map(math.isfinite, numbers)):
            self.malformed += 1
            at = zip(self._numeric_at, numbers, strict=True)
            self.non_finite.update(self.names[index] for index, number in at if not math.isfinite(number))
            return
        for column, number in zip(self._numbers, numbers, strict=True):
            column.append(number)
        for texts, index in zip(self._texts, self._text_at, strict=True):
            texts.append(str(values[index]).strip())
        self.rows += 1

    def counts(self) -> tuple[int, int, int]:
        """(rows, malformed, mismatched) of the hour. Rows of another width (or without the
        baseline's names) are a shape mismatch when they are most of the hour; when they are
        a few, each is a malformed record - a CSV line cut short, a stray field - and is
        counted with the other malformed records, never as a row."""
        if self.shape_problem() is not None:
            return self.rows, self.malformed, self.mismatched
        return self.rows, self.malformed + self.mismatched, 0

    def shape_problem(self) -> str | None:
        """What is wrong when most captured rows do not have the baseline's shape."""
        if self.mismatched == 0 or self.mismatched <= self.rows:
            return None
        names = self.names
        parts = []
        if self.widths and self.training_width is not None:
            width, seen = self.widths.most_common(1)[0]
            total = self.training_width
            parts.append(
                f"{seen} captured row(s) have {width} values but the training set has {total} columns: "
                f"rows of a training set without a label column have {total} values, with the label "
                f"first {total - 1}. Is it the training set of this endpoint's model?"
            )
        elif self.widths:
            width, seen = self.widths.most_common(1)[0]
            hint = ""
            if width == len(names) - 1:
                hint = (
                    f" - one fewer: was the baseline built with the label column left in (first feature "
                    f"{names[0]!r})? Set BaselineLabelColumn to its name, or to auto (the default: the "
                    "widths decide), and rebuild it"
                )
            elif width == len(names) + 1:
                hint = (
                    " - one more: was a feature left out as the label? If the training CSV has no label "
                    "column, set BaselineLabelColumn=auto (the default: the widths decide) or none and "
                    "rebuild the baseline"
                )
            parts.append(f"{seen} captured row(s) have {width} values but the baseline has {len(names)} features{hint}")
        if self.missing:
            absent = ", ".join(name for name, _ in self.missing.most_common(5))
            parts.append(f"captured JSON records lack baseline features ({absent})")
        return "; ".join(parts) + f" ({self.mismatched} of {self.mismatched + self.rows} rows)"


def _all_finite(columns: list[list[float]]) -> bool:
    """Whether no value is NaN or infinite: one sum a column (an overflow of a sum of finite
    values only sends the rows down the slow path, where each value is checked)."""
    return all(math.isfinite(sum(column)) for column in columns)


def _plain_csv(body: bytes, records_in_file: int) -> str | None:
    """The CSV requests of a capture file, joined, when every record's request is plain
    unquoted CSV (found by one scan of the file); None otherwise."""
    found = _PLAIN_INPUT.findall(body)
    if len(found) != records_in_file or not found:
        return None
    try:
        inputs = [orjson.loads(item) for item in found]
        if {item.get("encoding") for item in inputs} != {"CSV"}:
            return None
        if any("json" in str(kind) for kind in {item.get("observedContentType") for item in inputs}):
            return None
        joined = "\n".join([item["data"] for item in inputs])
    except (ValueError, KeyError, TypeError):
        return None
    if '"' in joined:
        return None  # quoted CSV: the csv module, line by line
    return joined


def sample_for(baseline: dict[str, Any], features_attribute: str = "features") -> Sample:
    """An empty sample of a baseline's columns (its label decided: `with_label_decided`)."""
    if baseline.get("label_candidate"):
        raise ValueError("the label column of this baseline is decided by the capture: read_hour")
    measured = [f["name"] for f in baseline["features"]]
    columns = baseline.get("columns") or measured
    numeric = {f["name"] for f in baseline["features"] if f["type"] == "numeric"}
    return Sample(list(columns), numeric, features_attribute, set(measured), baseline.get("training_width"))
