"""The Keras training loop: ``model.fit`` with Keras's own progress bar, one epoch at a time.

Each epoch is one ``fit`` call on the training samples in that epoch's order, a permutation
drawn from (seed, epoch), so that a resumed run shuffles exactly as an unbroken one (and
augmented as ``augment.py`` draws it for the epoch); then the monitor decides (best epoch,
early stopping, reduce-on-plateau) and the checkpoint (``keras_checkpoint``) is written.
``--nproc N`` trains N replicas with ``tf.distribute.MirroredStrategy``; with ``TF_CONFIG``
set, the workers it names train together with ``MultiWorkerMirroredStrategy``.  The losses,
metrics and schedules are ``keras_metrics.py``'s.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path

import keras
import numpy as np

from . import keras_checkpoint, keras_metrics
from .datasets import inputs_of, load_dataset
from .epochs import Preprocess, Records, make_monitor, steps_per_epoch
from .errors import RunError, Stopped, saved_epochs
from .feeds import count, each
from .outputs import take
from .runfiles import remove_temporaries, replace_atomically
from .streaming import open_stream
from .tracking import TENSORBOARD_DIR

OPTIMIZERS = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop"}


def make_optimizer(settings, per_epoch: int = 1, total: int = 1):
    """The spec's optimizer with its arguments (Keras's names and defaults: epsilon 1e-7), its
    schedule, clipping and gradient accumulation."""
    kind = getattr(keras.optimizers, OPTIMIZERS[settings.optimizer])
    extra = {}
    if settings.accumulate > 1:
        extra["gradient_accumulation_steps"] = settings.accumulate
    if "norm" in settings.clip:
        extra["global_clipnorm"] = float(settings.clip["norm"])
    elif "value" in settings.clip:
        extra["clipvalue"] = float(settings.clip["value"])
    lr = keras_metrics.learning_rate(settings, per_epoch, total)
    try:
        return kind(learning_rate=lr, **settings.optimizer_options(), **extra)
    except (TypeError, ValueError) as exc:
        raise RunError(f"optimizer {settings.optimizer} {settings.optimizer_args}: {exc}") from None


def multi_worker() -> bool:
    """Whether ``TF_CONFIG`` names a cluster of several workers."""
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    except json.JSONDecodeError:
        raise RunError("TF_CONFIG is not valid JSON") from None
    return len(cluster.get("worker", [])) + len(cluster.get("chief", [])) > 1


def configure(settings):
    """Devices, determinism, precision and replicas; returns (strategy scope, device text)."""
    if keras.backend.backend() != "tensorflow":
        if settings.nproc > 1 or multi_worker():
            raise RunError("--nproc and TF_CONFIG need Keras's TensorFlow backend")
        keras.utils.set_random_seed(settings.seed)
        return contextlib.nullcontext(), keras.backend.backend()
    import tensorflow as tf

    # a cluster's strategy is made before anything else touches TensorFlow's runtime
    cluster = cluster_strategy(tf) if multi_worker() else None
    gpus = tf.config.list_physical_devices("GPU")
    try:
        if settings.device == "cpu" and gpus:
            tf.config.set_visible_devices([], "GPU")
            gpus = []
        if not gpus and settings.nproc > 1:
            cpu = tf.config.list_physical_devices("CPU")[0]
            logical = [tf.config.LogicalDeviceConfiguration() for _ in range(settings.nproc)]
            tf.config.set_logical_device_configuration(cpu, logical)
    except RuntimeError as exc:  # TensorFlow was initialised before this ran
        raise RunError(f"cannot configure devices: {exc}") from None
    if settings.device == "cuda" and not gpus:
        raise RunError("--device cuda, but TensorFlow sees no GPU")
    if gpus and settings.nproc > len(gpus):
        raise RunError(f"--nproc {settings.nproc}, but TensorFlow sees {len(gpus)} GPU(s)")
    names = [f"/{'gpu' if gpus else 'cpu'}:{i}" for i in range(settings.nproc)]
    keras.utils.set_random_seed(settings.seed)
    if not gpus:
        tf.config.experimental.enable_op_determinism()  # --seed gives the same run twice
    if settings.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    if cluster is not None:
        task = json.loads(os.environ["TF_CONFIG"]).get("task", {})
        return cluster.scope(), f"worker {task.get('index', 0)} of {cluster.num_replicas_in_sync}"
    if settings.nproc > 1:
        return tf.distribute.MirroredStrategy(names).scope(), ", ".join(names)
    return contextlib.nullcontext(), names[0]


def cluster_strategy(tf):
    """``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``, with what Keras 3's ``fit`` asks of
    it under several workers made to work: it reduces a whole data batch (a tuple) in one
    call, and scalar logs along axis 0; this reduces each part, and scalars as scalars."""

    class ClusterStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis=None):
            if isinstance(value, (tuple, list)):
                return type(value)(self.reduce(reduce_op, v, axis) for v in value)
            if isinstance(value, dict):
                return {k: self.reduce(reduce_op, v, axis) for k, v in value.items()}
            if axis is not None:
                local = self.experimental_local_results(value)
                if local and getattr(getattr(local[0], "shape", None), "rank", None) == 0:
                    axis = None
            return super().reduce(reduce_op, value, axis)

    return ClusterStrategy()


def chief() -> bool:
    """Whether this process writes the run's files (not another worker of a cluster)."""
    task = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}").get("task", {})
    return task.get("type", "worker") == "chief" or (
        task.get("type", "worker") == "worker" and int(task.get("index", 0)) == 0
    )


