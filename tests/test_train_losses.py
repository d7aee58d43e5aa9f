"""Every loss and metric of the harness computes the same number in Keras and PyTorch on the
same tensors, and the number an independent oracle (scikit-learn, Keras's own metric)
gives.

The tensors are the model's scores as PyTorch's ``forward(x, logits=True)`` returns them
(class axis second); Keras gets the probabilities its model would output (class axis last),
so each side sees what its loop feeds it.
"""

from __future__ import annotations

import numpy as np
import pytest

from specc.harness.settings import LossTerm, Settings
from specc.harness.tasks import LOSSES, METRICS, TASKS

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

from specc.harness import keras_metrics, torch_metrics  # noqa: E402

RNG = np.random.default_rng(7)
# task: (scores shape in PyTorch's layout, what the last layer applies)
CASES = {
    "classify": ((64, 5), "softmax"),
    "binary": ((64, 1), "sigmoid"),
    "multilabel": ((64, 4), "sigmoid"),
    "regression": ((64, 3), None),
    "segment": ((6, 3, 5, 7), "softmax"),
    "tag": ((16, 4, 9), "softmax"),
    "language_model": ((8, 6, 11), "softmax"),
}


def tensors(task):
    """Scores (PyTorch layout) and labels for ``task``."""
    shape, _ = CASES[task]
    scores = RNG.normal(0, 2, size=shape).astype("float32")
    classes = shape[1]
    if task in ("binary", "multilabel"):
        y = RNG.integers(0, 2, size=shape).astype("float32")
    elif task == "regression":
        y = (scores + RNG.normal(0, 1.5, size=shape)).astype("float32")
    else:
        y = RNG.integers(0, classes, size=(shape[0], *shape[2:])).astype("int64")
        # make the scores informative, so that metrics are far from chance
        hot = np.moveaxis(np.eye(classes, dtype="float32")[y], -1, 1)
        scores = scores + 2.5 * hot
    return scores, y


def keras_side(task, scores):
    """What the Keras model outputs for these scores: probabilities, class axis last."""
    _, activation = CASES[task]
    last = np.moveaxis(scores, 1, -1)
    if activation == "softmax":
        e = np.exp(last - last.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)
    if activation == "sigmoid":
        return 1 / (1 + np.exp(-last))
    return last


LOSS_ARGS = {
    "sparse_categorical_crossentropy": [{}, {"label_smoothing": 0.1}],
    "binary_crossentropy": [{}, {"label_smoothing": 0.2}],
    "mse": [{}],
    "mae": [{}],
    "huber": [{}, {"delta": 0.5}],
}
LOSS_CASES = [
    (task, loss, args) for task in CASES for loss in TASKS[task].losses for args in LOSS_ARGS[loss]
]


def test_every_loss_and_metric_is_compared():
    assert {loss for _, loss, _ in LOSS_CASES} == set(LOSSES)
    assert {m for _, m in METRIC_CASES} == set(METRICS)
    assert set(CASES) == set(TASKS)


@pytest.mark.parametrize(("task", "loss", "args"), LOSS_CASES)
def test_losses_agree(task, loss, args):
    scores, y = tensors(task)
    probabilities = CASES[task][1] is not None
    term = LossTerm(None, loss, args)
    theirs = keras_metrics.make_loss([term], probabilities)[0]
    k = float(theirs(keras.ops.convert_to_tensor(y), keras.ops.convert_to_tensor(
        keras_side(task, scores))))  # fmt: skip
    t = float(torch_metrics.TotalLoss([term])(torch.from_numpy(scores), torch.from_numpy(y)))
    assert t == pytest.approx(k, rel=2e-5, abs=1e-6)


METRIC_CASES = [(task, metric) for task in CASES for metric in TASKS[task].metrics]


def settings_for(metric, args=None):
    """Just enough Settings for the metric tables."""
    return Settings(data="x", data_dir=None, epochs=1, batch=1, seed=0, lr=0.1,
                    validation_split=0.0, out=".", device="cpu", nproc=1, resume=False,
                    compile=False, mixed_precision=False, loss="mse", metrics=(metric,),
                    optimizer="adam", optimizer_args={},
                    metric_args={metric: args} if args else {})  # fmt: skip


