"""Learning-rate schedules, reduce-on-plateau, early stopping and the best epoch: one
definition for both backends.

A step-based schedule is a formula of the batch step ``s`` (0 for the first batch; with
gradient accumulation the update after batches ``s-N+1..s`` uses the rate at ``s``, as Keras's
optimizer does), written once against a small set of operations (:class:`PythonOps` here;
Keras's ``keras.ops`` in ``keras_metrics.py``), so the two backends compute the same rate at
every step: PyTorch sets it on the optimizer before each update, Keras evaluates it as a
``LearningRateSchedule`` of the optimizer's iteration count.  ``E`` is the number of batches
per epoch, ``T`` the number of batches of the whole run, ``lr`` the optimizer's rate:

- ``step every=N gamma=G``: ``lr * G ** floor(s / (N * E))`` (decays every N epochs);
- ``exponential gamma=G``: ``lr * G ** (s / E)`` (G per epoch, smoothly);
- ``cosine warmup=W min_lr=M``: linear from 0 to ``lr`` over ``W`` epochs, then
  ``M + (lr - M) * (1 + cos(pi * t)) / 2`` with ``t`` going from 0 to 1 over the rest of the run
  (Keras's ``CosineDecay`` with warm-up; PyTorch's ``CosineAnnealingLR`` without);
- ``onecycle max_lr=X pct_start=P div_factor=D final_div_factor=F``: PyTorch's
  ``OneCycleLR`` (cosine annealing, two phases): from ``X / D`` up to ``X`` over ``P * T``
  steps, then down to ``X / (D * F)``; ``max_lr`` defaults to the optimizer's rate;
- ``plateau factor=F patience=P min_delta=D cooldown=C min_lr=M``: epoch-based; the rate is
  multiplied by F when ``monitor`` has not improved by more than D for P epochs (then C epochs
  of cool-down), never below M, as Keras's ``ReduceLROnPlateau`` callback.

Pure Python: ``specc check`` imports the tables.
"""

from __future__ import annotations

import math

from .arguments import with_defaults

INF = float("inf")

# name: {argument: (default, rule)} (rules: arguments.py)
SCHEDULES: dict[str, dict[str, tuple]] = {
    "constant": {},
    "step": {"every": (1, "count1"), "gamma": (0.1, "positive")},
    "exponential": {"gamma": (0.9, "positive")},
    "cosine": {"warmup": (0.0, "non_negative"), "min_lr": (0.0, "non_negative")},
    "onecycle": {
        "max_lr": (None, "positive"),
        "pct_start": (0.3, "open_unit"),
        "div_factor": (25.0, "positive"),
        "final_div_factor": (1e4, "positive"),
    },
    "plateau": {
        "factor": (0.1, "open_unit"),
        "patience": (10, "count"),
        "min_delta": (1e-4, "non_negative"),
        "cooldown": (0, "count"),
        "min_lr": (0.0, "non_negative"),
    },
}
EPOCH_SCHEDULES = ("plateau",)  # changed between epochs, from the monitored value
EARLY_STOPPING: dict[str, tuple] = {
    "patience": (5, "count"),
    "min_delta": (0.0, "non_negative"),
    "restore_best": (1, "bool"),
}
CLIP = {"norm": (None, "positive"), "value": (None, "positive")}


class PythonOps:
    """The operations a schedule formula uses, on Python floats (float64)."""

    floor = staticmethod(math.floor)
    cos = staticmethod(math.cos)
    minimum = staticmethod(min)
    maximum = staticmethod(max)

    @staticmethod
    def where(condition, a, b):
        """``a`` where ``condition`` holds, else ``b``."""
        return a if condition else b

    @staticmethod
    def power(base, exponent):
        """``base ** exponent``."""
        return base**exponent


