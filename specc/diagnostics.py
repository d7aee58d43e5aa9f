"""Diagnostics: located errors with labels, notes and help, rendered rustc/Elm style or as JSON.

Every pass reports problems by appending :class:`Diagnostic` objects to a list instead of
raising, so that one run reports every error in a file.  :func:`render` is the single text
renderer; :func:`to_json` is its machine-readable twin.  A diagnostic may carry :class:`Fix`
objects: concrete edits that resolve it, which the language server offers as quick fixes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from specc.source import SourceFile, Span


class Label(BaseModel):
    """A span with a short message; primary labels are underlined with ``^``, others ``-``."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    span: Span
    message: str = ""
    primary: bool = False


class Fix(BaseModel):
    """A concrete edit that resolves a diagnostic: write ``replacement`` where ``span`` is.

    An empty span (same line, ``column == end_column``) inserts before that column; an empty
    replacement deletes.  ``title`` says what the edit does (``replace `dens` with `dense```).
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    title: str
    span: Span
    replacement: str


def replace_with(span: Span, replacement: str, title: str = "") -> Fix:
    """A fix that replaces the text ``span`` covers, e.g. with a did-you-mean candidate."""
    return Fix(title=title or f"replace with `{replacement}`", span=span, replacement=replacement)


def did_you_mean(span: Span | None, written: str, candidate: str | None) -> Fix | None:
    """The fix for a misspelt name: replace ``written`` at ``span`` with ``candidate``.

    None when there is no candidate (or no span), so that a call site can always pass
    ``fixes=did_you_mean(span, name, closest(name, names))``.
    """
    if candidate is None or span is None:
        return None
    return replace_with(span, candidate, f"change `{written}` to `{candidate}`")


def insert_at(line: int, column: int, file: str, text: str, title: str) -> Fix:
    """A fix that inserts ``text`` before ``column`` of ``line`` (1-based)."""
    return Fix(title=title, span=Span(file, line, column, line, column), replacement=text)


class Diagnostic(BaseModel):
    """One problem found in a spec."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    code: str
    message: str
    labels: tuple[Label, ...] = ()
    notes: tuple[str, ...] = ()
    help: tuple[str, ...] = ()
    severity: Literal["error", "warning"] = "error"
    fixes: tuple[Fix, ...] = ()

    @property
    def primary_span(self) -> Span | None:
        """The span the diagnostic points at, if any."""
        for label in self.labels:
            if label.primary:
                return label.span
        return self.labels[0].span if self.labels else None


def error(
    code: str,
    message: str,
    span: Span | None,
    label: str = "",
    *,
    related: tuple[tuple[Span, str], ...] = (),
    notes: tuple[str, ...] = (),
    help: tuple[str, ...] | str = (),
    fixes: tuple[Fix, ...] | Fix | None = (),
) -> Diagnostic:
    """Build an error diagnostic pointing at ``span`` with optional secondary labels.

    ``fixes`` are edits that resolve it (see :class:`Fix`); ``None`` entries are dropped, so
    a call site can pass ``fixes=(fix if close else None)``.
    """
    labels = [] if span is None else [Label(span=span, message=label, primary=True)]
    labels += [Label(span=s, message=m) for s, m in related if s is not None]
    return Diagnostic(
        code=code,
        message=message,
        labels=tuple(labels),
        notes=tuple(notes),
        help=(help,) if isinstance(help, str) else tuple(help),
        fixes=_fixes(fixes),
    )


def _fixes(fixes: tuple[Fix | None, ...] | Fix | None) -> tuple[Fix, ...]:
    if fixes is None:
        return ()
    if isinstance(fixes, Fix):
        return (fixes,)
    return tuple(f for f in fixes if f is not None)


class SpecError(Exception):
    """Raised by the high-level API when a spec has errors; carries every diagnostic."""

    def __init__(self, source: SourceFile, diagnostics: list[Diagnostic]):
        self.source = source
        self.diagnostics = diagnostics
        super().__init__(render_all(source, diagnostics))


