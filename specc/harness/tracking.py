"""Where runs are recorded: MLflow (``--track mlflow``) and TensorBoard (``--tensorboard``).

MLflow: one run per training run, in the experiment named after the spec, with

- parameters: the spec's name, file and sha256, the backend, every setting of the run (the
  train section with the flags' overrides, flattened: ``optimizer_args.lr``), the versions
  of Python, numpy and the framework;
- metrics: every history column per epoch (step = the epoch, 1-based), then the test ones;
- artifacts: the spec, the emitted model file, ``config.json``, the trained model
  (``model.pt`` / ``model.keras``, and ``best.*``), ``history.csv``, ``run.json``,
  ``curves.png``.

It goes to MLflow's own default store (``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``
in the current folder: offline) or to ``--track-uri``.  mlflow is imported only here, only
when asked (``pip install 'specc[track]'``).

TensorBoard: event files in ``RUN/tensorboard/train`` and ``RUN/tensorboard/validation``, per
epoch, tagged as Keras's ``TensorBoard`` callback tags them (``epoch_loss``,
``epoch_accuracy``, ..., ``epoch_learning_rate``; the validation values also as
``evaluation_loss_vs_iterations``, ... against the optimizer's update count): Keras writes
them with that callback, PyTorch with ``torch.utils.tensorboard.SummaryWriter``.
"""

from __future__ import annotations

import math
import platform
from pathlib import Path

from .errors import RunError

TENSORBOARD_DIR = "tensorboard"
ARTIFACTS = ("history.csv", "run.json", "curves.png", "config.json")


def flat(prefix: str, value, out: dict) -> dict:
    """``value`` as flat ``prefix.key`` entries (MLflow parameters are flat strings)."""
    if isinstance(value, dict):
        for key, item in value.items():
            flat(f"{prefix}.{key}" if prefix else str(key), item, out)
    elif isinstance(value, (list, tuple)):
        out[prefix] = ",".join(map(str, value)) if value else "[]"
    else:
        out[prefix] = str(value)
    return out


class MlflowRun:
    """One MLflow run for one training run (the first process of a distributed run only)."""

    def __init__(self, config, settings, versions: dict):
        try:
            import mlflow
        except ImportError:
            raise RunError(
                "--track mlflow needs MLflow: pip install 'specc[track]' (or mlflow-skinny)"
            ) from None
        self.mlflow = mlflow
        if settings.track_uri:
            mlflow.set_tracking_uri(settings.track_uri)
        try:
            mlflow.set_experiment(config.spec_name)
            self.run = mlflow.start_run(
                run_name=f"{config.spec_name}-{config.backend}-seed{settings.seed}"
            )
        except Exception as exc:  # mlflow raises its own kinds for a bad store
            raise RunError(f"--track mlflow: cannot start a run at {mlflow.get_tracking_uri()}: "
                           f"{exc}") from None  # fmt: skip
        params = {
            "spec": config.spec_name,
            "spec_file": config.spec_file,
            "spec_sha256": config.spec_sha256,
            "backend": config.backend,
            "python": platform.python_version(),
            **{f"version.{k}": v for k, v in versions.items()},
        }
        chosen = {k: v for k, v in vars(settings).items() if k not in ("out", "track_uri")}
        chosen["losses"] = [vars(term) for term in settings.losses]
        flat("", chosen, params)
        mlflow.log_params({k: v[:6000] for k, v in params.items()})

    def log_epoch(self, epoch: int, logs: dict) -> None:
        """The epoch's values (finite numbers only), at step ``epoch``."""
        values = {k: float(v) for k, v in logs.items() if _finite(v)}
        self.mlflow.log_metrics(values, step=epoch)

    def finish(self, out: Path, files: list[str], final: dict) -> None:
        """Log the test values and the artifacts; end the run."""
        tests = {k: float(v) for k, v in final.items() if k.startswith("test_") and _finite(v)}
        if tests:
            self.mlflow.log_metrics(tests)
        for name in (*files, *ARTIFACTS):
            path = out / name
            if path.is_file():
                self.mlflow.log_artifact(str(path))
        self.mlflow.end_run()

    def fail(self, status: str = "KILLED") -> None:
        """End the run as stopped or failed."""
        self.mlflow.end_run(status=status)


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


class TorchBoard:
    """TensorBoard event files from the PyTorch loop, laid out and tagged as Keras's
    ``TensorBoard`` callback writes them."""

    def __init__(self, out: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise RunError("--tensorboard needs TensorBoard: pip install tensorboard") from None
        root = out / TENSORBOARD_DIR
        self.train = SummaryWriter(str(root / "train"))
        self.validation = SummaryWriter(str(root / "validation"))

    def log_epoch(self, epoch: int, logs: dict, lr: float, updates: int) -> None:
        """The epoch's values; ``epoch`` 0-based, as Keras's callback steps them; the
        validation values also against ``updates``, the optimizer's update count."""
        for name, value in logs.items():
            if name in ("lr", "seconds") or not _finite(value):
                continue
            writer = self.validation if name.startswith("val_") else self.train
            short = name.removeprefix("val_")
            writer.add_scalar(f"epoch_{short}", float(value), epoch)
            if name.startswith("val_"):
                writer.add_scalar(f"evaluation_{short}_vs_iterations", float(value), updates)
        self.train.add_scalar("epoch_learning_rate", float(lr), epoch)
        self.train.flush()
        self.validation.flush()

    def close(self) -> None:
        """Flush and close the event files."""
        self.train.close()
        self.validation.close()


def spec_copy_name(config) -> str:
    """The name of the spec's copy in the run folder (``specc`` writes one there)."""
    return f"{config.spec_name}.spec"
