"""Optimisation means the same in both backends, step by step: the learning rate of every
batch under each schedule, reduce-on-plateau and early stopping between epochs, and the
weights after a run of updates with momentum, weight decay, clipping and gradient
accumulation.

The oracles are the frameworks' own: PyTorch's ``StepLR``, ``CosineAnnealingLR`` and
``OneCycleLR``, Keras's ``ExponentialDecay`` and ``CosineDecay``, Keras's ``EarlyStopping``
and ``ReduceLROnPlateau`` callbacks, and Keras's optimizers themselves.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from specc.harness.schedules import SCHEDULES, Monitor, rate
from specc.harness.settings import Settings

keras = pytest.importorskip("keras")
torch = pytest.importorskip("torch")

from specc.harness import keras_loop, keras_metrics, torch_optim  # noqa: E402
from specc.harness.torch_step import Optimisation  # noqa: E402

PER_EPOCH, EPOCHS = 7, 6
TOTAL = PER_EPOCH * EPOCHS
LR = 0.1
SCHEDULE_CASES = [
    ("constant", {}),
    ("step", {"every": 2, "gamma": 0.5}),
    ("exponential", {"gamma": 0.8}),
    ("cosine", {"min_lr": 0.01}),
    ("cosine", {"warmup": 2, "min_lr": 0.002}),
    ("onecycle", {"pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0}),
    ("onecycle", {"max_lr": 0.3}),
]


def settings(**changes):
    """Settings of a run, with ``changes``."""
    base = Settings(data="x", data_dir=None, epochs=EPOCHS, batch=1, seed=0, lr=LR,
                    validation_split=0.0, out=".", device="cpu", nproc=1, resume=False,
                    compile=False, mixed_precision=False, loss="mse", metrics=(),
                    optimizer="sgd", optimizer_args={})  # fmt: skip
    return dataclasses.replace(base, **changes)


def torch_rates(name, args, accumulate=1):
    """The rate PyTorch's step uses at every batch (the harness's Optimisation)."""
    weight = torch.nn.Parameter(torch.zeros(1))
    run = settings(schedule=name, schedule_args=args, accumulate=accumulate)
    optimizer = torch_optim.make_optimizer(run, [weight])
    optimisation = Optimisation(run, optimizer, [weight], PER_EPOCH, TOTAL)
    rates = []
    for _ in range(TOTAL):
        updated = optimisation.backward((weight * 0).sum())
        rates.append(optimizer.param_groups[0]["lr"] if updated else None)
    return rates


def keras_rates(name, args):
    """The rate Keras's optimizer uses at every batch: its schedule of ``iterations``."""
    optimizer = keras_loop.make_optimizer(settings(schedule=name, schedule_args=args),
                                          PER_EPOCH, TOTAL)  # fmt: skip
    schedule = optimizer._learning_rate
    if not callable(schedule):  # a constant rate is a variable
        return [float(schedule)] * TOTAL
    return [float(schedule(step)) for step in range(TOTAL)]


def oracle_rates(name, args):
    """The same schedule from the frameworks' own classes."""
    a = {k: v for k, v in args.items()}
    if name == "constant":
        return [LR] * TOTAL
    if name == "exponential":
        decay = keras.optimizers.schedules.ExponentialDecay(LR, PER_EPOCH, a["gamma"])
        return [float(decay(s)) for s in range(TOTAL)]
    if name == "cosine":
        warm = round(a.get("warmup", 0) * PER_EPOCH)
        alpha = a["min_lr"] / LR
        decay = keras.optimizers.schedules.CosineDecay(
            0.0 if warm else LR, TOTAL - warm, alpha=alpha,
            warmup_target=LR if warm else None, warmup_steps=warm)  # fmt: skip
        return [float(decay(s)) for s in range(TOTAL)]
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=LR)
    if name == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, a["every"] * PER_EPOCH, a["gamma"])
    else:
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, a.get("max_lr", LR), total_steps=TOTAL, pct_start=a.get("pct_start", 0.3),
            div_factor=a.get("div_factor", 25.0), final_div_factor=a.get("final_div_factor", 1e4),
            anneal_strategy="cos", three_phase=False, cycle_momentum=False)  # fmt: skip
    rates = []
    for _ in range(TOTAL):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_every_step_schedule_is_compared():
    assert {name for name, _ in SCHEDULE_CASES} == set(SCHEDULES) - {"plateau"}