def torch_value(task, metric, scores, y, args=None, batches=3):
    """The metric through the harness's sums, over several batches."""
    sigmoid = CASES[task][1] == "sigmoid"
    (stat,) = torch_metrics.make_metrics(settings_for(metric, args), sigmoid,
                                         scores.shape[1]).values()  # fmt: skip
    total = torch.zeros(stat.size, dtype=torch.float64)
    for part in np.array_split(np.arange(len(scores)), batches):
        total += stat.update(torch.from_numpy(scores[part]), torch.from_numpy(y[part]))
    return stat.result(total.tolist())


def keras_value(task, metric, scores, y, args=None, batches=3):
    """The metric through Keras, updated batch by batch as ``fit`` does."""
    sigmoid = CASES[task][1] == "sigmoid"
    probabilities = CASES[task][1] is not None
    (m,) = keras_metrics.make_metrics(settings_for(metric, args), sigmoid, scores.shape[1],
                                      probabilities)  # fmt: skip
    outputs = keras_side(task, scores)
    for part in np.array_split(np.arange(len(scores)), batches):
        m.update_state(keras.ops.convert_to_tensor(y[part]),
                       keras.ops.convert_to_tensor(outputs[part]))  # fmt: skip
    return float(m.result())


@pytest.mark.parametrize(("task", "metric"), METRIC_CASES)
def test_metrics_agree_between_the_frameworks(task, metric):
    scores, y = tensors(task)
    args = {"k": 2} if metric == "top_k" else None
    k = keras_value(task, metric, scores, y, args)
    t = torch_value(task, metric, scores, y, args)
    assert t == pytest.approx(k, rel=1e-4, abs=1e-5)


def oracle(task, metric, scores, y):
    """scikit-learn's value of the metric, from the predictions."""
    from sklearn import metrics as sk

    _, activation = CASES[task]
    if activation == "sigmoid":
        p = 1 / (1 + np.exp(-scores))
        truth, guess = y.reshape(-1).astype(int), (p.reshape(-1) > 0.5).astype(int)
        table = {
            "accuracy": lambda: sk.accuracy_score(truth, guess),
            "auc": lambda: sk.roc_auc_score(truth, p.reshape(-1)),
            "precision": lambda: sk.precision_score(truth, guess),
            "recall": lambda: sk.recall_score(truth, guess),
            "f1": lambda: sk.f1_score(truth, guess),
        }
        return table[metric]()
    if task == "regression":
        table = {
            "mae": lambda: sk.mean_absolute_error(y, scores),
            "mse": lambda: sk.mean_squared_error(y, scores),
            "rmse": lambda: np.sqrt(sk.mean_squared_error(y, scores)),
            "r2": lambda: sk.r2_score(y, scores),
        }
        return table[metric]()
    last = np.moveaxis(scores, 1, -1).reshape(-1, scores.shape[1])
    truth, guess = y.reshape(-1), last.argmax(-1)
    logp = last - np.log(np.exp(last).sum(-1, keepdims=True))
    table = {
        "accuracy": lambda: sk.accuracy_score(truth, guess),
        "top_k": lambda: sk.top_k_accuracy_score(truth, last, k=2, labels=range(last.shape[1])),
        "precision": lambda: sk.precision_score(truth, guess, average="macro", zero_division=0),
        "recall": lambda: sk.recall_score(truth, guess, average="macro", zero_division=0),
        "f1": lambda: sk.f1_score(truth, guess, average="macro", zero_division=0),
        "mean_iou": lambda: sk.jaccard_score(truth, guess, average="macro", zero_division=0),
        "perplexity": lambda: float(np.exp(-logp[np.arange(len(truth)), truth].mean())),
    }
    return table[metric]()


