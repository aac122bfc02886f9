"""The `Feature` dimension values of the drift metrics: what CloudWatch accepts for each feature name, pure.

CloudWatch refuses a whole PutMetricData call when one dimension value holds a character
outside printable ASCII, has no non-whitespace character, or is longer than 1,024 characters
(docs/aws-behaviours.md, "CloudWatch dimension values"). Feature names come from a training
set's header or Model Monitor's statistics.json and may hold any of these. A name CloudWatch
accepts is published as it is; another is escaped as in a Python string literal (`température`
is published as `temp\\u00e9rature`); a name no escape can save (empty, only spaces, too long,
or the same value as another feature's) is not published per feature.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_DIMENSION_VALUE = 1024  # DimensionValue: 1-1024 characters (botocore cloudwatch service-2.json)


def acceptable(value: str) -> bool:
    """Whether CloudWatch takes `value` as a dimension value: 1-1,024 printable ASCII characters
    (no control characters), at least one of them not a space."""
    return 0 < len(value) <= MAX_DIMENSION_VALUE and value.strip(" ") != "" and all(" " <= c <= "~" for c in value)


def escaped(name: str) -> str:
    """`name` with every character outside printable ASCII, and the backslash, written as in a
    Python string literal (`\\\\`, `\\u00e9`, `\\U0001f600`): ASCII, and read back by
    `codecs.decode(value, "unicode_escape")`."""
    out = []
    for c in name:
        if c == "\\":
            out.append("\\\\")
        elif " " <= c <= "~":
            out.append(c)
        elif ord(c) <= 0xFFFF:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    return "".join(out)


@dataclass(frozen=True)
class FeatureDimensions:
    """Each feature's `Feature` dimension value; `renamed` the names published escaped,
    `unpublished` those not published per feature, each with why."""

    values: dict[str, str] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)
    unpublished: dict[str, str] = field(default_factory=dict)


def feature_dimensions(names: Iterable[str]) -> FeatureDimensions:
    """The dimension value of each feature name: the name itself when CloudWatch accepts it,
    else its escape when CloudWatch accepts that and it is not another feature's value (a name
    published as it is keeps its value; among escapes, the first feature in order does)."""
    ordered = list(dict.fromkeys(names))
    values = {name: name for name in ordered if acceptable(name)}
    taken = set(values)
    renamed: dict[str, str] = {}
    unpublished: dict[str, str] = {}
    for name in ordered:
        if name in values:
            continue
        value = escaped(name)
        if not acceptable(value):
            unpublished[name] = _why(name, value)
        elif value in taken:
            unpublished[name] = f"its escape {value!r} is another feature's name"
        else:
            values[name] = renamed[name] = value
            taken.add(value)
    return FeatureDimensions({name: values[name] for name in ordered if name in values}, renamed, unpublished)


def _why(name: str, value: str) -> str:
    if name.strip(" ") == "":
        return "it is empty or only spaces"
    return f"it is longer than CloudWatch's {MAX_DIMENSION_VALUE} characters ({len(value)} as published)"
