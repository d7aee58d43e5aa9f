"""The losses, metrics and learning-rate schedules of ``tasks.py`` and ``schedules.py`` in
Keras: Keras's own classes where one has the meaning (``AUC()``, ``MeanIoU``, ``R2Score``,
...), small subclasses where none does (label smoothing on integer labels, macro precision,
recall and F1 from a confusion matrix, perplexity), and one ``LearningRateSchedule`` that
evaluates ``schedules.rate`` with ``keras.ops``.

The Keras model outputs probabilities (after its softmax or sigmoid); Keras's losses take the
scores back from the activation (``from_logits`` is only for a linear last layer), so they
compute what PyTorch's do on ``forward(x, logits=True)``.  ``torch_metrics.py`` is the other
side; the tests compare the two on the same tensors.
"""

from __future__ import annotations

import keras
from keras import ops

from .schedules import EPOCH_SCHEDULES, rate
from .tasks import metric_column

PACKAGE = "specc_harness"  # the name custom objects are registered under in saved models


@keras.saving.register_keras_serializable(package=PACKAGE)
class SparseSmoothedCrossentropy(keras.losses.Loss):
    """Categorical cross-entropy with label smoothing on integer labels: Keras's
    ``CategoricalCrossentropy(label_smoothing=e)`` of the one-hot labels (the class axis is
    the last)."""

    def __init__(self, label_smoothing=0.0, from_logits=False, name="sparse_smoothed", **kw):
        super().__init__(name=name, **kw)
        self.label_smoothing = float(label_smoothing)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        """Per-position losses."""
        classes = ops.shape(y_pred)[-1]
        one_hot = ops.one_hot(ops.cast(y_true, "int32"), classes, dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            one_hot, y_pred, from_logits=self.from_logits, label_smoothing=self.label_smoothing
        )

    def get_config(self):
        """What a saved model keeps of it."""
        return {**super().get_config(), "label_smoothing": self.label_smoothing,
                "from_logits": self.from_logits}  # fmt: skip


def _sparse_crossentropy(args, probabilities):
    smoothing = float(args.get("label_smoothing", 0.0))
    if smoothing:
        return SparseSmoothedCrossentropy(smoothing, from_logits=not probabilities)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=not probabilities)


# name: the loss, given its arguments and whether the model outputs probabilities
LOSSES = {
    "sparse_categorical_crossentropy": _sparse_crossentropy,
    "binary_crossentropy": lambda args, probabilities: keras.losses.BinaryCrossentropy(
        from_logits=not probabilities, label_smoothing=float(args.get("label_smoothing", 0.0))
    ),
    "mse": lambda args, probabilities: keras.losses.MeanSquaredError(),
    "mae": lambda args, probabilities: keras.losses.MeanAbsoluteError(),
    "huber": lambda args, probabilities: keras.losses.Huber(delta=float(args.get("delta", 1.0))),
}


def make_loss(terms, probabilities):
    """``(loss, loss_weights)`` for ``compile``: one loss, or one per named output.

    ``probabilities``: whether the model outputs probabilities; with several outputs, a dict
    of that by output name (a bool there means every output)."""
    if len(terms) == 1 and terms[0].output is None:
        term = terms[0]
        loss = LOSSES[term.loss](term.args, probabilities)
        return loss, None if term.weight == 1.0 else [term.weight]

    def outputs_probabilities(name):
        return probabilities[name] if isinstance(probabilities, dict) else probabilities

    losses = {t.output: LOSSES[t.loss](t.args, outputs_probabilities(t.output)) for t in terms}
    return losses, {t.output: t.weight for t in terms}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MacroScore(keras.metrics.MeanIoU):
    """Precision, recall or F1 of each class from the confusion matrix (the top class is the
    prediction), averaged over the classes that occur in the labels or the predictions."""

    def __init__(self, num_classes, which="f1", name=None, **kw):
        kw.setdefault("sparse_y_pred", False)
        kw.setdefault("dtype", "float64")  # counts, exact to 2**53
        super().__init__(num_classes, name=name or which, **kw)
        self.which = which

    def result(self):
        """The macro average."""
        cm = ops.cast(self.total_cm, "float64")
        tp = ops.diagonal(cm)
        fp = ops.sum(cm, axis=0) - tp
        fn = ops.sum(cm, axis=1) - tp
        if self.which == "precision":
            num, den = tp, tp + fp
        elif self.which == "recall":
            num, den = tp, tp + fn
        else:
            num, den = 2 * tp, 2 * tp + fp + fn
        present = ops.cast(tp + fp + fn > 0, "float64")
        per_class = ops.divide_no_nan(num, den)
        value = ops.divide_no_nan(ops.sum(per_class * present), ops.sum(present))
        return ops.cast(value, "float32")

    def get_config(self):
        """What a saved model keeps of it."""
        return {**super().get_config(), "which": self.which}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Perplexity(keras.metrics.MeanMetricWrapper):
    """``exp`` of the mean cross-entropy per token (without label smoothing)."""

    def __init__(self, from_logits=False, name="perplexity", **kw):
        super().__init__(
            keras.losses.sparse_categorical_crossentropy, name=name, from_logits=from_logits, **kw
        )
        self.from_logits = from_logits

    def result(self):
        """The perplexity of the tokens seen."""
        return ops.exp(super().result())

    def get_config(self):
        """What a saved model keeps of it."""
        return {"name": self.name, "from_logits": self.from_logits}


