"""The argument parser of every subcommand, each bound to the function that runs it."""

from __future__ import annotations

import argparse

from specc import __version__
from specc.cli.framework_commands import cmd_export, cmd_import, cmd_port_weights, cmd_train
from specc.cli.reference_commands import cmd_explain, cmd_layers, cmd_lsp
from specc.cli.spec_commands import cmd_check, cmd_emit, cmd_fmt, cmd_graph
from specc.harness.backends import NAMES as BACKENDS
from specc.harness.flags import add_flags


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
