"""Classification metrics against hand-computed values."""

import numpy as np
import pytest

from edgeaffect.evaluation.metrics import classification_metrics


def test_metrics_by_hand():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    m = classification_metrics(y_true, y_pred, ("a", "b", "c"))
    assert m["accuracy"] == pytest.approx(4 / 6)
    # recalls: a 2/3, b 1/2, c 1/1; precisions: a 1, b 1/2, c 1/2
    assert m["per_class_recall"] == pytest.approx({"a": 2 / 3, "b": 0.5, "c": 1.0})
    f1 = [2 * 1 * (2 / 3) / (1 + 2 / 3), 0.5, 2 * 0.5 * 1 / 1.5]
    assert m["macro_f1"] == pytest.approx(np.mean(f1))
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    assert m["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_absent_class_is_left_out_of_macro_averages():
    m = classification_metrics([0, 0, 1], [0, 1, 1], ("a", "b", "c"))
    assert m["per_class_recall"]["c"] is None
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1) / 2)


def test_metric_errors():
    with pytest.raises(ValueError, match="equal length"):
        classification_metrics([0, 1], [0], ("a", "b"))
    with pytest.raises(ValueError, match="no samples"):
        classification_metrics([], [], ("a",))
