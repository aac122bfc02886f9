"""Labels met with the predictions they name, element by element, pure."""

from __future__ import annotations

from dataclasses import dataclass, field

from model_medic.measure.quality_metrics import ProblemType, usable
from model_medic.measure.records import Prediction

Found = tuple[str, list[Prediction | None]]  # variant, one prediction per record of the request
NO_VARIANT = ""  # a merged record's own prediction, its capture not found: the endpoint's figures only


@dataclass
class Joined:
    """Labels met with their predictions, and what did not meet."""

    pairs: dict[str, list[tuple[str, Prediction]]] = field(default_factory=dict)  # variant -> (label, prediction)
    carried: int = 0  # labels paired with the prediction their merged record carries (capture not found)
    unmatched_labels: int = 0
    duplicate_labels: int = 0
    malformed: int = 0  # labels or captures that did not decode
    undecodable_predictions: int = 0  # records of a response that did not decode, or cannot be scored
    count_mismatches: int = 0  # requests whose number of labels differs from their number of predictions

    @property
    def matched(self) -> int:
        return sum(len(p) for p in self.pairs.values())


def join(
    predictions: dict[str, Found],
    labels: dict[str, list[str]],
    problem: ProblemType = "BinaryClassification",
    carried: dict[str, Found] | None = None,
) -> Joined:
    """Pure: id -> (variant, predictions) with id -> labels, element by element. `carried`:
    the predictions merged records hold themselves, with their variant where their folder
    names it (else `NO_VARIANT`), used where the capture is not found."""
    joined = Joined()
    carried = carried or {}
    for event_id, labelled in labels.items():
        found = predictions.get(event_id)
        from_record = found is None and event_id in carried
        if from_record:
            found = carried[event_id]
        if found is None:
            joined.unmatched_labels += len(labelled)
            continue
        variant, predicted = found
        if len(predicted) != len(labelled):
            joined.count_mismatches += 1
            continue
        for label, prediction in zip(labelled, predicted, strict=True):
            if prediction is None or not usable(problem, label, prediction):
                joined.undecodable_predictions += 1
                continue
            joined.pairs.setdefault(variant, []).append((label, prediction))
            joined.carried += from_record
    return joined
