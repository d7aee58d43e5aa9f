"""What the harness can train: the tasks, their losses and their metrics, one table each.

A *task* says what a sample's labels are and what the model's last layer must output; each
loss and metric says which tasks it fits.  ``specc check`` validates the pairing of task, last
layer, loss, labels and metrics with these tables, and both training loops implement every
row (``torch_metrics.py``, ``keras_metrics.py``), with the same meaning:

- scores are the last layer's values before its softmax or sigmoid (PyTorch's
  ``forward(x, logits=True)``; Keras recovers them from the activation in its losses);
- the class axis is the last one (Keras) or the second (PyTorch, channels-first);
- a loss is the mean over every labelled position (sample, pixel or token);
- precision, recall and F1 are micro-averaged at a 0.5 threshold for sigmoid outputs, and
  macro-averaged over the classes (from the confusion matrix) for softmax outputs.

Pure Python: ``specc check`` imports it.
"""

from __future__ import annotations

CLASS_SCORES = ("softmax", None)  # softmax probabilities, or raw scores (a linear last layer)


class Task:
    """A kind of problem: its labels, the last layer it needs, its losses and metrics.

    (A plain class: ``specc check`` imports this module and must start fast.)
    """

    __slots__ = ("activations", "default_metrics", "description", "labels", "losses",
                 "metrics", "name", "rank", "units")  # fmt: skip

    def __init__(self, name, description, labels, rank, activations, units, losses, metrics,
                 default_metrics):  # fmt: skip
        self.name = name
        self.description = description
        self.labels = labels  # what y holds, in words
        self.rank = rank  # the output's rank without the batch axis: 1 vector, 2 LxC, 3 HxWxC
        self.activations: tuple[str | None, ...] = activations  # the last layer's, None: linear
        self.units = units  # "one", "several" or "classes" (at least 2) on the last axis
        self.losses: tuple[str, ...] = losses  # the first is the default
        self.metrics: tuple[str, ...] = metrics
        self.default_metrics: tuple[str, ...] = default_metrics

    def output_text(self) -> str:
        """The last layer this task needs, in words: ``dense 1 sigmoid``-like advice."""
        shape = {1: "a vector", 2: "one vector per step (LxC)", 3: "one vector per pixel (HxWxC)"}
        acts = " or ".join(a or "no activation" for a in self.activations)
        units = {"one": "1 unit", "several": "one unit per label", "targets": "one unit per target",
                 "classes": "one per class"}  # fmt: skip
        return f"{shape[self.rank]} of {units[self.units]}, with {acts}"


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task("classify", "one class per sample", "integer class indices, one per sample",
             1, CLASS_SCORES, "classes",
             ("sparse_categorical_crossentropy",),
             ("accuracy", "top_k", "precision", "recall", "f1"), ("accuracy",)),
        Task("binary", "yes or no per sample", "0 or 1, one per sample",
             1, ("sigmoid",), "one",
             ("binary_crossentropy",),
             ("accuracy", "auc", "precision", "recall", "f1"), ("accuracy",)),
        Task("multilabel", "any number of labels per sample", "0 or 1 per label, a row per sample",
             1, ("sigmoid",), "several",
             ("binary_crossentropy",),
             ("accuracy", "auc", "precision", "recall", "f1"), ("accuracy",)),
        Task("regression", "numbers per sample", "one number per output unit",
             1, (None,), "targets",
             ("mse", "mae", "huber"),
             ("mae", "mse", "rmse", "r2"), ("mae",)),
        Task("segment", "one class per pixel", "an HxW map of integer class indices per image",
             3, CLASS_SCORES, "classes",
             ("sparse_categorical_crossentropy",),
             ("accuracy", "mean_iou", "precision", "recall", "f1"), ("accuracy", "mean_iou")),
        Task("tag", "one class per token", "an integer class index per position of a sequence",
             2, CLASS_SCORES, "classes",
             ("sparse_categorical_crossentropy",),
             ("accuracy", "top_k", "precision", "recall", "f1"), ("accuracy",)),
        Task("language_model", "the next token at every position",
             "the input sequence shifted by one token",
             2, CLASS_SCORES, "classes",
             ("sparse_categorical_crossentropy",),
             ("perplexity", "accuracy", "top_k"), ("perplexity", "accuracy")),
    )
}  # fmt: skip
DEFAULT_TASK = "classify"


class Loss:
    """A training loss: its tasks, its labels and its arguments (``arguments.py``'s tables)."""

    __slots__ = ("args", "description", "labels", "name", "tasks")

    def __init__(self, name, description, labels, tasks, args=None):
        self.name = name
        self.description = description
        self.labels = labels  # what y holds, in words
        self.tasks: tuple[str, ...] = tasks
        self.args: dict[str, tuple] = args or {}