def closest(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate most like ``word``, when one is close enough for a "did you mean" hint."""
    import difflib  # only when there is a mistake to explain: a valid spec never needs it

    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=cutoff)
    return matches[0] if matches else None


def friendly_message(err: dict) -> str:
    """A pydantic validation error as a short phrase: ``must be greater than 0``."""
    ctx = err.get("ctx") or {}
    kind = err["type"]
    if kind == "greater_than":
        return f"must be greater than {ctx.get('gt')}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind == "less_than":
        return f"must be less than {ctx.get('lt')}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be a whole number"
    if kind in ("tuple_type", "too_long", "too_short"):
        return "has the wrong number of values"
    if kind == "bool_type" or kind == "bool_parsing":
        return "must be true or false"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return err["msg"].lower()


def render_all(source: SourceFile, diagnostics: list[Diagnostic]) -> str:
    """Render several diagnostics separated by blank lines."""
    return "\n\n".join(render(source, d) for d in diagnostics)


def render(source: SourceFile, diag: Diagnostic) -> str:
    """Render one diagnostic as text, with the source lines it points at."""
    head = f"{diag.severity}[{diag.code}]: {diag.message}"
    primary = diag.primary_span
    if primary is None:
        lines = [head]
        lines += [f"  = note: {n}" for n in diag.notes]
        lines += [f"  = help: {h}" for h in diag.help]
        return "\n".join(lines)

    in_file = sorted(
        (lb for lb in diag.labels if lb.span.file == source.name),
        key=lambda lb: (lb.span.line, not lb.primary, lb.span.column),
    )
    width = len(str(max(lb.span.line for lb in in_file))) if in_file else 1
    pad = " " * width
    out = [head, f"{pad}--> {primary}", f"{pad} |"]
    previous_line = None
    for label in in_file:
        line_no = label.span.line
        if line_no != previous_line:
            if previous_line is not None and line_no > previous_line + 1:
                out.append(f"{pad} ...")
            out.append(f"{line_no:>{width}} | {_display(source.line(line_no))}".rstrip())
            previous_line = line_no
        out.append(f"{pad} | {_underline(source.line(line_no), label)}".rstrip())
    for label in diag.labels:
        if label.span.file != source.name:
            out.append(f"{pad} = {label.span}: {label.message}")
    if diag.notes or diag.help:
        out.append(f"{pad} |")
    out += [f"{pad} = note: {n}" for n in diag.notes]
    out += [f"{pad} = help: {h}" for h in diag.help]
    return "\n".join(out)


def _display(text: str) -> str:
    return text.replace("\t", "    ")


def _underline(text: str, label: Label) -> str:
    span = label.span
    start = len(_display(text[: span.column - 1]))
    if span.end_line == span.line:
        end = len(_display(text[: max(span.end_column - 1, span.column)]))
    else:
        end = len(_display(text.rstrip()))
    marker = "^" if label.primary else "-"
    mark = marker * max(end - start, 1)
    return f"{' ' * start}{mark} {label.message}"


def to_json(diag: Diagnostic) -> dict:
    """The diagnostic as plain data for ``--format json``."""
    primary = diag.primary_span
    return {
        "severity": diag.severity,
        "code": diag.code,
        "message": diag.message,
        "file": primary.file if primary else None,
        "line": primary.line if primary else None,
        "column": primary.column if primary else None,
        "labels": [
            {
                "file": lb.span.file,
                "line": lb.span.line,
                "column": lb.span.column,
                "end_line": lb.span.end_line,
                "end_column": lb.span.end_column,
                "message": lb.message,
                "primary": lb.primary,
            }
            for lb in diag.labels
        ],
        "notes": list(diag.notes),
        "help": list(diag.help),
        "fixes": [
            {
                "title": fix.title,
                "file": fix.span.file,
                "line": fix.span.line,
                "column": fix.span.column,
                "end_line": fix.span.end_line,
                "end_column": fix.span.end_column,
                "replacement": fix.replacement,
            }
            for fix in diag.fixes
        ],
    }
