"""Diagnostics: located errors with labels, notes and help, rendered rustc/Elm style or as JSON.

Every pass reports problems by appending :class:`Diagnostic` objects to a list instead of
raising, so that one run reports every error in a file.  :func:`render` is the single text
renderer; :func:`to_json` is its machine-readable twin.  A diagnostic may carry :class:`Fix`
objects: concrete edits that resolve it, which the language server offers as quick fixes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from specc.limits import (
    MAX_ECHO_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_REPORTED_DIAGNOSTICS,
    MAX_SHOWN_COLUMNS,
)
from specc.source import SourceFile, Span

_LONG_WORD = re.compile(rf"\S{{{MAX_ECHO_CHARS + 1},}}")


def excerpt(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    """``text`` if it has at most ``limit`` characters, else its start, "…" and its end."""
    if len(text) <= limit:
        return text
    head = (limit - 1) * 2 // 3
    return f"{text[:head]}…{text[len(text) - (limit - 1 - head) :]}"


def bounded(text: str) -> str:
    """A message as a diagnostic quotes it: every word and the whole bounded (specc.limits)."""
    if len(text) <= MAX_ECHO_CHARS:
        return text
    return excerpt(_LONG_WORD.sub(lambda m: excerpt(m.group()), text), MAX_MESSAGE_CHARS)


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
    severity: Literal["error", "warning"] = "error",
) -> Diagnostic:
    """Build an error diagnostic pointing at ``span`` with optional secondary labels.

    ``fixes`` are edits that resolve it (see :class:`Fix`); ``None`` entries are dropped, so
    a call site can pass ``fixes=(fix if close else None)``.  Every text is :func:`bounded`: a
    message that quotes a huge input keeps an excerpt of it.
    """
    labels = [] if span is None else [Label(span=span, message=bounded(label), primary=True)]
    labels += [Label(span=s, message=bounded(m)) for s, m in related if s is not None]
    return Diagnostic(
        code=code,
        message=bounded(message),
        labels=tuple(labels),
        notes=tuple(bounded(n) for n in notes),
        help=(bounded(help),) if isinstance(help, str) else tuple(bounded(h) for h in help),
        fixes=_fixes(fixes),
        severity=severity,
    )


def warning(
    code: str,
    message: str,
    span: Span | None,
    label: str = "",
    *,
    related: tuple[tuple[Span, str], ...] = (),
    notes: tuple[str, ...] = (),
    help: tuple[str, ...] | str = (),
) -> Diagnostic:
    """Build a warning: reported like an error, but the spec stays valid."""
    return error(
        code, message, span, label, related=related, notes=notes, help=help, severity="warning"
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
        super().__init__(render_all(source, diagnostics, MAX_REPORTED_DIAGNOSTICS))


def format_count(n: int) -> str:
    """A count as a message or table shows it: ``1,234,567``, or ``6.50e31`` once it has more
    than 21 digits (never converting a huge integer to its decimal digits)."""
    if -(10**21) < n < 10**21:
        return f"{n:,}"
    import math

    sign, n = ("-" if n < 0 else ""), abs(n)
    exponent = int(math.log10(n))
    mantissa = n // 10 ** (exponent - 2)
    while mantissa >= 1000:  # log10 of a huge integer may be off by one either way
        exponent += 1
        mantissa = n // 10 ** (exponent - 2)
    while mantissa < 100:
        exponent -= 1
        mantissa = n // 10 ** (exponent - 2)
    return f"{sign}{mantissa // 100}.{mantissa % 100:02d}e{exponent}"


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


def render_all(source: SourceFile, diagnostics: list[Diagnostic], limit: int | None = None) -> str:
    """Render several diagnostics separated by blank lines (the first ``limit`` of them, and
    a line saying how many more there are)."""
    shown = diagnostics if limit is None else diagnostics[:limit]
    text = "\n\n".join(render(source, d) for d in shown)
    if len(shown) < len(diagnostics):
        text += f"\n\n... and {len(diagnostics) - len(shown):,} more, not shown"
    return text


def render(source: SourceFile, diag: Diagnostic) -> str:
    """Render one diagnostic as text, with the source lines it points at."""
    head = f"{diag.severity}[{diag.code}]: {bounded(diag.message)}"
    primary = diag.primary_span
    if primary is None:
        lines = [head]
        lines += [f"  = note: {bounded(n)}" for n in diag.notes]
        lines += [f"  = help: {bounded(h)}" for h in diag.help]
        return "\n".join(lines)

    in_file = sorted(
        (lb for lb in diag.labels if lb.span.file == source.name),
        key=lambda lb: (lb.span.line, not lb.primary, lb.span.column),
    )
    width = len(str(max(lb.span.line for lb in in_file))) if in_file else 1
    pad = " " * width
    out = [head, f"{pad}--> {primary}", f"{pad} |"]
    previous_line = None
    window = (0, 0)
    for label in in_file:
        line_no = label.span.line
        text = source.line(line_no)
        if line_no != previous_line:
            if previous_line is not None and line_no > previous_line + 1:
                out.append(f"{pad} ...")
            window = _window(text, [lb for lb in in_file if lb.span.line == line_no])
            out.append(f"{line_no:>{width}} | {_shown(text, window)}".rstrip())
            previous_line = line_no
        out.append(f"{pad} | {_underline(text, label, window)}".rstrip())
    for label in diag.labels:
        if label.span.file != source.name:
            out.append(f"{pad} = {label.span}: {bounded(label.message)}")
    if diag.notes or diag.help:
        out.append(f"{pad} |")
    out += [f"{pad} = note: {bounded(n)}" for n in diag.notes]
    out += [f"{pad} = help: {bounded(h)}" for h in diag.help]
    return "\n".join(out)


def _label_columns(text: str, label: Label) -> tuple[int, int]:
    """The 0-based character range of ``text`` a label underlines (to the end of the line when
    its span goes on to a later line); never empty."""
    span = label.span
    start = span.column - 1
    end = span.end_column - 1 if span.end_line == span.line else len(text.rstrip())
    return start, max(end, start + 1)


def _window(text: str, labels: list[Label]) -> tuple[int, int]:
    """Which characters of a source line to show: all of a short line, else at most
    ``MAX_SHOWN_COLUMNS`` around its labels (the primary one first)."""
    if len(text) <= MAX_SHOWN_COLUMNS:
        return 0, len(text)
    ranges = [_label_columns(text, lb) for lb in labels]
    lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
    context = (MAX_SHOWN_COLUMNS - (hi - lo)) // 2
    if hi - lo > MAX_SHOWN_COLUMNS:  # show the start of the primary label, after some context
        focus = next((lb for lb in labels if lb.primary), labels[0])
        lo = _label_columns(text, focus)[0]
        context = min(lo, 16)
    start = max(0, min(lo - context, len(text) - MAX_SHOWN_COLUMNS))
    return start, min(len(text), start + MAX_SHOWN_COLUMNS)


def _shown(text: str, window: tuple[int, int]) -> str:
    start, end = window
    before = "…" if start > 0 else ""
    after = "…" if end < len(text) else ""
    return before + _display(text[start:end]) + after


def _display(text: str) -> str:
    """Source text as the terminal should show it: tabs as spaces, and characters that would
    not show or would reorder the line (controls, bidirectional overrides, zero-width
    characters) as ``<U+202E>``."""
    text = text.replace("\t", "    ")
    if text.isascii() and text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"<U+{ord(c):04X}>" for c in text)


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal: East Asian wide characters take two."""
    if text.isascii():
        return len(text)
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _underline(text: str, label: Label, window: tuple[int, int]) -> str:
    first, last = _label_columns(text, label)
    cut_left, cut_right = window[0] > 0, window[1] < len(text)
    if (cut_left and last <= window[0]) or (cut_right and first >= window[1]):  # not shown
        marker = "^" if label.primary else "-"
        return f"{marker} {bounded(label.message)} (column {label.span.column})"
    start, end = max(first, window[0]), min(last, window[1])
    lead = "…" if window[0] > 0 else ""
    left = _width(lead + _display(text[window[0] : start]))
    mark_width = _width(_display(text[start:end]))
    marker = "^" if label.primary else "-"
    mark = marker * max(mark_width, 1)
    return f"{' ' * left}{mark} {bounded(label.message)}"


def to_json(diag: Diagnostic) -> dict:
    """The diagnostic as plain data for ``--format json``."""
    primary = diag.primary_span
    return {
        "severity": diag.severity,
        "code": diag.code,
        "message": bounded(diag.message),
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
                "message": bounded(lb.message),
                "primary": lb.primary,
            }
            for lb in diag.labels
        ],
        "notes": [bounded(n) for n in diag.notes],
        "help": [bounded(h) for h in diag.help],
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