def compile_model(model, settings, config, per_epoch: int = 1, total: int = 1):
    """The spec's optimizer, loss (on probabilities or scores) and metrics."""
    probabilities = config.probabilities
    classes = int(config.output_shape[-1]) if config.output_shape else 1
    sigmoid = config.output_activation == "sigmoid"
    if config.outputs:  # several: a loss, a weight and metrics per output, by name
        by_output = {o.name: o.activation in ("softmax", "sigmoid") for o in config.outputs}
        loss, weights = keras_metrics.make_loss(settings.losses, by_output)
        metrics = keras_metrics.output_metrics(settings, config.outputs)
    else:
        loss, weights = keras_metrics.make_loss(settings.losses, probabilities)
        metrics = keras_metrics.make_metrics(settings, sigmoid, classes, probabilities)
    model.compile(
        optimizer=make_optimizer(settings, per_epoch, total),
        loss=loss,
        loss_weights=weights,
        metrics=metrics,
        jit_compile=True if settings.compile else "auto",
    )


def epoch_order(count, seed, epoch):
    """The order of the training samples in ``epoch``: a function of (seed, epoch) only."""
    return np.random.default_rng([seed, epoch]).permutation(count)


class StopCheck(keras.callbacks.Callback):
    """Carries out a stop request (SIGINT/SIGTERM) after the step in progress."""

    def __init__(self, stop):
        super().__init__()
        self.stop = stop

    def on_train_batch_end(self, batch, logs=None):
        """Stop here if asked."""
        self.stop.check()

    def on_test_batch_end(self, batch, logs=None):
        """Stop here if asked."""
        self.stop.check()


def evaluation_batch(batch: int, samples: int, replicas: int) -> int:
    """The batch size that evaluates ``samples`` on ``replicas`` replicas: ``batch``, unless
    the first batch would not split evenly between them, then the largest multiple of
    ``replicas`` that fits.  (Keras 3's ``evaluate`` under a distribution strategy averages
    the first batch over the replicas to build its metrics, and fails on uneven parts.)"""
    first = min(batch, samples)
    if replicas <= 1 or first % replicas == 0:
        return batch
    if first < replicas:
        raise RunError(
            f"{samples} sample(s) to evaluate cannot be split between {replicas} replicas: "
            "use a larger --validation-split, or fewer --nproc"
        )
    return first - first % replicas


def replicas_of(model) -> int:
    """How many replicas train ``model`` in step (1 without a distribution strategy)."""
    strategy = getattr(model, "distribute_strategy", None)
    return int(getattr(strategy, "num_replicas_in_sync", 1) or 1)


