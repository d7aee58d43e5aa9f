"""The commands that hand a spec to other software: ``train``, ``port-weights`` (the
frameworks), ``export`` and ``import`` (ONNX, Keras configs).

Each imports what it needs only when it runs, and ``port-weights`` first checks that both
frameworks are installed.
"""

from __future__ import annotations

import argparse
import sys

from specc.cli.common import UsageError, valid_spec
from specc.exit_codes import ExitCode
from specc.harness.backends import NAMES as BACKENDS


def cmd_train(args: argparse.Namespace) -> int:
    """``specc train SPEC``: emit the training script into a run folder and run it."""
    from specc.training import train_command

    checked = valid_spec(args.spec)
    return train_command(checked, args)


def cmd_port_weights(args: argparse.Namespace) -> int:
    """``specc port-weights SPEC --from FILE --to FILE``: convert weights between frameworks."""
    from specc.training import require_frameworks

    refusal = require_frameworks(list(BACKENDS), "port-weights")
    if refusal:
        print(refusal, file=sys.stderr)
        return ExitCode.USAGE
    from specc.port_weights import port_command

    checked = valid_spec(args.spec)
    return port_command(checked, args)


def cmd_export(args: argparse.Namespace) -> int:
    """``specc export SPEC --format onnx -o FILE``: the model as an ONNX file."""
    from specc.bridge.commands import BadUsage, export_command

    checked = valid_spec(args.spec, warnings=False)
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
