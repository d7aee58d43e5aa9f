"""The losses and metrics of ``tasks.py`` in PyTorch, with the meaning Keras gives them.

The model's scores are ``forward(x, logits=True)``: before its softmax or sigmoid, the class
axis second (channels-first).  A loss is the mean over every labelled position.  A metric is
a vector of sums (:class:`Stat`): the loop adds each batch's, sums them over the processes of
a distributed run, and computes the value at the end of the epoch from the totals (a ratio of
counts, or a formula of a confusion matrix), so the epoch's value is exact, not a mean of
batch values.  ``keras_metrics.py`` holds the Keras side; the tests compare the two on the
same tensors.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .tasks import metric_column

AUC_THRESHOLDS = 200  # Keras's AUC default
EPSILON = 1e-7  # Keras's thresholds' margin


def _smoothing(args) -> float:
    return float(args.get("label_smoothing", 0.0))


def _sparse_crossentropy(scores, y, args):
    return F.cross_entropy(scores.float(), y, label_smoothing=_smoothing(args))


def _binary_crossentropy(scores, y, args):
    target = y.float()
    eps = _smoothing(args)
    if eps:  # Keras: y * (1 - eps) + eps / 2
        target = target * (1.0 - eps) + 0.5 * eps
    return F.binary_cross_entropy_with_logits(scores.float(), target)


# name: mean loss of a batch, from the scores, the labels and the loss's arguments
LOSSES = {
    "sparse_categorical_crossentropy": _sparse_crossentropy,
    "binary_crossentropy": _binary_crossentropy,
    "mse": lambda scores, y, args: F.mse_loss(scores.float(), y),
    "mae": lambda scores, y, args: F.l1_loss(scores.float(), y),
    "huber": lambda scores, y, args: F.huber_loss(
        scores.float(), y, delta=float(args.get("delta", 1.0))
    ),
}


class TotalLoss:
    """The run's loss: one term, or the weighted sum over named outputs (scores and labels
    are then dicts by output name)."""

    def __init__(self, terms):
        self.terms = list(terms)

    def __call__(self, scores, y):
        return self.parts(scores, y)[0]

    def parts(self, scores, y):
        """The total and each output's unweighted loss by output name (Keras reports those
        as ``NAME_loss``); one term on plain tensors gives no parts."""
        if len(self.terms) == 1 and not isinstance(scores, dict):
            term = self.terms[0]
            return LOSSES[term.loss](scores, y, term.args) * term.weight, {}
        total, parts = 0.0, {}
        for term in self.terms:
            parts[term.output] = LOSSES[term.loss](scores[term.output], y[term.output], term.args)
            total = total + term.weight * parts[term.output]
        return total, parts


class Stat:
    """A metric as sums over batches: :meth:`update` gives a batch's sums (a float64 vector
    of ``size``), :meth:`result` the value from the epoch's totals."""

    size = 2

    def __init__(self, sigmoid: bool, classes: int, args: dict):
        self.sigmoid = sigmoid  # the model's scores go through a sigmoid (binary, multilabel)
        self.classes = classes
        self.args = args

    def update(self, scores, y):
        """The sums of one batch."""
        raise NotImplementedError

    def result(self, totals) -> float:
        """The metric from the summed ``totals`` (a list of floats)."""
        return _ratio(totals[0], totals[1])


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


class Accuracy(Stat):
    """The fraction of labels predicted right: the top class, or sigmoid > 0.5 (Keras's
    ``SparseCategoricalAccuracy`` and ``BinaryAccuracy``)."""

    def update(self, scores, y):
        if self.sigmoid:
            right = (torch.sigmoid(scores.float()) > 0.5) == (y > 0.5)
        else:
            right = scores.argmax(1) == y
        return _sums(right.sum(), y.numel())


def _sums(*values):
    return torch.stack([v.double() if torch.is_tensor(v) else torch.tensor(float(v),
                        dtype=torch.float64) for v in _on_one_device(values)])  # fmt: skip


def _on_one_device(values):
    device = next((v.device for v in values if torch.is_tensor(v)), None)
    return [
        v.to(device) if torch.is_tensor(v) else torch.tensor(float(v), device=device)
        for v in values
    ]


