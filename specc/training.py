"""``specc train``: write the emitted script into a run folder and run it.

The training harness lives in the emitted script itself (``templates/common/data.py.j2`` and
``templates/<backend>/train.py.j2``), so ``specc train SPEC`` and ``python SCRIPT.py`` do the
same thing.  This module resolves the data, refuses a named dataset that does not fit the spec
(before anything is written or started), writes ``<run>/<model>_<backend>.py`` atomically and
runs it with the same interpreter as a subprocess, its output going straight to the terminal.
``--nproc N`` runs PyTorch scripts under torchrun; Keras scripts get ``--nproc`` and use
``tf.distribute.MirroredStrategy`` themselves.

Nothing here imports TensorFlow or PyTorch.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from specc import data_catalog
from specc.compiler import CheckedModel
from specc.data_catalog import DEFAULT_DATA
from specc.diagnostics import Diagnostic, render_all
from specc.fsutil import atomic_write
from specc.passes import dataset_diagnostics

EXIT_ERRORS, EXIT_USAGE = 1, 2
# flags passed through to the script unchanged: (attribute, option)
_VALUE_FLAGS = (
    ("data_dir", "--data-dir"),
    ("epochs", "--epochs"),
    ("batch", "--batch"),
    ("seed", "--seed"),
    ("lr", "--lr"),
    ("device", "--device"),
)
_SWITCHES = (
    ("resume", "--resume"),
    ("compile", "--compile"),
    ("mixed_precision", "--mixed-precision"),
)


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
    shape = checked.infos.get(first.index)
    out = checked.infos.get(last.index)
    return dataset_diagnostics(
        info,
        int_input=getattr(checked.params.get(first.index), "dtype", "float32") == "int",
        in_shape=shape.shape if shape else None,
        out_shape=out.shape if out else None,
        input_span=first.span,
        shape_span=first.span,
        output_span=last.span,
        origin="the default --data" if default else "from --data",
    )


def run_dir(checked: CheckedModel, backend: str, out: str | None) -> Path:
    """Where the run goes: ``--out``, else ``runs/<model>-<backend>``."""
    assert checked.model is not None
    return Path(out) if out else Path("runs") / f"{checked.model.name}-{backend}"


def script_command(script: Path, backend: str, args: argparse.Namespace, data: str) -> list[str]:
    """The command line that runs ``script`` with the flags given to ``specc train``."""
    flags = ["--data", data, "--out", str(script.parent)]
    for attr, option in _VALUE_FLAGS:
        value = getattr(args, attr, None)
        if value is not None:
            flags += [option, str(value)]
    flags += [option for attr, option in _SWITCHES if getattr(args, attr, False)]
    nproc = getattr(args, "nproc", 1) or 1
    if backend == "torch" and nproc > 1:
        launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
        return [sys.executable, *launcher, str(script), *flags]
    if nproc > 1:
        flags += ["--nproc", str(nproc)]
    return [sys.executable, str(script), *flags]


def prepare(checked: CheckedModel, args: argparse.Namespace) -> tuple[list[str], Path] | int:
    """Check the data, write the script; returns (command, script) or an exit status."""
    from specc.emit import EmitError, emit_source

    assert checked.model is not None
    backend = args.backend
    data = resolve_data(checked, getattr(args, "data", None))
    problems = data_diagnostics(checked, data)
    if problems:
        print(render_all(checked.source, problems), file=sys.stderr)
        return EXIT_ERRORS
    for attr in ("epochs", "batch", "nproc"):
        value = getattr(args, attr, None)
        if value is not None and value < 1:
            print(f"specc: error: --{attr} must be at least 1", file=sys.stderr)
            return EXIT_USAGE
    try:
        code = emit_source(checked, backend)
    except EmitError as exc:
        print(f"specc: error: cannot emit {backend}: {exc}", file=sys.stderr)
        return EXIT_ERRORS
    folder = run_dir(checked, backend, getattr(args, "out", None))
    script = folder / f"{checked.model.name}_{backend}.py"
    try:
        atomic_write(script, code)
    except OSError as exc:
        print(f"specc: error: cannot write {script}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    return script_command(script, backend, args, data), script


def train_command(checked: CheckedModel, args: argparse.Namespace) -> int:
    """Emit the training script into the run folder, run it, and return its exit status."""
    prepared = prepare(checked, args)
    if isinstance(prepared, int):
        return prepared
    command, script = prepared
    print(f"specc: wrote {script}; running it", file=sys.stderr, flush=True)
    env = dict(os.environ)
    if getattr(args, "device", None) == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = "-1"  # TensorFlow initialises GPUs on import otherwise
    try:
        return subprocess.call(command, env=env)
    except OSError as exc:
        print(f"specc: error: cannot run {command[0]}: {exc}", file=sys.stderr)
        return EXIT_USAGE
