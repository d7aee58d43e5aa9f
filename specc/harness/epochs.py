"""What both training loops do around their epochs, written once: the samples each epoch
trains on (augmented, normalised), the steps per epoch, the monitor (best epoch, early
stopping, reduce-on-plateau) and the files and records a run leaves besides its model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from . import augment
from .runfiles import final_metrics, history_row, run_info, write_outputs, write_text
from .schedules import EPOCH_SCHEDULES, Monitor
from .tracking import MlflowRun, spec_copy_name

VOCABULARY_NAME = "vocabulary.json"


class Preprocess:
    """The samples of each epoch: augmented (training only, drawn from (seed, epoch)) and
    normalised with the stated statistics (always)."""

    def __init__(self, settings, input_shape):
        image = len(input_shape) == 3
        self.augment = settings.augment if image and augment.active(settings.augment) else None
        self.stats = augment.statistics(settings.normalize, input_shape[-1]) if image else None
        self.seed = settings.seed
        self._drawn = None  # ((epoch, count), parameters) of the last epoch drawn

    @property
    def per_epoch(self) -> bool:
        """Whether the training samples change from epoch to epoch."""
        return self.augment is not None

    def evaluation(self, x):
        """Validation and test samples: normalised only."""
        return augment.normalise(x, self.stats)

    def training(self, x, epoch: int):
        """The training samples of ``epoch``, in index order."""
        if self.augment is not None:
            x = augment.augment_epoch(x, self.augment, self.seed, epoch)
        return augment.normalise(x, self.stats)

    def training_batch(self, x, index, epoch: int, count: int):
        """A batch of training samples (their indices ``index`` among ``count``) for
        ``epoch``: what :meth:`training` gives those samples."""
        if self.augment is not None:
            if self._drawn is None or self._drawn[0] != (epoch, count):
                self._drawn = ((epoch, count), augment.draw(self.augment, count, self.seed, epoch))
            crop = int(self.augment.get("crop", 0))
            x = augment.apply(x, self._drawn[1], index, crop)
        return augment.normalise(x, self.stats)


def steps_per_epoch(samples: int, batch: int) -> int:
    """Batches in an epoch of ``samples`` (the last one may be smaller)."""
    return max(1, -(-samples // batch))


def make_monitor(settings) -> Monitor:
    """The run's :class:`Monitor`: best epoch, early stopping, reduce-on-plateau."""
    plateau = settings.schedule_args if settings.schedule in EPOCH_SCHEDULES else None
    return Monitor(
        settings.monitor,
        settings.monitor_lower(),
        early=settings.early_stopping,
        plateau=plateau,
        lr=settings.lr,
    )


class Records:
    """The run's records besides the model: history rows, the monitor's messages, MLflow,
    the final files (``history.csv``, ``curves.png``, ``run.json``, the vocabulary)."""

    def __init__(self, config, settings, out: Path, lead: bool, versions: dict):
        self.config, self.settings, self.out, self.lead = config, settings, out, lead
        self.versions = versions
        self.columns = settings.history_columns()
        self.started = time.time()
        self.mlflow = None
        if lead and settings.track == "mlflow":
            self.mlflow = MlflowRun(config, settings, versions)

    def epoch(self, rows: list, epoch: int, logs: dict, seconds: float) -> dict:
        """Append epoch ``epoch``'s (1-based) row; record it; returns the row."""
        row = history_row(epoch, logs, seconds, self.columns)
        rows.append(row)
        if self.mlflow is not None:
            self.mlflow.log_epoch(epoch, {k: v for k, v in row.items() if k != "epoch"})
        return row

    def announce(self, actions: dict, epoch: int, monitor: Monitor) -> None:
        """Say what the monitor decided (first process only)."""
        if not self.lead:
            return
        if actions["lr"] is not None:
            print(f"epoch {epoch}: {monitor.monitor} has not improved; learning rate "
                  f"{actions['lr']:.3g}", flush=True)  # fmt: skip
        if actions["stop"]:
            print(f"epoch {epoch}: early stopping ({monitor.monitor} best "
                  f"{monitor.state['best']:.4f} at epoch {monitor.state['best_epoch']})",
                  flush=True)  # fmt: skip

    def finish(self, rows, test, device, resumed, world, model_files, monitor, vocabulary=None):
        """Write history.csv, curves.png, run.json (and the vocabulary); finish MLflow."""
        final = final_metrics(rows, test)
        info = run_info(
            self.config,
            self.settings,
            backend_versions=self.versions,
            device=device,
            final=final,
            started=self.started,
            resumed_from=resumed,
            world=world,
            monitor=monitor,
        )
        if vocabulary is not None:
            document = {"characters": list(vocabulary), "ids": {c: i for i, c in
                                                                enumerate(vocabulary)}}  # fmt: skip
            write_text(self.out / VOCABULARY_NAME, json.dumps(document, indent=1) + "\n")
        write_outputs(self.out, rows, info, self.settings)
        if self.mlflow is not None:
            files = [*model_files, self.config.model_file, spec_copy_name(self.config)]
            if vocabulary is not None:
                files.append(VOCABULARY_NAME)
            self.mlflow.finish(self.out, files, final)
        return final

    def abandon(self) -> None:
        """End the MLflow run of a run that stopped or failed."""
        if self.mlflow is not None:
            self.mlflow.fail()