@pytest.mark.parametrize(("name", "args"), SCHEDULE_CASES)
def test_the_rate_of_every_step_is_the_same_in_both_backends(name, args):
    reference = [rate(name, args, LR, s, PER_EPOCH, TOTAL) for s in range(TOTAL)]
    np.testing.assert_allclose(torch_rates(name, args), reference, rtol=1e-12)
    # Keras computes in float32
    np.testing.assert_allclose(keras_rates(name, args), reference, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(oracle_rates(name, args), reference, rtol=1e-5, atol=1e-9)


def test_with_accumulation_each_update_takes_the_rate_of_its_last_batch():
    """Keras's optimizer asks its schedule at every batch; the update after batches
    s-2, s-1, s (accumulate=3) uses the rate at s, in both backends."""
    args = {"every": 1, "gamma": 0.5}
    rates = torch_rates("step", args, accumulate=3)
    reference = [rate("step", args, LR, s, PER_EPOCH, TOTAL) for s in range(TOTAL)]
    assert [r for r in rates if r is not None] == reference[2::3]
    assert [i for i, r in enumerate(rates) if r is not None] == list(range(2, TOTAL, 3))


def drive_keras_callback(callback, values, lr=LR):
    """Run a Keras callback over epochs whose monitored value is ``values``; returns the
    learning rate after each epoch and the epoch it stopped after (1-based, or 0)."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
    callback.set_model(model)
    callback.on_train_begin()
    rates = []
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {"val_loss": value})
        rates.append(float(model.optimizer.learning_rate))
        if model.stop_training:
            return rates, epoch + 1
    return rates, 0


VALUES = [1.0, 0.8, 0.81, 0.79995, 0.85, 0.7, 0.7, 0.72, 0.71, 0.73, 0.69, 0.74, 0.75, 0.76]


@pytest.mark.parametrize(
    "args",
    [{"factor": 0.5, "patience": 2}, {"factor": 0.2, "patience": 1, "cooldown": 2,
                                      "min_lr": 0.01, "min_delta": 0.02}],
)  # fmt: skip
def test_reduce_on_plateau_decides_as_keras_callback(args):
    monitor = Monitor("val_loss", True, plateau=args, lr=LR)
    ours = []
    for epoch, value in enumerate(VALUES, 1):
        monitor.end_epoch(epoch, {"val_loss": value})
        ours.append(monitor.state["lr"])
    full = {"factor": 0.1, "patience": 10, "min_delta": 1e-4, "cooldown": 0, "min_lr": 0.0}
    full.update(args)
    theirs, _ = drive_keras_callback(keras.callbacks.ReduceLROnPlateau(monitor="val_loss",
                                                                       **full), VALUES)  # fmt: skip
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert len(set(ours)) > 1, "the sequence reduces the rate"


@pytest.mark.parametrize(
    "args", [{"patience": 2}, {"patience": 3, "min_delta": 0.02}, {"patience": 0}]
)
def test_early_stopping_decides_as_keras_callback(args):
    monitor = Monitor("val_loss", True, early=args)
    stopped = 0
    for epoch, value in enumerate(VALUES, 1):
        if monitor.end_epoch(epoch, {"val_loss": value})["stop"]:
            stopped = epoch
            break
    callback = keras.callbacks.EarlyStopping(monitor="val_loss", restore_best_weights=True,
                                             **args)  # fmt: skip
    _, theirs = drive_keras_callback(callback, VALUES)
    assert stopped == theirs > 0
    assert monitor.state["best_epoch"] == callback.best_epoch + 1


OPTIMIZER_CASES = [
    ("sgd", {"momentum": 0.9}, "step", {"every": 1, "gamma": 0.5}, {}, 1),
    ("sgd", {"momentum": 0.8, "nesterov": 1, "weight_decay": 0.1}, "cosine", {"warmup": 1},
     {"norm": 0.5}, 1),
    ("sgd", {}, "exponential", {"gamma": 0.7}, {"value": 0.05}, 3),
    ("rmsprop", {"momentum": 0.5, "centered": 1}, "onecycle", {}, {}, 2),
    ("rmsprop", {"weight_decay": 0.05}, "constant", {}, {"norm": 0.3}, 1),
    ("adam", {}, "cosine", {"min_lr": 0.001}, {}, 3),
    ("adamw", {"weight_decay": 0.1}, "step", {"every": 2, "gamma": 0.3}, {"norm": 1.0}, 2),
]  # fmt: skip


@pytest.mark.parametrize(("optimizer", "options", "schedule", "args", "clip", "accumulate"),
                         OPTIMIZER_CASES)  # fmt: skip
def test_updates_are_the_same_step_by_step(optimizer, options, schedule, args, clip,
                                           accumulate):  # fmt: skip
    """The same model, batches and settings: the weights after two epochs of updates agree
    (momentum with a changing rate, decoupled weight decay, clipping, accumulation)."""
    run = settings(optimizer=optimizer, optimizer_args={"lr": LR, **options}, schedule=schedule,
                   schedule_args=args, clip=clip, accumulate=accumulate)  # fmt: skip
    rng = np.random.default_rng(3)
    x = rng.normal(size=(PER_EPOCH * 4, 4)).astype("float32")
    y = rng.normal(size=(PER_EPOCH * 4, 2)).astype("float32") * 3
    kernel = rng.normal(size=(4, 2)).astype("float32")
    bias = rng.normal(size=2).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.set_weights([kernel, bias])
    model.compile(optimizer=keras_loop.make_optimizer(run, PER_EPOCH, TOTAL), loss="mse")
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    linear = torch.nn.Linear(4, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(kernel.T))
        linear.bias.copy_(torch.from_numpy(bias))
    opt = torch_optim.make_optimizer(run, linear.parameters())
    optimisation = Optimisation(run, opt, list(linear.parameters()), PER_EPOCH, TOTAL)
    for _ in range(2):
        for start in range(0, len(x), 4):
            xb, yb = torch.from_numpy(x[start : start + 4]), torch.from_numpy(y[start : start + 4])
            optimisation.backward(torch.nn.functional.mse_loss(linear(xb), yb))
    k_kernel, k_bias = model.get_weights()
    np.testing.assert_allclose(linear.weight.detach().numpy().T, k_kernel, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(linear.bias.detach().numpy(), k_bias, rtol=2e-4, atol=2e-5)
    assert not np.allclose(k_kernel, kernel, atol=1e-3), "the weights moved"


def test_the_keras_schedule_survives_saving(tmp_path):
    schedule = keras_metrics.SpeccSchedule("cosine", {"warmup": 1.0}, LR, PER_EPOCH, TOTAL)
    again = keras_metrics.SpeccSchedule.from_config(schedule.get_config())
    assert [float(again(s)) for s in range(TOTAL)] == [float(schedule(s)) for s in range(TOTAL)]
