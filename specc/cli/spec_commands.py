"""The commands that read specs and write text or files: ``check``, ``fmt``, ``emit`` and
``graph``.

None of them imports TensorFlow or PyTorch; every import beyond the standard library waits
until the command runs, so that ``specc check`` loads neither the emitters nor the diagram.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from specc.cli.common import UsageError, check_spec_file, print_warnings, read_spec, valid_spec
from specc.exit_codes import ExitCode
from specc.harness.backends import NAMES as BACKENDS


def cmd_check(args: argparse.Namespace) -> int:
    """``specc check SPEC...``: report shapes, counts and every error of each spec."""
    from specc.report import explain_hint, render_diagnostics, render_table, to_document

    status = ExitCode.OK
    first = True
    codes: list[str] = []
    for path in args.specs:
        checked = check_spec_file(path)
        if args.format == "json":
            print(json.dumps(to_document(checked)))
        elif checked.ok:
            print(("" if first else "\n") + render_table(checked, explain=args.explain))
            print_warnings(checked)
        else:
            text = render_diagnostics(checked, hint=False)
            print(("" if first else "\n") + text, file=sys.stderr)
            codes += (d.code for d in checked.diagnostics)
        if not checked.ok:
            status = ExitCode.ERRORS
        first = False
    if codes:  # once per run, naming every code that occurred, as rustc does
        print("\n" + explain_hint(codes), file=sys.stderr)
    return status


def cmd_fmt(args: argparse.Namespace) -> int:
    """``specc fmt SPEC... [--check]``: rewrite specs in canonical layout (atomically).

    Every rewrite is proved before it is written, as black does: the new text must check to
    the same model as the old one (:mod:`specc.equivalence`), or the file is left alone and
    the command ends with an internal error (exit 3).
    """
    from specc.diagnostics import SpecError, render_all
    from specc.equivalence import rewrite_difference
    from specc.formatter import format_file
    from specc.fsutil import atomic_write
    from specc.limits import MAX_REPORTED_DIAGNOSTICS
    from specc.source import BOM

    sources = {path: read_spec(path) for path in args.specs}
    status = ExitCode.OK
    for path, source in sources.items():
        try:
            formatted = format_file(source)
        except SpecError as exc:
            print(
                render_all(exc.source, exc.diagnostics, MAX_REPORTED_DIAGNOSTICS), file=sys.stderr
            )
            print(f"{path}: not formatted (syntax errors)", file=sys.stderr)
            status = max(status, ExitCode.ERRORS)
            continue
        if formatted == (BOM if source.bom else "") + source.text:
            continue
        if args.check:
            print(f"would reformat {path}", file=sys.stderr)
            status = max(status, ExitCode.ERRORS)
            continue
        difference = rewrite_difference(source, formatted.removeprefix(BOM))
        if difference is not None:
            print(
                f"specc: internal error: formatting {path} would change its model "
                f"({difference}); the file is left unchanged.\n"
                "This is a bug in specc's formatter; please report it with the spec.",
                file=sys.stderr,
            )
            status = ExitCode.INTERNAL
            continue
        atomic_write(path, formatted)
        print(f"reformatted {path}", file=sys.stderr)
    return status


def cmd_emit(args: argparse.Namespace) -> int:
    """``specc emit SPEC --backend B [-o FILE]``: write standalone Keras or PyTorch source.

    ``--backend all`` writes both, ``<model>_keras.py`` and ``<model>_torch.py``, into the
    folder given with ``-o``.
    """
    from specc.emit import EmitError, backend_diagnostics, emit_source
    from specc.fsutil import atomic_write
    from specc.report import render_diagnostics

    to_folder = args.backend == "all"
    if args.train and args.output in (None, "-"):
        raise UsageError("--train writes a run folder: give it with -o DIR")
    if to_folder and args.output in (None, "-"):
        raise UsageError("--backend all writes two files: give a folder with -o DIR")
    checked = valid_spec(args.spec)
    backends = BACKENDS if to_folder else (args.backend,)
    limits = [d for backend in backends for d in backend_diagnostics(checked, backend)]
    if limits:  # a valid spec that this backend cannot express, located
        print(render_diagnostics(checked, limits), file=sys.stderr)
        return ExitCode.ERRORS
    try:  # render everything before writing anything
        sources = {backend: emit_source(checked, backend) for backend in backends}
    except EmitError as exc:  # a valid spec this backend cannot express
        print(f"specc: error: {exc}", file=sys.stderr)
        return ExitCode.ERRORS
    if args.train:
        return _write_run_folders(checked, sources, Path(args.output), to_folder)
    if not to_folder and args.output in (None, "-"):
        sys.stdout.write(sources[args.backend])
        return ExitCode.OK
    for backend, code in sources.items():
        path = Path(args.output)
        if to_folder:
            path = path / f"{checked.model.name}_{backend}.py"
        atomic_write(path, code)
        print(f"wrote {path} ({backend})", file=sys.stderr)
    return ExitCode.OK


def _write_run_folders(checked, sources: dict[str, str], output: Path, several: bool) -> int:
    """``emit --train``: a run folder per backend (``DIR/<model>-<backend>`` for ``all``)."""
    from specc.harness.errors import HarnessError
    from specc.harness.lock import RunLock
    from specc.run_folder import write_run_folder

    for backend, code in sources.items():
        folder = output / f"{checked.model.name}-{backend}" if several else output
        try:
            held = RunLock(folder).acquire()  # never rewrite a folder a run is training in
        except HarnessError as exc:
            raise UsageError(str(exc)) from None
        try:
            write_run_folder(checked, backend, folder, code)
        finally:
            held.release()
        print(f"wrote {folder}/ ({backend} run folder)", file=sys.stderr)
    return ExitCode.OK


def cmd_graph(args: argparse.Namespace) -> int:
    """``specc graph SPEC [-o FILE]``: draw the model as SVG, PNG or DOT (stdout: SVG)."""
    from specc.diagram.output import PngUnavailable, choose_format, render, write_output

    try:
        fmt = choose_format(args.output, args.format)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.depth is not None and args.depth < 0:
        raise UsageError("--depth takes a whole number, 0 or more")
    to_stdout = args.output in (None, "-")
    if to_stdout and fmt == "png" and sys.stdout.isatty():
        raise UsageError("a PNG is binary: write it to a file with -o FILE.png")
    checked = valid_spec(args.spec, warnings=False)
    try:
        data = render(checked, fmt, depth=args.depth, direction=args.direction)
    except PngUnavailable as exc:
        raise UsageError(str(exc)) from None
    if to_stdout:
        sys.stdout.flush()
        sys.stdout.buffer.write(data.encode("utf-8") if isinstance(data, str) else data)
        sys.stdout.buffer.flush()
        return ExitCode.OK
    write_output(args.output, data)
    print(f"wrote {args.output} ({fmt})", file=sys.stderr)
    return ExitCode.OK
