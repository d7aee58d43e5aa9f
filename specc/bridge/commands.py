"""The ``specc export`` and ``specc import`` commands: arguments in, files and messages out.

Both write nothing unless everything succeeded: the ONNX file, the spec and the weights are
each written atomically, the spec after its weights.  Errors are reported as diagnostics
(E0601 located in the spec for export, E0701/E0702 for a model specc cannot express), or as
one ``specc: error:`` line; the exit status is :class:`specc.exit_codes.ExitCode`'s.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from specc.exit_codes import ExitCode


class BadUsage(Exception):
    """How the command was called: a flag out of range, a file of the wrong kind, an optional
    dependency that is not installed (exit status 2)."""


def require(*modules: str, extra: str) -> None:
    """Raise :class:`BadUsage` unless every module can be imported."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise BadUsage(f"this needs {', '.join(missing)}: pip install 'specc[{extra}]'")


def export_command(checked, args) -> int:
    """``specc export SPEC --format onnx -o FILE``; returns the exit status."""
    from specc.bridge.export import OPSETS, ExportError, export_diagnostics, export_onnx
    from specc.bridge.weights import WeightsError
    from specc.report import render_diagnostics

    if args.opset not in OPSETS:
        raise BadUsage(f"--opset takes {OPSETS.start} to {OPSETS.stop - 1}, not {args.opset}")
    limits = export_diagnostics(checked)
    if limits:  # a valid spec that the exporter cannot express, located
        print(render_diagnostics(checked, limits), file=sys.stderr)
        return ExitCode.ERRORS
    modules = ["torch", "onnx", "onnxscript"] + ([] if args.no_verify else ["onnxruntime"])
    require(*modules, extra="onnx,torch")
    if args.weights and not args.weights.lower().endswith((".pt", ".pth")):
        require("keras", extra="keras")
    try:
        done = export_onnx(
            checked, args.output, weights=args.weights, opset=args.opset, verify=not args.no_verify
        )
    except (ExportError, WeightsError) as exc:
        print(f"specc: error: {exc}", file=sys.stderr)
        return ExitCode.ERRORS
    checked_by = (
        f"ONNX Runtime within {done.difference:.1g} of PyTorch"
        if done.difference is not None
        else "not run"
    )
    print(
        f"wrote {done.path} (ONNX opset {done.opset}, {done.nodes} nodes, batch axis dynamic; "
        f"{checked_by})",
        file=sys.stderr,
    )
    return ExitCode.OK


def import_command(args) -> int:
    """``specc import FILE [-o SPEC] [--weights FILE]``; returns the exit status."""
    from specc.bridge.graph import ImportFailure
    from specc.bridge.importer import SpecDoesNotCheck, file_format, import_model
    from specc.fsutil import atomic_write

    if not Path(args.model).is_file():
        raise BadUsage(f"no such file: {args.model}")
    framework = file_format(args.model)
    if framework == "onnx":
        require("onnx", extra="onnx")
    if args.weights:
        _weights_target(args.weights, framework)
    to_stdout = args.output in (None, "-")
    spec_name = "<stdout>" if to_stdout else args.output
    try:
        imported = import_model(args.model, spec_name)
    except ImportFailure as exc:
        print(_render(exc, args.model), file=sys.stderr)
        return ExitCode.ERRORS
    except SpecDoesNotCheck as exc:
        print(f"specc: internal error: {exc}; this is a bug in specc", file=sys.stderr)
        return ExitCode.INTERNAL
    for warning in imported.graph.warnings:
        print(f"specc: warning: {warning}", file=sys.stderr)
    if args.weights:
        status = _write_weights(imported, args)
        if status:
            return status
    if to_stdout:
        sys.stdout.write(imported.text)
    else:
        atomic_write(args.output, imported.text)
    totals = imported.checked.totals()
    where = "the spec to stdout" if to_stdout else args.output
    print(
        f"wrote {where} ({imported.checked.model.name}: {len(imported.checked.model.nodes)} "
        f"layers, {totals['params']:,} parameters)",
        file=sys.stderr,
    )
    return ExitCode.OK


def _weights_target(path: str, framework: str) -> str:
    """The framework of the weights file to write; its packages must be installed."""
    from specc.bridge.weights import WeightsError, output_kind

    try:
        target = output_kind(path)
    except WeightsError as exc:
        raise BadUsage(str(exc)) from None
    if path.lower().endswith(".keras"):
        raise BadUsage("write Keras weights as .weights.h5: the spec is the model")
    needs = {"torch" if target == "torch" else "keras"}
    if framework == "keras":
        needs.add("keras")
    require(*sorted(needs), extra="all")
    return target


def _write_weights(imported, args) -> int:
    from specc.bridge.weights import WeightsError, attach_keras_weights, write_weights

    try:
        if imported.framework == "keras":
            attach_keras_weights(imported.graph, args.model, imported.checked)
        write_weights(imported, args.weights)
    except WeightsError as exc:
        print(f"specc: error: {exc}; nothing was written", file=sys.stderr)
        return ExitCode.ERRORS
    print(f"wrote {args.weights} (weights of the spec's emitted model)", file=sys.stderr)
    return ExitCode.OK


def _render(exc, path: str) -> str:
    from specc.diagnostics import Diagnostic, render
    from specc.report import explain_hint
    from specc.source import SourceFile

    diagnostic = Diagnostic(
        code=exc.code,
        message=exc.message,
        notes=exc.notes,
        help=(exc.help,) if exc.help else (),
    )
    return f"{render(SourceFile(path, ''), diagnostic)}\n\n{explain_hint([exc.code])}"
