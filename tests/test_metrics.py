import json

import pytest

from emofuse.metrics import classification_report, plot_confusion_matrix, report_markdown


def test_report_numbers():
    y_true = [0, 0, 0, 1, 1, 2]
    y_pred = [0, 0, 1, 1, 2, 2]
    report = classification_report(y_true, y_pred, ["a", "b", "c"], "toy")
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert report["per_class"]["a"] == {"precision": 1.0, "recall": pytest.approx(2 / 3), "f1": pytest.approx(0.8),
                                        "support": 3}
    assert report["uar"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert report["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    json.dumps(report)


def test_absent_classes_do_not_count_in_macro_averages():
    report = classification_report([0, 0], [0, 0], ["a", "b"], "toy")
    assert report["macro_f1"] == 1.0 and report["uar"] == 1.0


def test_markdown_and_plot(tmp_path):
    report = classification_report([0, 1, 1], [0, 1, 0], ["x", "y"], "protocol words")
    text = report_markdown(report)
    assert "protocol words" in text and "| y |" in text
    png = plot_confusion_matrix(report, tmp_path / "cm.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_classes_without_examples_or_predictions_read_as_undefined_not_zero():
    from emofuse.metrics import classification_report, report_markdown

    report = classification_report([0, 0, 1], [0, 2, 1], ["a", "b", "c", "d"], "toy")
    rows = {line.split(" | ")[0][2:]: line for line in report_markdown(report).splitlines() if line.startswith("| ")}
    assert rows["c"] == "| c | 0.000 | – | – | 0 |"  # predicted once, wrongly; no examples
    assert rows["d"] == "| d | – | – | – | 0 |"  # neither
    assert rows["a"].startswith("| a | 1.000 | 0.500 |")


def test_per_class_tables_show_how_much_of_each_class_is_read_as_neutral():
    from emofuse.metrics import classification_report, per_class_table

    report = classification_report([0, 0, 0, 0, 1, 1], [0, 2, 2, 0, 2, 1], ["sad", "happy", "neutral"], "toy")
    rows = per_class_table(report)
    assert rows[0].endswith("read as neutral |")
    assert rows[2] == "| sad | 1.000 | 0.500 | 0.667 | 4 | 50.0% |" and rows[4].endswith("| 0 | – |")