class TopK(Stat):
    """The fraction of labels among the k highest scores (``SparseTopKCategoricalAccuracy``)."""

    def update(self, scores, y):
        k = min(int(self.args.get("k", 5)), scores.shape[1])
        top = scores.topk(k, dim=1).indices
        hits = (top == y.unsqueeze(1)).any(dim=1)
        return _sums(hits.sum(), y.numel())


class AUC(Stat):
    """Area under the ROC curve as Keras's ``AUC()`` computes it: 200 thresholds, counts of
    true and false positives at each, the trapezoidal rule; every label counts (micro)."""

    size = 2 * (AUC_THRESHOLDS + 1)

    def __init__(self, sigmoid, classes, args):
        super().__init__(sigmoid, classes, args)
        inner = [(i + 1) / (AUC_THRESHOLDS - 1) for i in range(AUC_THRESHOLDS - 2)]
        self.thresholds = torch.tensor([-EPSILON, *inner, 1.0 + EPSILON], dtype=torch.float32)

    def update(self, scores, y):
        p = torch.sigmoid(scores.float()).reshape(-1)
        positive = y.reshape(-1) > 0.5
        above = torch.searchsorted(self.thresholds.to(p.device), p)  # thresholds below p
        n = AUC_THRESHOLDS + 1
        pos = torch.bincount(above[positive], minlength=n)
        neg = torch.bincount(above[~positive], minlength=n)
        return torch.cat([pos, neg]).double()

    def result(self, totals) -> float:
        n = AUC_THRESHOLDS + 1
        pos, neg = totals[:n], totals[n:]
        # positives (negatives) predicted above threshold i: those with more than i below
        tp = [sum(pos[i + 1 :]) for i in range(AUC_THRESHOLDS)]
        fp = [sum(neg[i + 1 :]) for i in range(AUC_THRESHOLDS)]
        p_total, n_total = sum(pos), sum(neg)
        tpr = [_ratio(t, p_total) for t in tp]
        fpr = [_ratio(f, n_total) for f in fp]
        return sum((fpr[i] - fpr[i + 1]) * (tpr[i] + tpr[i + 1]) / 2 for i in range(len(tp) - 1))


class Thresholded(Stat):
    """Precision, recall or F1: micro over every label at sigmoid > 0.5 (Keras's
    ``Precision``, ``Recall``, ``F1Score(average="micro")``); for softmax outputs macro over the
    classes that occur in the labels or the predictions (scikit-learn's ``average="macro"``),
    from the confusion matrix."""

    def __init__(self, sigmoid, classes, args, which):
        super().__init__(sigmoid, classes, args)
        self.which = which
        self.size = 3 if sigmoid else classes * classes

    def update(self, scores, y):
        if self.sigmoid:
            predicted = torch.sigmoid(scores.float()) > 0.5
            actual = y > 0.5
            tp = (predicted & actual).sum()
            return _sums(tp, (predicted & ~actual).sum(), (~predicted & actual).sum())
        return confusion(scores, y, self.classes)

    def result(self, totals) -> float:
        if self.sigmoid:
            return score(self.which, *totals)
        per_class = [score(self.which, *counts) for counts in class_counts(totals, self.classes)
                     if sum(counts) > 0]  # fmt: skip
        return sum(per_class) / len(per_class) if per_class else 0.0


def score(which: str, tp: float, fp: float, fn: float) -> float:
    """Precision, recall or F1 from true positives, false positives and false negatives."""
    if which == "precision":
        return _ratio(tp, tp + fp)
    if which == "recall":
        return _ratio(tp, tp + fn)
    return _ratio(2 * tp, 2 * tp + fp + fn)


def confusion(scores, y, classes: int):
    """The confusion matrix of a batch (rows: labels, columns: predictions), flattened."""
    predicted = scores.argmax(1).reshape(-1)
    flat = y.reshape(-1) * classes + predicted
    return torch.bincount(flat, minlength=classes * classes).double()


def class_counts(totals, classes: int):
    """(tp, fp, fn) of each class from a flattened confusion matrix."""
    rows = [totals[c * classes : (c + 1) * classes] for c in range(classes)]
    counts = []
    for c in range(classes):
        tp = rows[c][c]
        fn = sum(rows[c]) - tp
        fp = sum(r[c] for r in rows) - tp
        counts.append((tp, fp, fn))
    return counts


