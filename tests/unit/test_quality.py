"""Model-quality metrics checked against scikit-learn on seeded predictions."""

import json
import math
import random
from pathlib import Path

import pytest
from sklearn import metrics as sk

from model_medic.measure.ground_truth import truth_record
from model_medic.measure.quality_join import NO_VARIANT, join
from model_medic.measure.quality_metrics import binary_metrics, multiclass_metrics, regression_metrics, roc_auc
from model_medic.measure.records import OutputFormat, Prediction

REAL = Path(__file__).resolve().parents[1] / "data" / "real"


def probabilities(scores: list[str]) -> list[Prediction]:
    return [Prediction(None, float(s)) for s in scores]


def labelled(values: list[str]) -> list[Prediction]:
    return [Prediction(v, None) for v in values]


def seeded_binary(kind: str, n: int = 2000) -> tuple[list[str], list[float]]:
    rng = random.Random(kind)
    labels = [rng.random() < 0.3 for _ in range(n)]
    if kind == "perfect":
        scores = [0.9 if y else 0.1 for y in labels]
    elif kind == "random":
        scores = [rng.random() for _ in labels]
    else:  # degraded: informative but noisy
        scores = [min(1.0, max(0.0, (0.65 if y else 0.4) + rng.gauss(0, 0.2))) for y in labels]
    return ["1" if y else "0" for y in labels], scores


@pytest.mark.parametrize("kind", ["perfect", "random", "degraded"])
def test_binary_metrics_match_scikit_learn(kind: str) -> None:
    labels, scores = seeded_binary(kind)
    ours = binary_metrics(labels, probabilities([f"{s:.6f}" for s in scores]), positive="1", threshold=0.5)
    y = [int(v) for v in labels]
    predicted = [int(s >= 0.5) for s in [float(f"{s:.6f}") for s in scores]]
    assert ours["accuracy"] == pytest.approx(sk.accuracy_score(y, predicted))
    assert ours["precision"] == pytest.approx(sk.precision_score(y, predicted, zero_division=0))
    assert ours["recall"] == pytest.approx(sk.recall_score(y, predicted, zero_division=0))
    assert ours["f1"] == pytest.approx(sk.f1_score(y, predicted, zero_division=0))
    assert ours["auc"] == pytest.approx(sk.roc_auc_score(y, [float(f"{s:.6f}") for s in scores]))
    if kind == "perfect":
        assert ours["accuracy"] == 1.0
    if kind == "random":
        assert 0.4 < ours["auc"] < 0.6


def test_binary_predictions_given_as_labels_have_no_auc() -> None:
    ours = binary_metrics(["1", "0", "1", "1"], labelled(["1", "0", "0", "1"]), positive="1", threshold=0.5)
    assert ours == pytest.approx({"accuracy": 0.75, "precision": 1.0, "recall": 2 / 3, "f1": 0.8})


def test_auc_handles_ties_like_scikit_learn() -> None:
    actual = [True, False, True, False, True, False]
    scores = [0.5, 0.5, 0.7, 0.2, 0.5, 0.7]
    assert roc_auc(actual, scores) == pytest.approx(sk.roc_auc_score(actual, scores))
    assert roc_auc([True, True], [0.1, 0.2]) is None


def test_multiclass_metrics_match_scikit_learn_macro_averages() -> None:
    rng = random.Random(5)
    labels = [rng.choice("abc") for _ in range(1500)]
    predictions = [y if rng.random() < 0.7 else rng.choice("abc") for y in labels]
    ours = multiclass_metrics(labels, predictions)
    assert ours["accuracy"] == pytest.approx(sk.accuracy_score(labels, predictions))
    assert ours["precision"] == pytest.approx(sk.precision_score(labels, predictions, average="macro"))
    assert ours["recall"] == pytest.approx(sk.recall_score(labels, predictions, average="macro"))
    assert ours["f1"] == pytest.approx(sk.f1_score(labels, predictions, average="macro"))


def test_regression_metrics_match_scikit_learn() -> None:
    rng = random.Random(9)
    actual = [rng.uniform(0, 100) for _ in range(1000)]
    predicted = [a + rng.gauss(0, 5) for a in actual]
    ours = regression_metrics(actual, predicted)
    assert ours["rmse"] == pytest.approx(math.sqrt(sk.mean_squared_error(actual, predicted)))
    assert ours["mae"] == pytest.approx(sk.mean_absolute_error(actual, predicted))


def test_join_counts_what_did_not_meet() -> None:
    one, zero = Prediction("1", None), Prediction("0", None)
    joined = join(
        {"a": ("primary", [one]), "b": ("canary", [zero]), "c": ("primary", [one])},
        {"a": ["1"], "b": ["1"], "z": ["0"]},
    )
    assert joined.pairs == {"primary": [("1", one)], "canary": [("1", zero)]}
    assert (joined.matched, joined.unmatched_labels) == (2, 1)


def test_a_batched_request_is_paired_element_by_element_with_its_labels() -> None:
    batch = [Prediction(None, 0.2), Prediction(None, 0.7), None]  # the third record did not decode
    joined = join(
        {"req": ("primary", batch), "odd": ("primary", [Prediction(None, 0.9)])},
        {"req": ["0", "1", "1"], "odd": ["1", "0"]},
    )
    assert joined.pairs == {"primary": [("0", batch[0]), ("1", batch[1])]}
    assert (joined.undecodable_predictions, joined.count_mismatches) == (1, 1)


