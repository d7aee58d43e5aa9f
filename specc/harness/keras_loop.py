"""The Keras training loop: ``model.fit`` with Keras's own progress bar, one epoch at a time.

Each epoch is one ``fit`` call on the training samples in that epoch's order, a permutation
drawn from (seed, epoch), so that a resumed run shuffles exactly as an unbroken one; then the
checkpoint (``keras_checkpoint``) is written.  ``--nproc N`` trains N replicas with
``tf.distribute.MirroredStrategy``.  The optimizers, losses and metrics are tables keyed by
the names a spec uses.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import keras
import numpy as np

from . import keras_checkpoint
from .datasets import Inputs, load_data
from .errors import RunError, Stopped, saved_epochs
from .runfiles import (
    final_metrics,
    history_row,
    remove_temporaries,
    replace_atomically,
    run_info,
    write_outputs,
)

OPTIMIZERS = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop"}
# name: the loss, given whether the model outputs probabilities (softmax) or scores
LOSSES = {
    "sparse_categorical_crossentropy": lambda probabilities: (
        keras.losses.SparseCategoricalCrossentropy(from_logits=not probabilities)
    ),
}
METRICS = {
    "accuracy": lambda: keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
}


def make_optimizer(settings):
    """The spec's optimizer with its arguments (Keras's names and defaults: epsilon 1e-7)."""
    kind = getattr(keras.optimizers, OPTIMIZERS[settings.optimizer])
    try:
        return kind(learning_rate=settings.lr, **settings.optimizer_options())
    except (TypeError, ValueError) as exc:
        raise RunError(f"optimizer {settings.optimizer} {settings.optimizer_args}: {exc}") from None


def configure(settings):
    """Devices, determinism, precision and replicas; returns (strategy scope, device text)."""
    if keras.backend.backend() != "tensorflow":
        if settings.nproc > 1:
            raise RunError("--nproc needs Keras's TensorFlow backend (KERAS_BACKEND=tensorflow)")
        keras.utils.set_random_seed(settings.seed)
        return contextlib.nullcontext(), keras.backend.backend()
    import tensorflow as tf

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
    if settings.nproc > 1:
        return tf.distribute.MirroredStrategy(names).scope(), ", ".join(names)
    return contextlib.nullcontext(), names[0]


def compile_model(model, settings, probabilities):
    """The spec's optimizer, loss (on probabilities or scores) and metrics."""
    model.compile(
        optimizer=make_optimizer(settings),
        loss=LOSSES[settings.loss](probabilities),
        metrics=[METRICS[name]() for name in settings.metrics],
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


def fit_epoch(model, data, validation, settings, epoch, stop, verbose):
    """``fit`` for the single epoch ``epoch`` on ``data`` in that epoch's order; returns
    Keras's History."""
    x, y = data
    order = epoch_order(len(x), settings.seed, epoch)
    return model.fit(
        np.take(x, order, axis=0),
        np.take(y, order, axis=0),
        batch_size=settings.batch,
        epochs=epoch + 1,
        initial_epoch=epoch,
        validation_data=validation,
        shuffle=False,
        callbacks=[StopCheck(stop)],
        verbose=verbose,
    )


def train(config, settings, build_model, stop):
    """Train, validate every epoch, checkpoint, test, and write the run folder."""
    started = time.time()
    out = Path(settings.out)
    folder = out / keras_checkpoint.CHECKPOINT_DIR
    saved = None
    if settings.resume and (folder / keras_checkpoint.STATE_NAME).exists():
        saved = keras_checkpoint.read(folder, config)
    elif settings.resume:
        print(f"no checkpoint in {out}: starting from scratch", flush=True)
    scope, device = configure(settings)
    inputs = Inputs(config.input_shape, config.num_classes, config.input_dtype, config.vocab_size)
    splits = load_data(settings.data, inputs, settings.data_dir, settings.validation_split)
    if inputs.ids:  # token ids: the dtype of the model's keras.Input
        splits = tuple((x.astype("int32"), y) for x, y in splits)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = splits
    remove_temporaries(out)
    done, rows = 0, []
    with scope:
        model = build_model()
        compile_model(model, settings, config.probabilities)
        if saved is not None:
            done, rows = keras_checkpoint.restore(model, saved)
            print(f"resuming after epoch {done} from {folder}", flush=True)
    columns = settings.history_columns()
    validation = (x_val, y_val) if len(x_val) else None
    verbose = 1 if sys.stdout.isatty() else 2
    try:
        with stop.deferred():
            for epoch in range(done, settings.epochs):
                stop.check()
                tick = time.time()
                history = fit_epoch(model, (x_train, y_train), validation, settings, epoch,
                                    stop, verbose)  # fmt: skip
                logs = {key: values[-1] for key, values in history.history.items()}
                rows.append(history_row(epoch + 1, logs, time.time() - tick, columns))
                keras_checkpoint.save(folder, config, model, epoch + 1, rows)
                done = epoch + 1
            stop.check()
            test = {}
            if len(x_test):
                test = model.evaluate(
                    x_test,
                    y_test,
                    batch_size=settings.batch,
                    verbose=0,
                    callbacks=[StopCheck(stop)],
                    return_dict=True,
                )
            names = ("loss", *settings.metrics)
            final = final_metrics(rows, {k: v for k, v in test.items() if k in names})
            replace_atomically(out / "model.keras", model.save)
            versions = {"keras": keras.__version__, "keras_backend": keras.backend.backend()}
            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf

                versions["tensorflow"] = tf.__version__
            resumed = saved["epoch"] if saved is not None else None
            info = run_info(
                config,
                settings,
                backend_versions=versions,
                device=device,
                final=final,
                started=started,
                resumed_from=resumed,
                world=settings.nproc,
            )
            write_outputs(out, rows, info, settings)
    except Stopped as exc:
        exc.saved = saved_epochs(folder, done)
        raise
    summary = " - ".join(f"{k} {v:.4f}" for k, v in final.items() if k.startswith("test_"))
    print(f"{summary}\nwrote {out}/ (model.keras, history.csv, curves.png, run.json)", flush=True)