SMOOTHING = {"label_smoothing": (0.0, "fraction")}
LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss("sparse_categorical_crossentropy", "cross-entropy of the softmax over classes",
             "integer class indices", ("classify", "segment", "tag", "language_model"),
             SMOOTHING),
        Loss("binary_crossentropy", "cross-entropy of each sigmoid unit", "0/1 labels",
             ("binary", "multilabel"), SMOOTHING),
        Loss("mse", "mean squared error", "numbers", ("regression",)),
        Loss("mae", "mean absolute error", "numbers", ("regression",)),
        Loss("huber", "squared error within delta, absolute beyond", "numbers", ("regression",),
             {"delta": (1.0, "positive")}),
    )
}  # fmt: skip
# a loss line may also say which output it is for, and its weight in the total
OUTPUT_ARGS = {"output": (None, "name"), "weight": (1.0, "non_negative")}
# Keras's longer names for the same losses
LOSS_ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae"}


class Metric:
    """A metric reported every epoch besides the loss."""

    __slots__ = ("args", "description", "higher_is_better", "name", "tasks")

    def __init__(self, name, description, tasks, higher_is_better=True, args=None):
        self.name = name
        self.description = description
        self.tasks: tuple[str, ...] = tasks
        self.higher_is_better = higher_is_better
        self.args: dict[str, tuple] = args or {}


_LABELLED = ("classify", "binary", "multilabel", "segment", "tag", "language_model")
_THRESHOLDED = ("classify", "binary", "multilabel", "segment", "tag")
METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("accuracy", "the fraction of labels predicted right (top class, or sigmoid > 0.5)",
               _LABELLED),
        Metric("top_k", "the fraction of labels among the k highest scores",
               ("classify", "tag", "language_model"), args={"k": (5, "count1")}),
        Metric("auc", "area under the ROC curve (200 thresholds, micro over labels)",
               ("binary", "multilabel")),
        Metric("precision", "true positives / predicted positives", _THRESHOLDED),
        Metric("recall", "true positives / actual positives", _THRESHOLDED),
        Metric("f1", "harmonic mean of precision and recall", _THRESHOLDED),
        Metric("mae", "mean absolute error", ("regression",), False),
        Metric("mse", "mean squared error", ("regression",), False),
        Metric("rmse", "root of the mean squared error", ("regression",), False),
        Metric("r2", "coefficient of determination, averaged over outputs", ("regression",)),
        Metric("mean_iou", "intersection over union of each class, averaged", ("segment",)),
        Metric("perplexity", "exp of the mean cross-entropy per token", ("language_model",),
               False),
    )
}  # fmt: skip


def metric_column(name: str, args: dict | None = None) -> str:
    """The name a metric is reported under (history.csv, logs): ``top_5_accuracy`` for
    ``top_k`` with k=5, the metric's own name otherwise."""
    if name == "top_k":
        k = int((args or {}).get("k", METRICS["top_k"].args["k"][0]))
        return f"top_{k}_accuracy"
    return name


def lower_is_better(column: str) -> bool:
    """Whether a reported value (``loss``, ``val_mae``, ``val_accuracy``) improves downwards."""
    name = column.removeprefix("val_")
    if name == "loss":
        return True
    metric = METRICS.get(name)
    return metric is not None and not metric.higher_is_better


def loss_name(name: str) -> str:
    """The loss's name in the tables (``mean_squared_error`` is ``mse``)."""
    return LOSS_ALIASES.get(name, name)


def fits(task: Task, activation: str | None, out_shape: tuple[int, ...], loss: str | None) -> bool:
    """Whether a model ending in ``activation`` with output ``out_shape`` (and the loss, when
    one is named) can be trained for ``task``."""
    if loss is not None and loss_name(loss) not in task.losses:
        return False
    return output_problem(task, activation, out_shape) is None


def output_problem(task: Task, activation: str | None, out_shape: tuple[int, ...]) -> str | None:
    """What is wrong with a last layer (its activation and output shape) for ``task``, or
    None when it fits."""
    if len(out_shape) != task.rank:
        return (
            f"outputs {'x'.join(map(str, out_shape))}, but {task.name} needs {task.output_text()}"
        )
    if activation not in task.activations:
        shown = activation or "no activation"
        return f"ends with {shown}, but {task.name} needs {task.output_text()}"
    units = out_shape[-1]
    if task.units == "one" and units != 1:
        return f"outputs {units} units, but {task.name} needs {task.output_text()}"
    if task.units == "classes" and units < 2:
        return f"outputs {units} unit, but {task.name} needs {task.output_text()}"
    return None


def infer_task(
    activation: str | None,
    out_shape: tuple[int, ...],
    loss: str | None = None,
    data_tasks: tuple[str, ...] = (),
) -> str:
    """The task a train section without ``task`` means.

    The candidates are the data's tasks (a dataset that has labels of its own kind), else every
    task in the table's order; the first that fits the loss (when one is named) and the last
    layer wins.  When none fits, the data's first task (or classify): the checks then say
    what does not fit it.
    """
    candidates = data_tasks or tuple(TASKS)
    for name in candidates:
        if fits(TASKS[name], activation, out_shape, loss):
            return name
    if not data_tasks and loss is not None:
        for name in TASKS:  # the loss decides when the last layer fits nothing
            if loss_name(loss) in TASKS[name].losses:
                return name
    return data_tasks[0] if data_tasks else DEFAULT_TASK