def rate(name: str, args: dict, lr: float, step, per_epoch: int, total: int, ops=PythonOps):
    """The learning rate of schedule ``name`` at batch step ``step`` (a number, or a tensor
    with ``ops`` its operations): ``per_epoch`` batches per epoch, ``total`` in the run."""
    a = with_defaults(SCHEDULES[name], args)
    if name in ("constant", *EPOCH_SCHEDULES):
        return step * 0.0 + lr
    if name == "step":
        return lr * ops.power(a["gamma"], ops.floor(step / (a["every"] * per_epoch)))
    if name == "exponential":
        return lr * ops.power(a["gamma"], step / per_epoch)
    if name == "cosine":
        warm = a["warmup"] * per_epoch
        floor = a["min_lr"]
        span = max(total - warm, 1.0)
        t = ops.minimum(ops.maximum(step - warm, 0.0) / span, 1.0)
        decayed = floor + (lr - floor) * (1.0 + ops.cos(math.pi * t)) / 2.0
        if warm <= 0:
            return decayed
        return ops.where(step < warm, lr * step / warm, decayed)
    if name == "onecycle":
        peak = a.get("max_lr", lr)
        start = peak / a["div_factor"]
        end = start / a["final_div_factor"]
        up = float(a["pct_start"] * total) - 1.0  # OneCycleLR's phase ends, in steps
        down = float(total) - 1.0
        rising = ops.minimum(step / max(up, 1e-12), 1.0)
        falling = ops.minimum(ops.maximum(step - up, 0.0) / max(down - up, 1e-12), 1.0)
        first = peak + (start - peak) / 2.0 * (ops.cos(math.pi * rising) + 1.0)
        second = end + (peak - end) / 2.0 * (ops.cos(math.pi * falling) + 1.0)
        return ops.where(step <= up, first, second)
    raise ValueError(f"unknown schedule {name!r}")


def improved(value: float, best: float, lower: bool, min_delta: float) -> bool:
    """Whether ``value`` beats ``best`` by more than ``min_delta`` (in the monitor's direction).
    A value that is not a number never improves."""
    if value is None or math.isnan(value):
        return False
    return value < best - min_delta if lower else value > best + min_delta


class Monitor:
    """What happens between epochs, from the history: the best epoch, early stopping and
    reduce-on-plateau, with the meaning of Keras's ``EarlyStopping`` and ``ReduceLROnPlateau``
    callbacks.  Both loops call :meth:`end_epoch` with the same logs, so they make the same
    decisions; the state is a plain dict, kept in the checkpoints.

    The best epoch is the one whose ``monitor`` value beat every earlier one by more than
    early stopping's ``min_delta`` (0 without early stopping): its weights are ``best.pt`` /
    ``best.keras``, and the ones restored at the end of the run when ``restore_best`` is set.
    """

    def __init__(self, monitor: str, lower: bool, early=None, plateau=None, lr: float = 0.0):
        self.monitor = monitor
        self.lower = lower
        self.early = with_defaults(EARLY_STOPPING, early) if early is not None else None
        self.plateau = with_defaults(SCHEDULES["plateau"], plateau) if plateau is not None else None
        self.min_delta = self.early["min_delta"] if self.early else 0.0
        worst = INF if lower else -INF
        self.state = {
            "best": worst,  # the best value of the monitor so far
            "best_epoch": 0,  # its epoch (1-based), 0: none yet
            "wait": 0,  # epochs since the best (early stopping)
            "plateau_best": worst,
            "plateau_wait": 0,
            "cooldown": 0,
            "lr": lr,  # the rate reduce-on-plateau has set
            "stopped_epoch": 0,  # the epoch early stopping ended the run after, 0: none
        }

    @property
    def restore_best(self) -> bool:
        """Whether the run ends with the best epoch's weights rather than the last's."""
        return bool(self.early and self.early["restore_best"])

    def end_epoch(self, epoch: int, logs: dict) -> dict:
        """Update the state after epoch ``epoch`` (1-based) from its ``logs``; returns what
        to do: ``{"best": bool, "stop": bool, "lr": float or None}``."""
        s = self.state
        value = logs.get(self.monitor)
        value = None if value is None else float(value)
        actions = {"best": False, "stop": False, "lr": None}
        if value is None:  # the monitored value is not reported (no validation data)
            return actions
        s["wait"] += 1
        if improved(value, s["best"], self.lower, self.min_delta):
            s["best"], s["best_epoch"], s["wait"] = value, epoch, 0
            actions["best"] = True
        elif self.early is not None and s["wait"] >= self.early["patience"] and epoch > 1:
            s["stopped_epoch"] = epoch
            actions["stop"] = True
        if self.plateau is not None:
            actions["lr"] = self._plateau(value)
        return actions

    def _plateau(self, value):
        s, p = self.state, self.plateau
        if s["cooldown"] > 0:
            s["cooldown"] -= 1
            s["plateau_wait"] = 0
        if improved(value, s["plateau_best"], self.lower, p["min_delta"]):
            s["plateau_best"] = value
            s["plateau_wait"] = 0
            return None
        if s["cooldown"] > 0:
            return None
        s["plateau_wait"] += 1
        if s["plateau_wait"] >= p["patience"] and s["lr"] > p["min_lr"]:
            s["lr"] = max(s["lr"] * p["factor"], p["min_lr"])
            s["cooldown"] = p["cooldown"]
            s["plateau_wait"] = 0
            return s["lr"]
        return None
