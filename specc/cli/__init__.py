"""The ``specc`` command line: check, emit, graph, train, port-weights, export, import,
layers, explain, lsp.

``check``, ``emit`` and ``graph`` import neither TensorFlow nor PyTorch; ``train``,
``port-weights`` and ``export`` import them lazily, only when run; ``import`` needs only onnx
for an ONNX file, nothing for a ``.keras`` config, and a framework only for ``--weights``.
Exit status (:class:`specc.exit_codes.ExitCode`): 0 when every spec is valid, 1 when any spec
has errors, 2 for usage errors (bad flags, files that cannot be read or written), 3 for a bug
in specc.

This package runs the command line; :mod:`specc.cli.parser` holds the arguments of every
command, and the commands are in :mod:`specc.cli.spec_commands` (check, fmt, emit, graph),
:mod:`specc.cli.framework_commands` (train, port-weights, export, import) and
:mod:`specc.cli.reference_commands` (layers, explain, lsp).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
from typing import NoReturn

from specc.cli.common import SpecHasErrors, UsageError
from specc.cli.parser import build_parser
from specc.cli.reference_commands import cmd_layers
from specc.cli.spec_commands import cmd_check, cmd_emit, cmd_fmt, cmd_graph
from specc.exit_codes import ExitCode
from specc.startup import disable_pydantic_plugins

disable_pydantic_plugins()

__all__ = ["build_parser", "main", "run"]


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
    except SpecHasErrors:
        return ExitCode.ERRORS
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