@pytest.mark.parametrize(("task", "metric"), METRIC_CASES)
def test_metrics_agree_with_scikit_learn(task, metric):
    scores, y = tensors(task)
    t = torch_value(task, metric, scores, y, {"k": 2} if metric == "top_k" else None)
    # AUC: Keras's 200 thresholds approximate the exact area
    tolerance = 5e-3 if metric == "auc" else 1e-5
    assert t == pytest.approx(oracle(task, metric, scores, y), abs=tolerance, rel=1e-5)


def test_keras_auc_is_keras_own_metric():
    """Where Keras has the metric, the harness uses Keras's own (the torch side is checked
    against it above)."""
    made = keras_metrics.make_metrics(settings_for("auc"), True, 1, True)
    assert type(made[0]) is keras.metrics.AUC and made[0].num_thresholds == 200


def test_weighted_losses_of_several_outputs_agree():
    """A model with two named outputs: the total is the weighted sum in both frameworks."""
    terms = [LossTerm("head_a", "binary_crossentropy", {}, 0.3),
             LossTerm("head_b", "mse", {}, 2.0)]  # fmt: skip
    sa, ya = tensors("binary")
    sb, yb = tensors("regression")
    t = float(torch_metrics.TotalLoss(terms)(
        {"head_a": torch.from_numpy(sa), "head_b": torch.from_numpy(sb)},
        {"head_a": torch.from_numpy(ya), "head_b": torch.from_numpy(yb)}))  # fmt: skip
    inputs = keras.Input((1,))
    model = keras.Model(
        inputs,
        {
            "head_a": keras.layers.Dense(1, name="head_a")(inputs),
            "head_b": keras.layers.Dense(3, name="head_b")(inputs),
        },
    )
    losses, weights = keras_metrics.make_loss(terms, True)
    assert weights == {"head_a": 0.3, "head_b": 2.0}
    model.compile(loss=losses, loss_weights=weights)
    k = float(model.compute_loss(
        y={"head_a": ya, "head_b": yb},
        y_pred={"head_a": keras.ops.convert_to_tensor(keras_side("binary", sa)),
                "head_b": keras.ops.convert_to_tensor(sb)}))  # fmt: skip
    expected = 0.3 * float(torch_metrics.TotalLoss(terms[:1])(
        torch.from_numpy(sa), torch.from_numpy(ya))) / 0.3 + 2.0 * float(
        torch.nn.functional.mse_loss(torch.from_numpy(sb), torch.from_numpy(yb)))  # fmt: skip
    assert t == pytest.approx(expected, rel=1e-6)
    assert k == pytest.approx(t, rel=2e-5)


def several_outputs_run():
    """A run of a model with three outputs (classify, regression, binary), each with its own
    loss, weight and metrics: its configuration and settings, as the harness reads them."""
    from specc.harness.config import OutputInfo, RunConfig

    outputs = (OutputInfo("cultivar", (3,), 3, "softmax"), OutputInfo("alcohol", (2,), 2, None),
               OutputInfo("flag", (1,), 1, "sigmoid"))  # fmt: skip
    terms = (
        LossTerm("cultivar", "sparse_categorical_crossentropy", {"label_smoothing": 0.1}, 1.0,
                 "classify", ("accuracy", "top_k", "f1"), {"top_k": {"k": 2}}),
        LossTerm("alcohol", "huber", {"delta": 0.5}, 0.5, "regression", ("mae", "rmse", "r2")),
        LossTerm("flag", "binary_crossentropy", {}, 2.0, "binary", ("accuracy", "auc")),
    )  # fmt: skip
    config = RunConfig(spec_name="three", spec_file="three.spec", spec_sha256="0" * 64,
                       backend="keras", model_file="three_keras.py", input_shape=(6,),
                       input_dtype="float32", vocab_size=None, num_classes=3,
                       output_activation="softmax", train={}, output_shape=(3,),
                       outputs=outputs)  # fmt: skip
    settings = Settings(data="x", data_dir=None, epochs=1, batch=16, seed=0, lr=0.1,
                        validation_split=0.0, out=".", device="cpu", nproc=1, resume=False,
                        compile=False, mixed_precision=False, loss=terms[0].loss,
                        metrics=terms[0].metrics, optimizer="adam", optimizer_args={},
                        task="classify", losses=terms,
                        outputs=tuple(o.name for o in outputs))  # fmt: skip
    return config, settings


