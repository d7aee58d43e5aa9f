"""The ``specc`` command line: check, emit, graph, train, port-weights, export, import,
layers, explain, lsp.

``check``, ``emit`` and ``graph`` import neither TensorFlow nor PyTorch; ``train``,
``port-weights`` and ``export`` import them lazily, only when run; ``import`` needs only onnx
for an ONNX file, nothing for a ``.keras`` config, and a framework only for ``--weights``.
Exit status (:class:`specc.exit_codes.ExitCode`): 0 when every spec is valid, 1 when any spec
has errors, 2 for usage errors (bad flags, files that cannot be read or written), 3 for a bug
in specc.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
from pathlib import Path
from typing import NoReturn

from specc import __version__
from specc.exit_codes import ExitCode
from specc.harness.backends import NAMES as BACKENDS
from specc.harness.flags import add_flags
from specc.startup import disable_pydantic_plugins

disable_pydantic_plugins()


class UsageError(Exception):
    """A problem with how specc was called rather than with a spec."""


def _read_source(path: str):
    """The spec file at ``path``, or a :class:`UsageError` saying why it cannot be read."""
    from specc.source import SourceReadError, read_source

    try:
        return read_source(path)
    except SourceReadError as exc:
        raise UsageError(str(exc)) from None


def _read(path: str):
    from specc.compiler import check_source

    return check_source(_read_source(path))


def _print_warnings(checked) -> None:
    """A valid spec's warnings, on stderr, so that the command's output stays as it was."""
    from specc.report import render_warnings

    text = render_warnings(checked)
    if text:
        print(text, file=sys.stderr)


def cmd_check(args: argparse.Namespace) -> int:
    """``specc check SPEC...``: report shapes, counts and every error of each spec."""
    from specc.report import explain_hint, render_diagnostics, render_table, to_document

    status = ExitCode.OK
    first = True
    codes: list[str] = []
    for path in args.specs:
        checked = _read(path)
        if args.format == "json":
            print(json.dumps(to_document(checked)))
        elif checked.ok:
            print(("" if first else "\n") + render_table(checked, explain=args.explain))
            _print_warnings(checked)
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

    sources = {path: _read_source(path) for path in args.specs}
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
    checked = _read(args.spec)
    if not checked.ok:
        print(render_diagnostics(checked), file=sys.stderr)
        return ExitCode.ERRORS
    _print_warnings(checked)
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
    from specc.report import render_diagnostics
    from specc.run_folder import write_run_folder
    from specc.training import harness_limits

    limits = harness_limits(checked)
    if limits:
        print(render_diagnostics(checked, limits), file=sys.stderr)
        return ExitCode.ERRORS
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


def cmd_train(args: argparse.Namespace) -> int:
    """``specc train SPEC``: emit the training script into a run folder and run it."""
    from specc.report import render_diagnostics
    from specc.training import train_command

    checked = _read(args.spec)
    if not checked.ok:
        print(render_diagnostics(checked), file=sys.stderr)
        return ExitCode.ERRORS
    _print_warnings(checked)
    return train_command(checked, args)


def cmd_port_weights(args: argparse.Namespace) -> int:
    """``specc port-weights SPEC --from FILE --to FILE``: convert weights between frameworks."""
    from specc.training import require_frameworks

    refusal = require_frameworks(list(BACKENDS), "port-weights")
    if refusal:
        print(refusal, file=sys.stderr)
        return ExitCode.USAGE
    from specc.port_weights import port_command
    from specc.report import render_diagnostics

    checked = _read(args.spec)
    if not checked.ok:
        print(render_diagnostics(checked), file=sys.stderr)
        return ExitCode.ERRORS
    _print_warnings(checked)
    return port_command(checked, args)


def cmd_export(args: argparse.Namespace) -> int:
    """``specc export SPEC --format onnx -o FILE``: the model as an ONNX file."""
    from specc.bridge.commands import BadUsage, export_command
    from specc.report import render_diagnostics

    checked = _read(args.spec)
    if not checked.ok:
        print(render_diagnostics(checked), file=sys.stderr)
        return ExitCode.ERRORS
    try:
        return export_command(checked, args)
    except BadUsage as exc:
        raise UsageError(str(exc)) from None


def cmd_import(args: argparse.Namespace) -> int:
    """``specc import FILE [-o SPEC] [--weights FILE]``: a Keras or ONNX model as a spec."""
    from specc.bridge.commands import BadUsage, import_command
    from specc.bridge.graph import NotAModel

    try:
        return import_command(args)
    except (BadUsage, NotAModel) as exc:
        raise UsageError(str(exc)) from None


def cmd_graph(args: argparse.Namespace) -> int:
    """``specc graph SPEC [-o FILE]``: draw the model as SVG, PNG or DOT (stdout: SVG)."""
    from specc.diagram.output import PngUnavailable, choose_format, render, write_output
    from specc.report import render_diagnostics

    try:
        fmt = choose_format(args.output, args.format)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.depth is not None and args.depth < 0:
        raise UsageError("--depth takes a whole number, 0 or more")
    to_stdout = args.output in (None, "-")
    if to_stdout and fmt == "png" and sys.stdout.isatty():
        raise UsageError("a PNG is binary: write it to a file with -o FILE.png")
    checked = _read(args.spec)
    if not checked.ok:
        print(render_diagnostics(checked), file=sys.stderr)
        return ExitCode.ERRORS
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


def cmd_layers(args: argparse.Namespace) -> int:
    """``specc layers``: list every layer kind with its usage."""
    from specc.layers import REGISTRY
    from specc.layers.base import ALIASES

    by_kind: dict[str, list[str]] = {}
    for alias, kind in ALIASES.items():
        by_kind.setdefault(kind, []).append(alias)
    width = max(len(name) for name in REGISTRY) + 2
    for name in sorted(REGISTRY):
        kind = REGISTRY[name]
        aliases = ", ".join(sorted(by_kind.get(name, [])))
        suffix = f"  (also: {aliases})" if aliases else ""
        print(f"{name:<{width}}{kind.summary}{suffix}")
    return ExitCode.OK


def cmd_explain(args: argparse.Namespace) -> int:
    """``specc explain [CODE]``: the long explanation of a diagnostic code, with an example;
    without a code, every code with its title."""
    from specc import error_codes

    if args.code is None:
        print(error_codes.listing(), end="")
        return ExitCode.OK
    entry = error_codes.lookup(args.code)
    if entry is None:
        raise UsageError(_unknown_code(args.code))
    print(error_codes.render(entry, error_codes.example_report(entry)), end="")
    return ExitCode.OK


def _unknown_code(written: str) -> str:
    """Why ``written`` has no explanation, with the closest code when there is one."""
    from specc import error_codes
    from specc.diagnostics import closest

    code = error_codes.normalize(written)
    if code is None:
        return (
            f"`{written}` is not an error code: codes look like E0301 (`specc explain` lists them)"
        )
    close = closest(code, error_codes.codes())
    hint = f"did you mean {close}?" if close else "`specc explain` lists every code"
    return f"no error code {code}: {hint}"


def cmd_lsp(args: argparse.Namespace) -> int:
    """``specc lsp``: run the language server on stdin/stdout (for editors)."""
    try:
        from specc.lsp.server import serve
    except ModuleNotFoundError as exc:  # pygls is an optional dependency
        if exc.name not in ("pygls", "lsprotocol", "cattrs", "attrs"):
            raise
        raise UsageError(f"specc lsp needs pygls: pip install 'specc[lsp]' ({exc})") from None
    serve()
    return ExitCode.OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="specc",
        description="Check, emit and train neural-network model specs.",
    )
    parser.add_argument("--version", action="version", version=f"specc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="validate specs; print shapes, parameters and MACs")
    check.add_argument("specs", nargs="+", metavar="SPEC")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument("--explain", action="store_true", help="show the arithmetic of each size")
    check.set_defaults(func=cmd_check)

    fmt = sub.add_parser("fmt", help="rewrite specs in canonical layout, keeping comments")
    fmt.add_argument("specs", nargs="+", metavar="SPEC")
    fmt.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a file would change"
    )
    fmt.set_defaults(func=cmd_fmt)

    emit = sub.add_parser("emit", help="write standalone Keras or PyTorch source")
    emit.add_argument("spec", metavar="SPEC")
    emit.add_argument("--backend", "-b", choices=(*BACKENDS, "all"), required=True)
    emit.add_argument(
        "-o", "--output", metavar="PATH", help="file to write (default: stdout); a folder for all"
    )
    emit.add_argument(
        "--train",
        action="store_true",
        help="write a run folder into -o DIR: the model, config.json, train.py and the harness",
    )
    emit.set_defaults(func=cmd_emit)

    train = sub.add_parser("train", help="train the emitted model on real data")
    train.add_argument("spec", metavar="SPEC")
    train.add_argument("--backend", "-b", choices=BACKENDS, default="torch")
    add_flags(train, defaults=None)  # the run's flags: one definition with RUN/train.py's
    train.set_defaults(func=cmd_train)

    port = sub.add_parser("port-weights", help="convert trained weights between frameworks")
    port.add_argument("spec", metavar="SPEC")
    port.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="FILE",
        help=".weights.h5 / .keras (Keras) or .pt (PyTorch state_dict)",
    )
    port.add_argument("--to", dest="target", required=True, metavar="FILE")
    port.set_defaults(func=cmd_port_weights)

    export = sub.add_parser("export", help="write the model as an ONNX file")
    export.add_argument("spec", metavar="SPEC")
    export.add_argument("--format", "-f", choices=("onnx",), default="onnx")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="the .onnx file")
    export.add_argument(
        "--weights",
        metavar="FILE",
        help="weights of the emitted model: .pt state_dict, or Keras .weights.h5 / .keras "
        "(default: freshly initialised)",
    )
    export.add_argument("--opset", type=int, default=20, help="ONNX opset, 18 to 23 (default 20)")
    export.add_argument(
        "--no-verify", action="store_true", help="skip comparing ONNX Runtime with PyTorch"
    )
    export.set_defaults(func=cmd_export)

    imp = sub.add_parser("import", help="read a Keras .keras or ONNX model into a spec")
    imp.add_argument("model", metavar="FILE", help="a .keras or .onnx model")
    imp.add_argument("-o", "--output", metavar="SPEC", help="spec file to write (default: stdout)")
    imp.add_argument(
        "--weights",
        metavar="FILE",
        help="also write the model's weights for the spec's emitted model: .weights.h5 (Keras) "
        "or .pt (PyTorch)",
    )
    imp.set_defaults(func=cmd_import)

    graph = sub.add_parser("graph", help="draw the model: SVG, PNG or DOT")
    graph.add_argument("spec", metavar="SPEC")
    graph.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="file to write; .svg, .png or .dot picks the format (default: SVG on stdout)",
    )
    graph.add_argument("--format", "-f", choices=("svg", "png", "dot"))
    graph.add_argument(
        "--depth",
        type=int,
        metavar="N",
        help="open block instances N levels deep, draw deeper ones as one box (default: all)",
    )
    graph.add_argument(
        "--direction",
        type=str.upper,
        choices=("TB", "LR"),
        default="TB",
        help="TB: top to bottom (default), LR: left to right",
    )
    graph.set_defaults(func=cmd_graph)

    layers = sub.add_parser("layers", help="list the layer kinds")
    layers.set_defaults(func=cmd_layers)

    explain = sub.add_parser("explain", help="explain an error code, with an example")
    explain.add_argument(
        "code", nargs="?", metavar="CODE", help="e.g. E0301; without it, list every code"
    )
    explain.set_defaults(func=cmd_explain)

    lsp = sub.add_parser("lsp", help="run the language server on stdio (for editors)")
    # editors' clients pass --stdio; stdio is the only transport
    lsp.add_argument("--stdio", action="store_true", help=argparse.SUPPRESS)
    lsp.set_defaults(func=cmd_lsp)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status instead of raising."""
    return _dispatch(build_parser().parse_args(argv))


