"""A run folder: the emitted model, the training harness copied verbatim, and ``config.json``.

    RUN/
      <model>_<backend>.py   the model file, as `specc emit` writes it (build_model())
      <model>.spec           the spec it was emitted from (a copy)
      config.json            what the spec decides (specc/harness/config.py describes it)
      train.py               the entry script: a copy of specc/harness/entry.py
      specc_harness/         the harness: byte-for-byte copies of specc/harness/*.py

``specc emit --train -o RUN`` writes it; ``specc train`` writes it and runs ``train.py``.
Nothing here imports TensorFlow or PyTorch.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import specc.harness
from specc.compiler import CheckedModel
from specc.fsutil import atomic_write
from specc.harness.catalog import DEFAULT_DATA
from specc.harness.config import (
    CONFIG_NAME,
    ENTRY_NAME,
    PACKAGE_NAME,
    InputInfo,
    OutputInfo,
    RunConfig,
    config_text,
)
from specc.harness.tracking import spec_copy_name
from specc.layers import lookup
from specc.output_checks import output_plans, several
from specc.train_checks import Training, output_activation, resolve_training

HARNESS_DIR = Path(specc.harness.__file__).resolve().parent
ENTRY_SOURCE = "entry.py"  # copied as RUN/train.py rather than into the package


def harness_sources() -> dict[str, str]:
    """The harness's modules by file name (entry.py excluded), as text."""
    return {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted(HARNESS_DIR.glob("*.py"))
        if path.name != ENTRY_SOURCE
    }


def model_file_name(checked: CheckedModel, backend: str) -> str:
    """``<model>_<backend>.py``."""
    assert checked.model is not None
    return f"{checked.model.name}_{backend}.py"


def run_config(checked: CheckedModel, backend: str) -> RunConfig:
    """What the checked spec decides about training it with ``backend``."""
    model = checked.model
    assert model is not None and checked.ok
    out_shape = checked.infos[model.output].shape
    train = model.train
    activation = output_activation(model, checked.params)
    plan = resolve_training(train, activation, out_shape)
    losses = [{"output": o, "loss": n, "args": dict(a), "weight": w} for o, n, a, w in train.losses]
    outputs: tuple[OutputInfo, ...] = ()
    if several(model):  # each output's own loss, task and metrics; the first's at the top
        shapes = {i: info.shape for i, info in checked.infos.items()}
        plans = output_plans(model, checked.params, shapes)
        losses = [p.entry() for p in plans]
        outputs = tuple(OutputInfo(p.name, tuple(p.shape), p.shape[-1], p.activation)
                        for p in plans)  # fmt: skip
        first = plans[0]
        plan = Training(first.task, first.loss, first.loss_args, first.metrics, first.metric_args)
    return RunConfig(
        spec_name=model.name,
        spec_file=checked.source.name.replace("\\", "/"),
        spec_sha256=hashlib.sha256(checked.source.text.encode("utf-8")).hexdigest(),
        backend=backend,
        model_file=model_file_name(checked, backend),
        input_shape=tuple(checked.infos[0].shape),
        input_dtype="int64" if _takes_ids(checked) else "float32",
        vocab_size=_input_vocab(checked),
        num_classes=out_shape[-1],
        output_activation=activation,
        output_shape=tuple(out_shape),
        outputs=outputs,
        inputs=_inputs(checked),
        train={
            "data": train.data or DEFAULT_DATA,
            "task": plan.task,
            "loss": plan.loss,
            "loss_args": plan.loss_args,
            "losses": losses,
            "optimizer": train.optimizer,
            "optimizer_args": dict(train.optimizer_args),
            "batch": train.batch_size,
            "epochs": train.epochs,
            "metrics": list(plan.metrics),
            "metric_args": plan.metric_args,
            "seed": train.seed,
            "validation_split": train.validation_split,
            "lr": train.learning_rate,
            "schedule": train.schedule or "constant",
            "schedule_args": dict(train.schedule_args),
            "clip": dict(train.clip),
            "accumulate": train.accumulate,
            "early_stopping": dict(train.early_stopping)
            if train.early_stopping is not None
            else None,
            "monitor": train.monitor,
            "augment": dict(train.augment),
            "normalize": {k: list(v) for k, v in train.normalize.items()},
        },
    )


def _inputs(checked: CheckedModel) -> tuple[InputInfo, ...]:
    """Each input of a model with several, in order (none for one input); token-id inputs
    share the vocabulary every id reader accepts."""
    model = checked.model
    assert model is not None
    if len(model.inputs) < 2:
        return ()
    vocab = _input_vocab(checked, every=True)
    found = []
    for index in model.inputs:
        ids = getattr(checked.params.get(index), "dtype", "float32") == "int"
        found.append(InputInfo(model.nodes[index].name, tuple(checked.infos[index].shape),
                               "int64" if ids else "float32", vocab if ids else None))  # fmt: skip
    return tuple(found)


def _takes_ids(checked: CheckedModel) -> bool:
    return getattr(checked.params.get(0), "dtype", "float32") == "int"


def _input_vocab(checked: CheckedModel, every: bool = False) -> int | None:
    """For integer inputs: the smallest vocabulary among the layers that read the ids, so
    that every id in [0, vocab) is valid for all of them; else None (``every``: whichever
    input takes the ids, not only the first)."""
    model = checked.model
    assert model is not None
    if not _takes_ids(checked) and not every:
        return None
    readers = [n for n in model.nodes if getattr(lookup(n.kind), "int_input", False)]
    vocabs = [checked.params[n.index].vocab for n in readers if n.index in checked.params]
    return min(vocabs) if vocabs else None


def run_folder_files(checked: CheckedModel, backend: str, model_source: str) -> dict[str, str]:
    """Every file of the run folder by relative path, as text."""
    config = run_config(checked, backend)
    files = {
        model_file_name(checked, backend): model_source,
        spec_copy_name(config): checked.source.text,
        CONFIG_NAME: config_text(config),
        ENTRY_NAME: (HARNESS_DIR / ENTRY_SOURCE).read_text(encoding="utf-8"),
    }
    files.update({f"{PACKAGE_NAME}/{name}": text for name, text in harness_sources().items()})
    return files


def write_run_folder(
    checked: CheckedModel, backend: str, folder: str | Path, model_source: str
) -> list[Path]:
    """Write the run folder's files into ``folder`` (each atomically); returns their paths.

    Modules of an older harness that this one no longer has are removed, so the folder's
    ``specc_harness/`` is exactly this harness.
    """
    folder = Path(folder)
    written = []
    for relative, text in run_folder_files(checked, backend, model_source).items():
        path = folder / relative
        atomic_write(path, text)
        written.append(path)
    package = folder / PACKAGE_NAME
    keep = {path.name for path in written if path.parent == package}
    for stale in package.glob("*.py"):
        if stale.name not in keep:
            stale.unlink()
    return written
