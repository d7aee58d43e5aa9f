"""``specc check``'s diagnostics as LSP diagnostics, and their fixes as quick fixes.

Both read the diagnostics of the check document (:func:`specc.report.to_document`, the
``--format json`` form): the same codes, spans, notes and help as on the command line.  The
primary label is the diagnostic's range; every other label (the layer whose output did not fit,
the block call sites that made a layer) is related information.  Any diagnostic with fixes
offers each as a quick fix, whatever its code.
"""

from __future__ import annotations

from lsprotocol import types as lsp

from specc.lsp.analysis import Analysis
from specc.lsp.positions import LineIndex

SEVERITIES = {"error": lsp.DiagnosticSeverity.Error, "warning": lsp.DiagnosticSeverity.Warning}


def _primary(diag: dict) -> dict | None:
    labels = diag["labels"]
    return next((lb for lb in labels if lb["primary"]), labels[0] if labels else None)


def _range(lines: LineIndex, where: dict | None) -> lsp.Range:
    if where is None:  # a diagnostic about the whole spec
        start = lsp.Position(line=0, character=0)
        return lsp.Range(start=start, end=start)
    return lsp.Range(
        start=lines.position(where["line"], where["column"]),
        end=lines.position(where["end_line"], where["end_column"]),
    )


def to_lsp(diag: dict, lines: LineIndex, uri: str) -> lsp.Diagnostic:
    """One diagnostic of the check document as an LSP diagnostic."""
    primary = _primary(diag)
    text = [diag["message"]]
    if primary is not None and primary["message"] and primary["message"] != diag["message"]:
        text.append(primary["message"])
    text += [f"note: {note}" for note in diag["notes"]]
    text += [f"help: {hint}" for hint in diag["help"]]
    related = [
        lsp.DiagnosticRelatedInformation(
            location=lsp.Location(uri=uri, range=_range(lines, label)),
            message=label["message"] or diag["message"],
        )
        for label in diag["labels"]
        if label is not primary
    ]
    return lsp.Diagnostic(
        range=_range(lines, primary),
        message="\n".join(text),
        severity=SEVERITIES.get(diag["severity"], lsp.DiagnosticSeverity.Error),
        code=diag["code"],
        source="specc",
        related_information=related or None,
        data={"fixes": diag["fixes"]} if diag.get("fixes") else None,
    )


def diagnostics(analysis: Analysis, lines: LineIndex, uri: str) -> list[lsp.Diagnostic]:
    """Every diagnostic of the document, in the check's order."""
    return [to_lsp(d, lines, uri) for d in analysis.document["diagnostics"]]


def _overlaps(a: lsp.Range, b: lsp.Range) -> bool:
    def key(p: lsp.Position) -> tuple[int, int]:
        return (p.line, p.character)

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def quick_fixes(
    analysis: Analysis, lines: LineIndex, uri: str, wanted: lsp.Range
) -> list[lsp.CodeAction]:
    """A quick fix for every fix of every diagnostic whose range touches ``wanted``."""
    actions = []
    for diag in analysis.document["diagnostics"]:
        if not diag.get("fixes"):
            continue
        converted = to_lsp(diag, lines, uri)
        if not _overlaps(converted.range, wanted):
            continue
        for fix in diag["fixes"]:
            edit = lsp.TextEdit(range=_range(lines, fix), new_text=fix["replacement"])
            actions.append(
                lsp.CodeAction(
                    title=fix["title"],
                    kind=lsp.CodeActionKind.QuickFix,
                    diagnostics=[converted],
                    edit=lsp.WorkspaceEdit(changes={uri: [edit]}),
                    is_preferred=len(diag["fixes"]) == 1,
                )
            )
    return actions