def fit_epoch(model, data, validation, settings, epoch, stop, verbose, callbacks=()):
    """``fit`` for the single epoch ``epoch`` on ``data`` in that epoch's order; returns
    Keras's History."""
    x, y = data
    order = epoch_order(count(x), settings.seed, epoch)
    checked = None
    if validation is not None:
        checked = evaluation_batch(settings.batch, count(validation[0]), replicas_of(model))
    return model.fit(
        take(x, order),
        take(y, order),
        batch_size=settings.batch,
        epochs=epoch + 1,
        initial_epoch=epoch,
        validation_data=validation,
        validation_batch_size=checked,
        shuffle=False,
        callbacks=[StopCheck(stop), *callbacks],
        verbose=verbose,
    )


def stream_dataset(stream, split, epoch, settings, prep, replicas=1):
    """A ``tf.data`` pipeline over a streamed split: the training split in ``epoch``'s order
    (augmented for it), the others in index order; images decoded by a parallel map of
    ``settings.workers`` threads (tf.data's choice for 0), batched, normalised, prefetched."""
    import tensorflow as tf

    count = stream.count(split)
    if count == 0:
        return None
    order = np.arange(count) if epoch is None else epoch_order(count, settings.seed, epoch)
    labels = tf.constant(stream.labels(split))
    shape = tuple(stream.shape)

    def decode(index):
        image = tf.numpy_function(lambda i: stream.decode(split, int(i)), [index], tf.float32)
        image.set_shape(shape)
        return image, index

    def finish(images, index):
        def prepare(x, i):
            if epoch is None:
                return prep.evaluation(x).astype("float32")
            return prep.training_batch(x, i, epoch, count).astype("float32")

        images = tf.numpy_function(prepare, [images, index], tf.float32)
        images.set_shape((None, *shape))
        return images, tf.gather(labels, index)

    parallel = settings.workers or tf.data.AUTOTUNE
    dataset = tf.data.Dataset.from_tensor_slices(order.astype("int64"))
    dataset = dataset.map(decode, num_parallel_calls=parallel, deterministic=True)
    batch = settings.batch if epoch is not None else evaluation_batch(settings.batch, count,
                                                                       replicas)  # fmt: skip
    dataset = dataset.batch(batch).map(finish)
    return dataset.prefetch(tf.data.AUTOTUNE)


