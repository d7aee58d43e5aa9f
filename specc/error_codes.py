"""The error-code catalogue: a long explanation of every diagnostic code, with an example.

One Markdown file per code, ``explanations/E0301.md`` (shipped in the wheel as
``specc/explanations``), as rustc keeps its ``error_codes/E0308.md``.  A file reads::

    # E0301: short title

    What the error means, why specc refuses it, the usual fixes...

    ```spec,error
    a spec that raises E0301
    ```

    ```spec
    the same spec, corrected (optional)
    ```

A code that no spec can raise on its own says so in a paragraph starting with
:data:`NOT_FROM_A_SPEC` instead of giving a ``spec,error`` example.  ``explanations/README.md``
describes the format for contributors; ``tests/test_error_codes.py`` holds every entry to it.

Only ``specc explain``, the tests and the language server read the catalogue: ``specc check``
never imports this module (its hint line names ``specc explain`` without loading anything).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from itertools import groupby
from pathlib import Path

from specc.resources import data_dir

# The code ranges, by the first three characters of a code.
RANGES = {
    "E01": "syntax",
    "E02": "names and arguments",
    "E03": "shapes",
    "E04": "the train section and data",
    "E05": "blocks and topology",
    "E06": "what a backend cannot express",
    "W03": "implausible sizes",
    "W05": "the model's graph",
    "W06": "what a backend cannot express",
    "E07": "importing models",
}
NOT_FROM_A_SPEC = "No spec alone raises this code:"
ERRONEOUS_FENCE = "spec,error"
CORRECTED_FENCE = "spec"
EXAMPLE_FILE = "example.spec"  # the file name diagnostics of an example show

_CODE_FILE = re.compile(r"^[A-Z]\d{4}\.md$")
_TITLE = re.compile(r"^# ([A-Z]\d{4}): (.+)$")
_WRITTEN_CODE = re.compile(r"^([A-Za-z]?)(\d{1,4})$")


class CatalogueError(Exception):
    """An explanation file that does not follow the format (a bug in the catalogue)."""


@dataclass(frozen=True)
class Entry:
    """One code's explanation.

    ``text`` is the Markdown after the title line, examples included; ``example`` is the
    erroneous spec and ``corrected`` its fixed version (both without the fences);
    ``not_from_a_spec`` is the reason when no spec alone raises the code (then ``example`` is
    None).
    """

    code: str
    title: str
    text: str
    example: str | None
    corrected: str | None
    not_from_a_spec: str | None


def explanations_dir() -> Path:
    """The folder of explanation files (``explanations/`` in a checkout)."""
    return data_dir("explanations")


@cache
def codes() -> tuple[str, ...]:
    """Every code that has an explanation, sorted."""
    return tuple(sorted(p.stem for p in explanations_dir().iterdir() if _CODE_FILE.match(p.name)))


def normalize(written: str) -> str | None:
    """The code as the catalogue spells it (``e0301``, ``0301``, ``301`` -> ``E0301``).

    None when ``written`` does not look like a code at all.
    """
    match = _WRITTEN_CODE.match(written.strip())
    if match is None:
        return None
    letter, digits = match.groups()
    return f"{(letter or 'E').upper()}{int(digits):04d}"


@cache
def lookup(code: str) -> Entry | None:
    """The entry of ``code`` (any spelling :func:`normalize` accepts), or None if it has none."""
    canonical = normalize(code)
    if canonical is None or canonical not in codes():
        return None
    path = explanations_dir() / f"{canonical}.md"
    return parse_entry(canonical, path.read_text(encoding="utf-8"))


def entries() -> list[Entry]:
    """Every entry of the catalogue, sorted by code."""
    return [lookup(code) for code in codes()]


def parse_entry(code: str, markdown: str) -> Entry:
    """Read one explanation file; :class:`CatalogueError` says what breaks the format."""
    lines = markdown.rstrip("\n").split("\n")
    title = _TITLE.match(lines[0]) if lines else None
    if title is None or title.group(1) != code:
        raise CatalogueError(f"{code}.md must start with a line `# {code}: short title`")
    blocks = _fenced_blocks(code, lines[1:])
    examples = [text for info, text in blocks if info == ERRONEOUS_FENCE]
    corrected = [text for info, text in blocks if info == CORRECTED_FENCE]
    reasons = [
        _paragraph(lines, i)[len(NOT_FROM_A_SPEC) :].strip()
        for i, line in enumerate(lines)
        if line.startswith(NOT_FROM_A_SPEC)
    ]
    if len(examples) > 1 or len(corrected) > 1:
        raise CatalogueError(f"{code}.md has more than one ```{ERRONEOUS_FENCE} or ```spec block")
    if bool(examples) == bool(reasons):
        raise CatalogueError(
            f"{code}.md needs either one ```{ERRONEOUS_FENCE} example or a line "
            f"`{NOT_FROM_A_SPEC} <why>` (not both)"
        )
    return Entry(
        code=code,
        title=title.group(2).strip(),
        text="\n".join(lines[1:]).strip("\n"),
        example=examples[0] if examples else None,
        corrected=corrected[0] if corrected else None,
        not_from_a_spec=reasons[0] if reasons else None,
    )


def _paragraph(lines: list[str], start: int) -> str:
    """The paragraph that starts at ``lines[start]``, joined into one line."""
    end = start
    while end < len(lines) and lines[end].strip():
        end += 1
    return " ".join(line.strip() for line in lines[start:end])


def _fenced_blocks(code: str, lines: list[str]) -> list[tuple[str, str]]:
    """The ``(info string, text)`` of every fenced block; the text has no final newline."""
    blocks: list[tuple[str, str]] = []
    info: str | None = None
    body: list[str] = []
    for line in lines:
        if info is None and line.startswith("```"):
            info, body = line[3:].strip(), []
        elif info is not None and line.rstrip() == "```":
            blocks.append((info, "\n".join(body)))
            info = None
        elif info is not None:
            body.append(line)
    if info is not None:
        raise CatalogueError(f"{code}.md has a ``` block that is never closed")
    return blocks


def render(entry: Entry, report: str = "") -> str:
    """The entry as terminal text: fences become indented blocks.

    ``report`` (what ``specc check`` prints for the erroneous example) follows that example.
    """
    out = [f"{entry.code}: {entry.title}", ""]
    in_block: str | None = None
    for line in entry.text.split("\n"):
        if in_block is None and line.startswith("```"):
            in_block = line[3:].strip()
        elif in_block is not None and line.rstrip() == "```":
            if in_block == ERRONEOUS_FENCE and report:
                out += ["", "specc check reports:", ""]
                out += [f"    {r}".rstrip() for r in report.split("\n")]
            in_block = None
        elif in_block is not None:
            out.append(f"    {line}".rstrip())
        else:
            out.append(line)
    return "\n".join(out).rstrip() + "\n"


def example_report(entry: Entry) -> str:
    """What ``specc check`` reports for the entry's erroneous example ("" without one)."""
    if entry.example is None:
        return ""
    from specc.compiler import check_text  # only ``specc explain`` needs the checker
    from specc.diagnostics import render_all

    checked = check_text(entry.example, EXAMPLE_FILE)
    return render_all(checked.source, checked.diagnostics)


def listing() -> str:
    """Every code with its title, grouped by range, for ``specc explain`` without a code."""
    out: list[str] = []
    for group, members in groupby(entries(), key=lambda entry: entry.code[:3]):
        out.append(f"{group}xx  {RANGES.get(group, 'other')}")
        out += [f"  {entry.code}  {entry.title}" for entry in members]
        out.append("")
    out.append("`specc explain CODE` prints the explanation of one code, with an example.")
    return "\n".join(out) + "\n"
