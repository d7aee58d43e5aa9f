"""``specc train``: write the run folder, then become its training process.

The training harness is real Python in ``specc/harness/``, copied into the run folder next to
the emitted model with a ``config.json`` (``specc.run_folder``), so ``specc train SPEC`` and
``python RUN/train.py`` with the same flags do the same thing.  Before anything is written this
module refuses a named dataset that does not fit the spec, bad flag values, a missing
framework and a run folder in use (its lock names the process that holds it); then it locks
the folder, writes it and replaces itself with ``train.py`` (``exec``: the same process, which
keeps the lock).  So stopping ``specc train`` stops the training, whatever the signal: there
is no second process to orphan.  ``--nproc N`` is handled by ``train.py`` (torchrun for
PyTorch, MirroredStrategy for Keras).

Nothing here imports TensorFlow or PyTorch.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from specc import data_catalog, input_checks, output_checks
from specc.compiler import CheckedModel
from specc.data_catalog import DEFAULT_DATA
from specc.diagnostics import Diagnostic, render_all
from specc.harness.backends import missing_message, missing_modules
from specc.harness.config import CHECKPOINTS, CONFIG_NAME, ENTRY_NAME, read_config
from specc.harness.errors import EXIT_ERRORS, EXIT_USAGE, HarnessError
from specc.harness.flags import problems, to_argv
from specc.harness.lock import RunLock
from specc.run_folder import run_config, write_run_folder
from specc.train_checks import dataset_diagnostics, output_activation, resolve_training


def resolve_data(checked: CheckedModel, override: str | None) -> str:
    """The data to train on: ``--data``, else the spec's train section, else digits."""
    assert checked.model is not None
    return override or checked.model.train.data or DEFAULT_DATA


def data_diagnostics(checked: CheckedModel, data: str) -> list[Diagnostic]:
    """Errors for a named dataset whose samples or classes do not fit the spec's model."""
    model = checked.model
    info = data_catalog.lookup(data)
    if model is None or info is None:
        return []
    first, last = model.nodes[0], model.nodes[model.output]
    default = model.train.data is None and data == DEFAULT_DATA
    origin = "the default --data" if default else "from --data"
    if input_checks.several(model):
        return input_checks.data_diagnostics(info, model, origin=origin)
    shape = checked.infos.get(first.index)
    if output_checks.several(model):
        shapes = {i: found.shape for i, found in checked.infos.items()}
        return output_checks.data_diagnostics(
            info,
            model,
            output_checks.output_plans(model, checked.params, shapes, data),
            int_input=getattr(checked.params.get(first.index), "dtype", "float32") == "int",
            in_shape=shape.shape if shape else None,
            input_span=first.span,
            shape_span=first.span,
            origin=origin,
        )
    out = checked.infos.get(last.index)
    task = None
    if out is not None:
        activation = output_activation(model, checked.params)
        task = resolve_training(model.train, activation, out.shape).task
    return dataset_diagnostics(
        info,
        int_input=getattr(checked.params.get(first.index), "dtype", "float32") == "int",
        in_shape=shape.shape if shape else None,
        out_shape=out.shape if out else None,
        input_span=first.span,
        shape_span=first.span,
        output_span=last.span,
        origin="the default --data" if default else "from --data",
        task=task,
    )


def run_dir(checked: CheckedModel, backend: str, out: str | None) -> Path:
    """Where the run goes: ``--out``, else ``runs/<model>-<backend>``."""
    assert checked.model is not None
    return Path(out) if out else Path("runs") / f"{checked.model.name}-{backend}"


def require_frameworks(backends: list[str], command: str) -> str | None:
    """The error for a command that needs ``backends``' frameworks where one is missing."""
    missing = missing_modules(backends)
    if not missing:
        return None
    return f"specc {command}: {missing_message(backends, missing, specc=True)}"


def resume_problem(checked: CheckedModel, backend: str, folder: Path) -> str | None:
    """Why ``--resume`` cannot continue the run in ``folder`` with this spec, if it cannot:
    its checkpoint was trained from another version of the spec."""
    if not (folder / CHECKPOINTS[backend]).exists():
        return None
    try:
        previous = read_config(folder / CONFIG_NAME)
    except HarnessError:
        return None  # the harness reports a checkpoint it cannot use
    current = run_config(checked, backend)
    if previous.spec_sha256 == current.spec_sha256:
        return None
    return (
        f"cannot --resume {folder}: it was trained from another version of "
        f"{checked.source.name} (sha256 {previous.spec_sha256[:16]}, now "
        f"{current.spec_sha256[:16]}); train without --resume to start again, or use another --out"
    )


def prepare(checked: CheckedModel, args: argparse.Namespace) -> tuple[Path, RunLock] | int:
    """Check everything, lock the run folder and write it; returns (folder, lock) or an exit
    status (nothing written)."""
    from specc.emit import EmitError, backend_diagnostics, emit_source

    assert checked.model is not None
    backend = args.backend
    found = data_diagnostics(checked, resolve_data(checked, getattr(args, "data", None)))
    found += backend_diagnostics(checked, backend)  # what this backend cannot express
    if found:
        print(render_all(checked.source, found), file=sys.stderr)
        return EXIT_ERRORS
    refusals = problems(args)
    refusals += filter(None, [require_frameworks([backend], f"train --backend {backend}")])
    try:
        model_source = emit_source(checked, backend)
    except EmitError as exc:
        print(f"specc: error: cannot emit {backend}: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    folder = run_dir(checked, backend, getattr(args, "out", None))
    if getattr(args, "resume", False):
        refusals += filter(None, [resume_problem(checked, backend, folder)])
    if refusals:
        for refusal in refusals:
            prefix = "" if refusal.startswith("specc ") else "specc: error: "
            print(prefix + refusal, file=sys.stderr)
        return EXIT_USAGE
    try:
        held = RunLock(folder).acquire()
    except HarnessError as exc:
        print(f"specc: error: {exc}", file=sys.stderr)
        return exc.exit_status
    try:
        write_run_folder(checked, backend, folder, model_source)
    except OSError as exc:
        where = exc.filename or folder
        print(f"specc: error: cannot write {where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    return folder, held


def train_command(checked: CheckedModel, args: argparse.Namespace) -> int:
    """Write the run folder and replace this process with its ``train.py``.

    Returns only when something was refused (the exit status), or where ``exec`` does not
    replace a process (not POSIX): then ``train.py`` runs as a child and its status returns.
    """
    prepared = prepare(checked, args)
    if isinstance(prepared, int):
        return prepared
    folder, held = prepared
    entry = folder / ENTRY_NAME
    command = [sys.executable, str(entry), *to_argv(args)]
    shown = " ".join(["python", *command[1:]])
    print(f"specc: wrote {folder}/; running {shown}", file=sys.stderr, flush=True)
    sys.stdout.flush()
    env = {**os.environ, **held.hand_on()}
    if os.name != "posix":  # pragma: no cover - exec is a new process there
        held.release()
        return subprocess.call(command, env=env)
    try:
        os.execve(sys.executable, command, env)
    except OSError as exc:
        print(f"specc: error: cannot run {sys.executable}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
