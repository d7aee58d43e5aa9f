"""The files a run leaves: history.csv, curves.png, run.json; every write atomic.

Each file is written to a temporary file in the same folder and renamed over the old one, so
a run killed at any moment leaves either the old file or the new one, never half of one.
``run.json`` is strict JSON: a loss that diverged to NaN or infinity is written as null, and
its ``notes`` say which values were not finite.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

TEMPORARY_MARK = ".tmp-"


def replace_atomically(path: str | os.PathLike, write: Callable[[str], object]) -> None:
    """Call ``write(tmp_path)`` and rename the result to ``path`` (same suffix, same folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}{TEMPORARY_MARK}{os.getpid()}{path.suffix}")
    try:
        write(str(tmp))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def remove_temporaries(folder: str | os.PathLike) -> None:
    """Delete what a killed run left half-written in ``folder`` (never a finished file)."""
    root = Path(folder)
    if root.is_dir():
        for stale in root.glob(f"**/.*{TEMPORARY_MARK}*"):
            if stale.is_file():
                stale.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    replace_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def history_row(epoch: int, logs: dict[str, Any], seconds: float, columns: Iterable[str]):
    """A history.csv row: the epoch, the values of ``columns`` found in ``logs``, the time."""
    row: dict[str, Any] = {"epoch": epoch, "seconds": round(seconds, 3)}
    for key in columns:
        if key not in row and logs.get(key) is not None:
            row[key] = float(logs[key])
    return row


def write_history(path: str | os.PathLike, rows: list[dict], columns: Iterable[str]) -> None:
    """One row per epoch, in ``columns`` (non-finite values as ``nan``/``inf``)."""

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, list(columns), extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    replace_atomically(path, write)


def plot_curves(path: str | os.PathLike, rows: list[dict], metrics: Iterable[str], title: str):
    """The loss and each metric per epoch, train and validation, as a PNG (matplotlib, Agg)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no curves.png", file=sys.stderr)
        return
    names = ["loss", *metrics]
    epochs = [row["epoch"] for row in rows]
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
    for ax, metric in zip(axes[0], names, strict=True):
        for prefix, label in (("", "train"), ("val_", "validation")):
            values = [row.get(prefix + metric) for row in rows]
            if any(v is not None for v in values):
                ax.plot(epochs, values, marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    replace_atomically(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def strict_json(value: Any, where: str = "", notes: list[str] | None = None) -> Any:
    """``value`` with every non-finite float replaced by None; each one adds a note to
    ``notes`` naming it (``metrics.loss was nan``)."""
    if isinstance(value, dict):
        return {
            k: strict_json(v, f"{where}.{k}" if where else str(k), notes) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [strict_json(v, f"{where}[{i}]", notes) for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        if notes is not None:
            notes.append(f"{where} was {value} (written as null)")
        return None
    return value


def write_json(path: str | os.PathLike, document: dict[str, Any]) -> None:
    """Write ``document`` as strict JSON; non-finite numbers become null, listed in ``notes``."""
    notes: list[str] = []
    clean = strict_json(document, "", notes)
    if notes:
        clean["notes"] = [*clean.get("notes", []), *notes]
    write_text(path, json.dumps(clean, indent=2, sort_keys=True, allow_nan=False) + "\n")


def run_info(config, settings, *, backend_versions, device, final, started, resumed_from, world,
             monitor=None):  # fmt: skip
    """What run.json records: the spec, the settings, the software and the results (and the
    monitor's best and stopping epochs)."""
    import numpy as np

    extra = {}
    if monitor is not None:
        extra = {
            "monitor": settings.monitor,
            "best_epoch": monitor.state["best_epoch"] or None,
            "stopped_early_after_epoch": monitor.state["stopped_epoch"] or None,
        }
    return {
        **extra,
        "spec": config.spec_name,
        "spec_file": config.spec_file,
        "spec_sha256": config.spec_sha256,
        "backend": config.backend,
        "data": settings.data,
        "seed": settings.seed,
        "epochs": settings.epochs,
        "batch_size": settings.batch,
        "learning_rate": settings.lr,
        "optimizer": settings.optimizer,
        "optimizer_args": dict(settings.optimizer_args),
        "task": settings.task,
        "loss": settings.loss,
        "metric_names": list(settings.metric_columns()),
        "outputs": [
            {
                "output": t.output,
                "task": t.task,
                "loss": t.loss,
                "weight": t.weight,
                "metrics": list(t.metrics),
            }
            for t in settings.losses
        ]
        if settings.outputs
        else [],
        "schedule": settings.schedule,
        "schedule_args": dict(settings.schedule_args),
        "accumulate": settings.accumulate,
        "clip": dict(settings.clip),
        "augment": dict(settings.augment),
        "device": device,
        "world_size": world,
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            **backend_versions,
        },
        "resumed_from_epoch": resumed_from,
        "wall_time_s": round(time.time() - started, 3),
        "metrics": final,
    }


def write_outputs(out: str | os.PathLike, rows: list[dict], info: dict, settings) -> None:
    """history.csv, curves.png and run.json in ``out``."""
    out = Path(out)
    write_history(out / "history.csv", rows, settings.history_columns())
    title = f"{info['spec']} ({info['backend']})"
    plot_curves(out / "curves.png", rows, settings.metric_columns(), title)
    write_json(out / "run.json", info)


def final_metrics(rows: list[dict], test: dict[str, float]) -> dict[str, float]:
    """The last epoch's values and the test set's (``test_loss``, ``test_accuracy``, ...)."""
    final = {k: v for k, v in rows[-1].items() if k not in ("epoch", "seconds")} if rows else {}
    final.update({f"test_{k}": float(v) for k, v in test.items()})
    return final
