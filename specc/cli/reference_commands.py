"""The commands that describe specc itself: ``layers`` (the layer kinds), ``explain`` (the
diagnostic codes) and ``lsp`` (the language server, for editors).
"""

from __future__ import annotations

import argparse

from specc.cli.common import UsageError
from specc.exit_codes import ExitCode


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