def run() -> NoReturn:
    """The ``specc`` console script: run the command line and end the process.

    ``check``, ``emit``, ``fmt`` and ``layers`` hold nothing that needs tearing down, and the
    interpreter's teardown (freeing every object pydantic and Lark created, ~30 ms) takes longer
    than checking a spec: once their output is flushed, the process ends at once.  They also
    run without the cyclic garbage collector.
    """
    args = build_parser().parse_args()
    quick = args.func in QUICK_COMMANDS and _nothing_reports_at_exit()
    if quick:
        # Most of what a quick command allocates is imported classes and functions that live
        # until the end: the cyclic collector's passes over them free nothing (~7% of a check).
        gc.disable()
    status = _dispatch(args)
    if quick:
        _exit_now(status)
    sys.exit(status)


def _nothing_reports_at_exit() -> bool:
    """False when a tool watching this process reports at interpreter exit.

    ``-X importtime``/``PYTHONPROFILEIMPORTTIME`` (written by C's stdio), ``-X dev`` and other
    ``-X`` options, and coverage.py (which saves its data in an exit handler) need the
    interpreter's normal end.
    """
    return not (
        sys._xoptions
        or sys.flags.dev_mode
        or os.environ.get("PYTHONPROFILEIMPORTTIME")
        or "coverage" in sys.modules
    )


def _exit_now(status: int) -> NoReturn:
    """Flush the standard streams and end the process without the interpreter's teardown."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away, as with `specc check x | head -1`
        pass
    except OSError as exc:  # e.g. a full disk under `> file`: the output is incomplete
        print(f"specc: error: cannot write the output: {exc.strerror}", file=sys.stderr)
        status = status or ExitCode.USAGE
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    os._exit(status)


def _dispatch(args: argparse.Namespace) -> int:
    """Run the command ``args`` selects; returns its exit status instead of raising."""
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"specc: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        print("specc: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        return ExitCode.OK
    except OSError as exc:  # the file system refused: a full disk, a read-only folder, ...
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"specc: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return ExitCode.USAGE
    except Exception as exc:
        if os.environ.get("SPECC_DEBUG"):
            raise
        print(
            f"specc: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in specc; rerun with SPECC_DEBUG=1 for the traceback.",
            file=sys.stderr,
        )
        return ExitCode.INTERNAL


# Commands that only read specs and write text or files they have already closed.
QUICK_COMMANDS = frozenset({cmd_check, cmd_emit, cmd_fmt, cmd_graph, cmd_layers})