class MeanIoU(Stat):
    """Intersection over union of each class, averaged over the classes that occur in the
    labels or the predictions (Keras's ``MeanIoU``)."""

    def __init__(self, sigmoid, classes, args):
        super().__init__(sigmoid, classes, args)
        self.size = classes * classes

    def update(self, scores, y):
        return confusion(scores, y, self.classes)

    def result(self, totals) -> float:
        ious = [_ratio(tp, tp + fp + fn) for tp, fp, fn in class_counts(totals, self.classes)
                if tp + fp + fn > 0]  # fmt: skip
        return sum(ious) / len(ious) if ious else 0.0


class Errors(Stat):
    """Mean absolute error, mean squared error or its root, over every output value."""

    def __init__(self, sigmoid, classes, args, which):
        super().__init__(sigmoid, classes, args)
        self.which = which

    def update(self, scores, y):
        error = scores.float() - y
        total = error.abs().sum() if self.which == "mae" else (error * error).sum()
        return _sums(total, y.numel())

    def result(self, totals) -> float:
        mean = _ratio(totals[0], totals[1])
        return math.sqrt(mean) if self.which == "rmse" else mean


class R2(Stat):
    """The coefficient of determination of each output, averaged (Keras's ``R2Score``)."""

    def __init__(self, sigmoid, classes, args):
        super().__init__(sigmoid, classes, args)
        self.size = 3 * classes + 1

    def update(self, scores, y):
        y = y.double().reshape(len(y), -1)
        error = scores.double().reshape(len(y), -1) - y
        return torch.cat([y.sum(0), (y * y).sum(0), (error * error).sum(0),
                          torch.tensor([float(len(y))], dtype=torch.float64,
                                       device=y.device)])  # fmt: skip

    def result(self, totals) -> float:
        k = self.classes
        sums, squares, residual, count = (
            totals[:k],
            totals[k : 2 * k],
            totals[2 * k : 3 * k],
            totals[-1],
        )
        values = []
        for s, q, r in zip(sums, squares, residual, strict=True):
            total = q - s * s / count if count else 0.0
            values.append(1.0 - _ratio(r, total) if total else 0.0)
        return sum(values) / len(values)


class Perplexity(Stat):
    """``exp`` of the mean cross-entropy per token (without label smoothing)."""

    def update(self, scores, y):
        loss = F.cross_entropy(scores.float(), y, reduction="sum")
        return _sums(loss, y.numel())

    def result(self, totals) -> float:
        mean = _ratio(totals[0], totals[1])
        return math.exp(mean) if mean < 700 else math.inf


METRICS = {
    "accuracy": Accuracy,
    "top_k": TopK,
    "auc": AUC,
    "precision": lambda s, c, a: Thresholded(s, c, a, "precision"),
    "recall": lambda s, c, a: Thresholded(s, c, a, "recall"),
    "f1": lambda s, c, a: Thresholded(s, c, a, "f1"),
    "mae": lambda s, c, a: Errors(s, c, a, "mae"),
    "mse": lambda s, c, a: Errors(s, c, a, "mse"),
    "rmse": lambda s, c, a: Errors(s, c, a, "rmse"),
    "r2": R2,
    "mean_iou": MeanIoU,
    "perplexity": Perplexity,
}


def make_metrics(settings, sigmoid: bool, classes: int) -> dict:
    """The run's metrics by the name they are reported under (``top_5_accuracy``)."""
    return {
        metric_column(name, settings.metric_args.get(name)): METRICS[name](
            sigmoid, classes, settings.metric_args.get(name, {})
        )
        for name in settings.metrics
    }


def output_metrics(term, sigmoid: bool, classes: int) -> dict:
    """One output's metrics (a :class:`~settings.LossTerm` of a model with several outputs)
    by the name they are reported under (``cultivar_accuracy``): ``{name: (output, Stat)}``."""
    return {
        column: (term.output, METRICS[name](sigmoid, classes, term.metric_args.get(name, {})))
        for name, column in zip(term.metrics, term.metric_columns(), strict=True)
    }