def test_each_record_is_judged_on_its_own_probabilities_and_labels_mixed() -> None:
    """A window mixing probability records and label-only records: each by its own rule; no
    record flips how the others are read, and AUC is left out (not every record has a score)."""
    labels = ["1", "0", "1", "0", "1", "0"]
    predictions = [
        Prediction(None, 0.8),  # 1, right
        Prediction(None, 0.3),  # 0, right
        Prediction("1", None),  # 1, right
        Prediction("1", None),  # 1, wrong
        Prediction("1", 0.4),  # the probability decides: 0, wrong
        Prediction(None, 0.5),  # at the threshold: 1, wrong
    ]
    ours = binary_metrics(labels, predictions, positive="1", threshold=0.5)
    y_true = [1, 0, 1, 0, 1, 0]
    y_pred = [1, 0, 1, 1, 0, 1]
    assert ours["accuracy"] == pytest.approx(sk.accuracy_score(y_true, y_pred))
    assert ours["precision"] == pytest.approx(sk.precision_score(y_true, y_pred))
    assert ours["recall"] == pytest.approx(sk.recall_score(y_true, y_pred))
    assert "auc" not in ours


@pytest.mark.parametrize(("label", "positive"), [("1.0", "1"), (" 1 ", "1"), ("yes", "1"), ("True", "1"), ("1", "1.0")])
def test_a_positive_label_written_another_way_is_still_positive(label: str, positive: str) -> None:
    # Two records labelled positive, both predicted positive: accuracy and recall 1.
    result = binary_metrics([label, label], labelled(["1", "1"]), positive, 0.5)
    assert result["accuracy"] == 1.0
    assert result["recall"] == 1.0


def test_multiclass_labels_compare_by_value() -> None:
    assert multiclass_metrics(["2.0", "cat ", "1"], ["2", "Cat", "1.0"])["accuracy"] == 1.0


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "x"])
def test_a_non_finite_regression_label_is_not_scored_and_the_others_are(bad: str) -> None:
    from model_medic.measure.quality_metrics import usable

    assert not usable("Regression", bad, Prediction("1.0", None))
    assert not usable("Regression", "1.0", Prediction(bad, None))
    assert usable("Regression", "1.5", Prediction("2.0", None))
    joined = join({"a": ("v", [Prediction("1.0", None), Prediction("2.0", None)])}, {"a": ["1.5", bad]}, "Regression")
    assert joined.undecodable_predictions == 1
    [(label, _)] = joined.pairs["v"]
    assert regression_metrics([float(label)], [1.0]) == {"rmse": 0.5, "mae": 0.5}


def test_a_real_merged_record_carries_its_own_labels_and_predictions() -> None:
    """One line of Model Monitor's merge output (tests/data/real/clarify-merged-record.json):
    334 ground-truth labels as {"instances": [{"label": ...}]} and the 334 predictions of the
    captured response, under the capture's own metadata."""
    record = json.loads((REAL / "clarify-merged-record.json").read_text())
    labels_only = OutputFormat.for_problem("BinaryClassification", "predicted_label", "")
    event_id, labels, predicted = truth_record(record, labels_only)
    assert event_id == "7"  # the inferenceId the capture was made with, not its eventId
    assert predicted is not None
    assert (len(labels), len(predicted)) == (334, 334)
    truth = [int(v["label"]) for v in json.loads(record["groundTruthData"]["data"])["instances"]]
    outputs = json.loads(record["captureData"]["endpointOutput"]["data"])["predictions"]
    assert labels == [str(y) for y in truth]
    # No capture found: the record's own predictions, for the endpoint only.
    joined = join({}, {event_id: labels}, "BinaryClassification", {event_id: (NO_VARIANT, predicted)})
    assert (joined.matched, joined.carried, joined.unmatched_labels) == (334, 334, 0)
    pairs = joined.pairs[NO_VARIANT]
    ours = binary_metrics([a for a, _ in pairs], [p for _, p in pairs], positive="1", threshold=0.5)
    by_label = [int(o["predicted_label"]) for o in outputs]  # the model's own labels, not score >= 0.5
    assert ours["accuracy"] == pytest.approx(sk.accuracy_score(truth, by_label))
    assert ours["precision"] == pytest.approx(sk.precision_score(truth, by_label))
    assert ours["recall"] == pytest.approx(sk.recall_score(truth, by_label))
    assert ours["f1"] == pytest.approx(sk.f1_score(truth, by_label))
    assert "auc" not in ours
    # Its capture found after all: the capture's variant, nothing carried.
    joined = join({event_id: ("AllTraffic", predicted)}, {event_id: labels}, "BinaryClassification", {})
    assert (set(joined.pairs), joined.carried) == ({"AllTraffic"}, 0)


def test_a_plain_ground_truth_record_names_its_prediction_by_event_id() -> None:
    record = json.loads((REAL / "examples-test-gt-01d3c1a8.jsonl").read_text())
    assert truth_record(record, OutputFormat()) == ("01d3c1a8-aa99-4149-9d5e-78bea047a788", ["0"], None)
