"""What every command shares: the usage error, and reading and checking a spec file.

The imports of the front end are deferred to the first spec read, so that a command that reads
none (``specc layers``, ``specc explain``) never loads it.
"""

from __future__ import annotations

import sys


class UsageError(Exception):
    """A problem with how specc was called rather than with a spec."""


class SpecHasErrors(Exception):
    """The spec has errors, already shown on stderr: the command ends with exit status 1."""


def read_spec(path: str):
    """The spec file at ``path``, or a :class:`UsageError` saying why it cannot be read."""
    from specc.source import SourceReadError, read_source

    try:
        return read_source(path)
    except SourceReadError as exc:
        raise UsageError(str(exc)) from None


def check_spec_file(path: str):
    """The spec file at ``path``, checked (a :class:`UsageError` when it cannot be read)."""
    from specc.compiler import check_source

    return check_source(read_spec(path))


def valid_spec(path: str, *, warnings: bool = True):
    """The spec file at ``path``, checked and free of errors; its errors shown on stderr and
    :class:`SpecHasErrors` raised otherwise (its warnings shown too, with ``warnings``)."""
    from specc.report import render_diagnostics

    checked = check_spec_file(path)
    if not checked.ok:
        print(render_diagnostics(checked), file=sys.stderr)
        raise SpecHasErrors
    if warnings:
        print_warnings(checked)
    return checked


def print_warnings(checked) -> None:
    """A valid spec's warnings, on stderr, so that the command's output stays as it was."""
    from specc.report import render_warnings

    text = render_warnings(checked)
    if text:
        print(text, file=sys.stderr)
