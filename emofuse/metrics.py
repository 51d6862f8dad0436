"""Classification metrics, reports and confusion-matrix plots; every report carries its protocol."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

IndexArray = Sequence[int] | np.ndarray
"""Class indices: a list or an integer array."""


def normalised_words(text: str) -> list[str]:
    """Lower-case words without punctuation (``ß`` as ``ss``): what word error rates compare."""
    import re

    return re.findall(r"[\w']+", text.lower().replace("ß", "ss"))


def word_errors(reference: str, hypothesis: str) -> int:
    """Substitutions + deletions + insertions turning ``reference`` into ``hypothesis`` (word Levenshtein)."""
    ref, hyp = normalised_words(reference), normalised_words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, other in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != other))
    return row[-1]


def word_error_rate(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus word error rate: all word errors over all reference words."""
    total = sum(len(normalised_words(r)) for r in references)
    return sum(word_errors(r, h) for r, h in zip(references, hypotheses)) / max(total, 1)


def confusion_matrix(y_true: IndexArray, y_pred: IndexArray, n_classes: int) -> np.ndarray:
    """Counts (n_classes, n_classes): rows are true labels, columns predictions."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)), 1)
    return matrix


def per_class(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class from a confusion matrix (0 where undefined)."""
    tp = np.diag(matrix).astype(float)
    predicted, support = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def classification_report(y_true: IndexArray, y_pred: IndexArray, labels: Sequence[str],
                          protocol: str) -> dict:
    """Accuracy, macro-F1, unweighted average recall (UAR), per-class P/R/F1 and the confusion matrix.

    Macro averages run over the classes present in ``y_true``.
    """
    matrix = confusion_matrix(y_true, y_pred, len(labels))
    stats = per_class(matrix)
    present = stats["support"] > 0
    total = int(matrix.sum())
    return {
        "protocol": protocol,
        "n": total,
        "accuracy": float(np.trace(matrix) / total) if total else 0.0,
        "macro_f1": float(stats["f1"][present].mean()) if present.any() else 0.0,
        "uar": float(stats["recall"][present].mean()) if present.any() else 0.0,
        "labels": list(labels),
        "per_class": {name: {key: float(stats[key][i]) if key != "support" else int(stats[key][i])
                             for key in ("precision", "recall", "f1", "support")}
                      for i, name in enumerate(labels)},
        "confusion_matrix": matrix.tolist(),
    }


def report_markdown(report: dict, title: str = "Results") -> str:
    """A Markdown summary table of a report from ``classification_report``."""
    lines = [f"### {title}", "", f"Protocol: {report['protocol']}", "",
             f"Accuracy **{report['accuracy']:.1%}**, macro-F1 **{report['macro_f1']:.3f}**, "
             f"UAR **{report['uar']:.1%}** (n = {report['n']})", "", *per_class_table(report)]
    return "\n".join(lines) + "\n"


def recall_summary(report: dict) -> str:
    """"happy 0.45, sad 0.68, ...": the recall of each class the report's data holds, on one line."""
    return ", ".join(f"{label} {row['recall']:.2f}" for label, row in report["per_class"].items() if row["support"])


def per_class_table(report: dict) -> list[str]:
    """The Markdown rows of a report's per-class precision, recall, F1 and support, and, where the labels have a
    neutral, the share of each class read as neutral (the bias that holds expressive faces down). Undefined
    values (a class never predicted, or without examples) show "–", not 0."""
    labels, matrix = report["labels"], np.asarray(report["confusion_matrix"])
    neutral = labels.index("neutral") if "neutral" in labels else None
    lines = ["| class | precision | recall | F1 | support |" + (" read as neutral |" if neutral is not None else ""),
             "|---|---|---|---|---|" + ("---|" if neutral is not None else "")]
    for i, (name, row) in enumerate(report["per_class"].items()):
        precision = f"{row['precision']:.3f}" if matrix[:, i].sum() else "–"
        recall, f1 = (f"{row['recall']:.3f}", f"{row['f1']:.3f}") if row["support"] else ("–", "–")
        line = f"| {name} | {precision} | {recall} | {f1} | {row['support']} |"
        if neutral is not None:
            line += f" {matrix[i, neutral] / row['support']:.1%} |" if row["support"] else " – |"
        lines.append(line)
    return lines


def plot_confusion_matrix(report: dict, path: str | Path, title: str | None = None) -> Path:
    """Save a row-normalised confusion matrix with counts as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(report["confusion_matrix"], dtype=float)
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    labels = report["labels"]
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(labels), 0.8 + 0.75 * len(labels)), dpi=110)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center", fontsize=8,
                    color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or f"accuracy {report['accuracy']:.1%}, macro-F1 {report['macro_f1']:.3f}", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