def test_several_outputs_report_the_same_numbers_in_both_frameworks():
    """The weighted total, every output's loss and every output's metric, through each loop's
    own code (Keras: the harness's ``compile_model`` and ``evaluate``; PyTorch: the loop's
    ``Step`` and ``evaluate``), batch by batch, under Keras's names."""
    from specc.harness import keras_loop, torch_step

    config, settings = several_outputs_run()
    n = 50  # batches of 16: the last one is smaller, as in an epoch
    sa = RNG.normal(0, 2, size=(n, 3)).astype("float32")
    ya = RNG.integers(0, 3, size=n).astype("int64")
    sa += 2.5 * np.eye(3, dtype="float32")[ya]
    sb = RNG.normal(0, 1, size=(n, 2)).astype("float32")
    yb = (sb + RNG.normal(0, 0.8, size=(n, 2))).astype("float32")
    sc = RNG.normal(0, 2, size=(n, 1)).astype("float32")
    yc = (RNG.random((n, 1)) < 1 / (1 + np.exp(-sc))).astype("float32")
    labels = {"cultivar": ya, "alcohol": yb, "flag": yc}

    class Heads(torch.nn.Module):
        """The scores as they are, one slice per output."""

        def forward(self, x, logits=False):
            assert logits
            return x[:, :3], x[:, 3:5], x[:, 5:]

    step = torch_step.Step(settings, torch.device("cpu"), 1, None, False, 3, config.outputs)
    x = torch.from_numpy(np.concatenate([sa, sb, sc], axis=1))
    y = {k: torch.from_numpy(v) for k, v in labels.items()}
    batches = torch_step.memory_batches((x, y), torch.arange(n), settings.batch, "cpu")
    t = torch_step.evaluate(Heads(), batches, step)

    inputs = [keras.Input((3,)), keras.Input((2,)), keras.Input((1,))]
    model = keras.Model(inputs, [
        keras.layers.Activation("softmax", name="cultivar")(inputs[0]),
        keras.layers.Activation("linear", name="alcohol")(inputs[1]),
        keras.layers.Activation("sigmoid", name="flag")(inputs[2]),
    ])  # fmt: skip
    keras_loop.compile_model(model, settings, config)
    k = model.evaluate([sa, sb, sc], labels, batch_size=settings.batch, verbose=0,
                       return_dict=True)  # fmt: skip

    assert set(t) == set(k) == set(settings.reported()), (sorted(t), sorted(k))
    for name in t:
        tolerance = 5e-3 if name.endswith("auc") else 1e-4  # as for one output
        assert t[name] == pytest.approx(k[name], rel=tolerance, abs=1e-5), name
    # the total counts every sample once; each output's loss is the mean of the batches'
    # means, as Keras reports it (its compiled step weighs the batches by an unknown size)
    cuts = range(0, n, settings.batch)
    terms = {term.output: term for term in settings.losses}
    for output, scores in (("cultivar", sa), ("alcohol", sb), ("flag", sc)):
        term = terms[output]
        means = [float(torch_metrics.TotalLoss([LossTerm(None, term.loss, term.args)])(
            torch.from_numpy(scores[i : i + settings.batch]),
            torch.from_numpy(labels[output][i : i + settings.batch]))) for i in cuts]  # fmt: skip
        assert t[f"{output}_loss"] == pytest.approx(np.mean(means), rel=1e-6)
    # the total: the weighted sum of the outputs' losses, every sample counting once
    total = torch_metrics.TotalLoss(settings.losses)(
        {"cultivar": torch.from_numpy(sa), "alcohol": torch.from_numpy(sb),
         "flag": torch.from_numpy(sc)}, y)  # fmt: skip
    assert n % settings.batch  # a last, smaller batch: the two means differ
    assert t["loss"] == pytest.approx(float(total), rel=1e-5)