def _micro(kind, sigmoid, classes, name):
    if not sigmoid:
        return MacroScore(classes, which=kind, name=name)
    if kind == "precision":
        return keras.metrics.Precision(thresholds=0.5, name=name)
    if kind == "recall":
        return keras.metrics.Recall(thresholds=0.5, name=name)
    return keras.metrics.F1Score(average="micro", threshold=0.5, name=name)


# name: build(sigmoid output, classes, arguments, probabilities, name)
METRICS = {
    "accuracy": lambda s, c, a, p, n: (
        keras.metrics.BinaryAccuracy(threshold=0.5, name=n)
        if s
        else keras.metrics.SparseCategoricalAccuracy(name=n)
    ),
    "top_k": lambda s, c, a, p, n: keras.metrics.SparseTopKCategoricalAccuracy(
        k=int(a.get("k", 5)), name=n
    ),
    "auc": lambda s, c, a, p, n: keras.metrics.AUC(num_thresholds=200, name=n),
    "precision": lambda s, c, a, p, n: _micro("precision", s, c, n),
    "recall": lambda s, c, a, p, n: _micro("recall", s, c, n),
    "f1": lambda s, c, a, p, n: _micro("f1", s, c, n),
    "mae": lambda s, c, a, p, n: keras.metrics.MeanAbsoluteError(name=n),
    "mse": lambda s, c, a, p, n: keras.metrics.MeanSquaredError(name=n),
    "rmse": lambda s, c, a, p, n: keras.metrics.RootMeanSquaredError(name=n),
    "r2": lambda s, c, a, p, n: keras.metrics.R2Score(name=n),
    "mean_iou": lambda s, c, a, p, n: keras.metrics.MeanIoU(c, sparse_y_pred=False, name=n),
    "perplexity": lambda s, c, a, p, n: Perplexity(from_logits=not p, name=n),
}


def make_metrics(settings, sigmoid: bool, classes: int, probabilities: bool) -> list:
    """The run's metrics, named as they are reported (``top_5_accuracy``)."""
    found = []
    for name in settings.metrics:
        args = settings.metric_args.get(name, {})
        column = metric_column(name, args)
        found.append(METRICS[name](sigmoid, classes, args, probabilities, column))
    return found


def output_metrics(settings, outputs) -> dict:
    """Each output's metrics for ``compile`` (a model with several outputs: ``outputs`` are
    the configuration's), by output name; Keras reports them as ``NAME_accuracy``."""
    shape = {o.name: o for o in outputs}
    found = {}
    for term in settings.losses:
        out = shape[term.output]
        sigmoid = out.activation == "sigmoid"
        probabilities = out.activation in ("softmax", "sigmoid")
        found[term.output] = [
            METRICS[name](sigmoid, out.classes, term.metric_args.get(name, {}), probabilities,
                          metric_column(name, term.metric_args.get(name)))
            for name in term.metrics
        ]  # fmt: skip
    return found


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpeccSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A schedule of ``schedules.py`` as a function of the optimizer's iteration count (the
    batch step: with gradient accumulation Keras's optimizer asks at every batch)."""

    def __init__(self, name, args, lr, per_epoch, total):
        self.name = name
        self.args = dict(args)
        self.lr = float(lr)
        self.per_epoch = int(per_epoch)
        self.total = int(total)

    def __call__(self, step):
        """The rate at ``step``, float32."""
        step = ops.cast(step, "float32")
        return ops.cast(
            rate(self.name, self.args, self.lr, step, self.per_epoch, self.total, ops=KerasOps),
            "float32",
        )

    def get_config(self):
        """What a saved model keeps of it."""
        return {"name": self.name, "args": self.args, "lr": self.lr,
                "per_epoch": self.per_epoch, "total": self.total}  # fmt: skip


class KerasOps:
    """The operations of a schedule formula on Keras tensors."""

    floor = staticmethod(ops.floor)
    cos = staticmethod(ops.cos)
    minimum = staticmethod(ops.minimum)
    maximum = staticmethod(ops.maximum)
    where = staticmethod(ops.where)
    power = staticmethod(ops.power)


def learning_rate(settings, per_epoch: int, total: int):
    """What the optimizer's ``learning_rate`` is: a schedule, or a number (a constant rate,
    or reduce-on-plateau's, which the loop sets between epochs)."""
    if settings.schedule == "constant" or settings.schedule in EPOCH_SCHEDULES:
        return settings.lr
    return SpeccSchedule(settings.schedule, settings.schedule_args, settings.lr, per_epoch, total)