def current_rate(optimizer) -> float:
    """The rate the optimizer's next step uses (what Keras's TensorBoard callback logs)."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def train(config, settings, build_model, stop):
    """Train, validate every epoch, checkpoint, test, and write the run folder."""
    out = Path(settings.out)
    folder = out / keras_checkpoint.CHECKPOINT_DIR
    saved = None
    if settings.resume and (folder / keras_checkpoint.STATE_NAME).exists():
        saved = keras_checkpoint.read(folder, config)
    elif settings.resume:
        print(f"no checkpoint in {out}: starting from scratch", flush=True)
    scope, device = configure(settings)
    inputs = inputs_of(config)
    prep = Preprocess(settings, () if config.inputs else config.input_shape)
    stream = open_stream(settings, inputs)
    data = None
    if stream is None:
        data = load_dataset(settings.data, inputs, settings.data_dir, settings.validation_split)
        splits = data.splits
        if inputs.ids or any(f.ids for f in inputs.feeds):  # the dtype of keras.Input's ids
            splits = tuple((each(x, lambda v, _: v.astype("int32") if v.dtype == np.int64 else v),
                            y) for x, y in splits)  # fmt: skip
        (x_train, y_train), (x_val, y_val), (x_test, y_test) = splits
        x_val, x_test = prep.evaluation(x_val), prep.evaluation(x_test)
        x_fixed = None if prep.per_epoch else prep.training(x_train, 0)
        samples = count(x_train)
        validation = (x_val, y_val) if count(x_val) else None
        testing = (x_test, y_test) if count(x_test) else None
    else:
        samples = stream.count("train")
    remove_temporaries(out)
    per_epoch = steps_per_epoch(samples, settings.batch)
    monitor = make_monitor(settings)
    done, rows = 0, []
    with scope:
        model = build_model()
        compile_model(model, settings, config, per_epoch, per_epoch * settings.epochs)
        if saved is not None:
            done, rows = keras_checkpoint.restore(model, saved)
            monitor.state.update(saved["loop"].get("monitor", {}))
            print(f"resuming after epoch {done} from {folder}", flush=True)
    replicas = replicas_of(model)
    if stream is not None:
        validation = stream_dataset(stream, "val", None, settings, prep, replicas)
        testing = stream_dataset(stream, "test", None, settings, prep, replicas)
    lead = chief()
    best = _best_weights(out, monitor, saved, model)
    verbose = 1 if sys.stdout.isatty() else 2
    callbacks = []
    if settings.tensorboard and lead:
        board = keras.callbacks.TensorBoard(str(out / TENSORBOARD_DIR), write_graph=False)
        callbacks.append(board)
    records = Records(config, settings, out, lead, _versions())
    try:
        with stop.deferred():
            for epoch in range(done, settings.epochs):
                stop.check()
                tick = time.time()
                if stream is not None:
                    history = model.fit(
                        stream_dataset(stream, "train", epoch, settings, prep),
                        epochs=epoch + 1, initial_epoch=epoch, validation_data=validation,
                        callbacks=[StopCheck(stop), *callbacks], verbose=verbose,
                    )  # fmt: skip
                else:
                    x_epoch = x_fixed if x_fixed is not None else prep.training(x_train, epoch)
                    history = fit_epoch(model, (x_epoch, y_train), validation, settings, epoch,
                                        stop, verbose, callbacks)  # fmt: skip
                logs = {key: values[-1] for key, values in history.history.items()}
                logs["lr"] = current_rate(model.optimizer)
                actions = monitor.end_epoch(epoch + 1, logs)
                if actions["best"]:
                    best = model.get_weights()
                    if lead:
                        replace_atomically(out / "best.keras", model.save)
                if actions["lr"] is not None:
                    model.optimizer.learning_rate.assign(actions["lr"])
                records.epoch(rows, epoch + 1, logs, time.time() - tick)
                records.announce(actions, epoch + 1, monitor)
                keras_checkpoint.save(folder, config, model, epoch + 1, rows,
                                      {"monitor": dict(monitor.state)})  # fmt: skip
                done = epoch + 1
                if actions["stop"]:
                    break
            stop.check()
            if monitor.restore_best and best is not None:
                model.set_weights(best)
            test = {}
            if testing is not None and stream is None:
                batch = evaluation_batch(settings.batch, count(testing[0]), replicas)
                test = model.evaluate(*testing, batch_size=batch, verbose=0,
                                      callbacks=[StopCheck(stop)], return_dict=True)  # fmt: skip
            elif testing is not None:
                test = model.evaluate(testing, verbose=0, callbacks=[StopCheck(stop)],
                                      return_dict=True)  # fmt: skip
            names = ("loss", *settings.metric_columns())
            replace_atomically(out / "model.keras", model.save)
            model_files = [
                "model.keras",
                *(["best.keras"] if (out / "best.keras").exists() else []),
            ]
            resumed = saved["epoch"] if saved is not None else None
            vocabulary = data.vocabulary if data is not None else None
            final = records.finish(rows, {k: v for k, v in test.items() if k in names}, device,
                                   resumed, settings.nproc, model_files, monitor,
                                   vocabulary)  # fmt: skip
    except Stopped as exc:
        exc.saved = saved_epochs(folder, done)
        records.abandon()
        raise
    summary = " - ".join(f"{k} {v:.4f}" for k, v in final.items() if k.startswith("test_"))
    print(f"{summary}\nwrote {out}/ (model.keras, history.csv, curves.png, run.json)", flush=True)


def _best_weights(out: Path, monitor, saved, model):
    """The best epoch's weights so far: none at the start; ``best.keras``'s when resuming."""
    if saved is None or not monitor.state["best_epoch"] or not (out / "best.keras").exists():
        return None
    current = model.get_weights()
    try:
        model.load_weights(out / "best.keras")
    except Exception as exc:  # a damaged file: Keras raises many kinds
        raise RunError(f"cannot read {out / 'best.keras'} to resume: {exc}; remove it") from None
    best = model.get_weights()
    model.set_weights(current)
    return best


def _versions() -> dict:
    versions = {"keras": keras.__version__, "keras_backend": keras.backend.backend()}
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    return versions
