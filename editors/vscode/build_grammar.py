"""Write ``syntaxes/specc.tmLanguage.json``, the TextMate grammar that highlights specs.

The names of layer kinds (with their aliases), activations and bare words come from specc's
layer registry, so that a new kind is highlighted once this script runs again;
``tests/test_editor_grammar.py`` fails while the committed grammar differs from what it writes.

    PYTHONPATH=. .venv/bin/python editors/vscode/build_grammar.py

The patterns keep to what Oniguruma (VS Code) and Python's ``re`` read alike -- classes, ``\\b``,
lookarounds, no ``\\G``, no named groups -- so that the test can tokenize with ``re``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from specc.layers import ACTIVATIONS, REGISTRY, all_names

HERE = Path(__file__).resolve().parent
TARGET = HERE / "syntaxes" / "specc.tmLanguage.json"
KEYWORDS = (
    "model",
    "input",
    "block",
    "repeat",
    "residual",
    "shortcut",
    "branch",
    "if",
    "else",
    "train",
    "sequential",  # `sequential NAME { ... }`, a named group (the lead's branch)
)
NAME = r"[A-Za-z_][A-Za-z0-9_]*"


def alternation(names) -> str:
    """A regex alternative of whole words, longest first (``relu6`` before ``relu``)."""
    ordered = sorted(set(names), key=lambda n: (-len(n), n))
    return r"\b(?:" + "|".join(re.escape(n) for n in ordered) + r")\b(?![.(])"


def kinds() -> list[str]:
    """The names a layer line may start with, except activations and keywords."""
    return sorted(set(all_names()) - set(ACTIVATIONS) - set(KEYWORDS))


def bare_words() -> list[str]:
    """The kinds' bare words that are not activations (``same``, ``valid``, ...)."""
    words = {word for kind in REGISTRY.values() for word in kind.words}
    return sorted(words - set(ACTIVATIONS) - set(kinds()))


def _punctuation() -> list[dict]:
    return [
        {"match": r"\{", "name": "punctuation.section.block.begin.specc"},
        {"match": r"\}", "name": "punctuation.section.block.end.specc"},
        {"match": r"\(", "name": "punctuation.section.parens.begin.specc"},
        {"match": r"\)", "name": "punctuation.section.parens.end.specc"},
        {"match": ",", "name": "punctuation.separator.comma.specc"},
        {"match": ";", "name": "punctuation.terminator.statement.specc"},
    ]


def grammar() -> dict:
    """The grammar as a JSON-ready dict."""
    return {
        "$schema": "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
        "name": "specc",
        "scopeName": "source.specc",
        "fileTypes": ["spec"],
        "patterns": [
            {"include": "#comment"},
            {"include": "#train"},
            {"include": "#block-definition"},
            {"include": "#model"},
            {"include": "#items"},
        ],
        "repository": {
            "comment": {"match": "#.*$", "name": "comment.line.number-sign.specc"},
            "string": {"match": r'"(?:[^"\\]|\\.)*"', "name": "string.quoted.double.specc"},
            "model": {
                "match": rf"\b(model)\s+({NAME})\b",
                "captures": {
                    "1": {"name": "keyword.control.model.specc"},
                    "2": {"name": "entity.name.type.model.specc"},
                },
            },
            "train": {
                "begin": r"\b(train)\s*(\{)",
                "beginCaptures": {
                    "1": {"name": "keyword.control.train.specc"},
                    "2": {"name": "punctuation.section.block.begin.specc"},
                },
                "end": r"\}",
                "endCaptures": {"0": {"name": "punctuation.section.block.end.specc"}},
                "name": "meta.train.specc",
                "patterns": [
                    {"include": "#comment"},
                    {
                        "match": rf"(?:^|(?<=[;{{]))\s*({NAME})\b",
                        "captures": {"1": {"name": "variable.other.property.setting.specc"}},
                    },
                    {"include": "#items"},
                ],
            },
            "block-definition": {
                "begin": rf"\b(block)\s+({NAME})(\()",
                "beginCaptures": {
                    "1": {"name": "keyword.control.block.specc"},
                    "2": {"name": "entity.name.function.block.specc"},
                    "3": {"name": "punctuation.section.parens.begin.specc"},
                },
                "end": r"\)",
                "endCaptures": {"0": {"name": "punctuation.section.parens.end.specc"}},
                "name": "meta.block.header.specc",
                "patterns": [
                    {"include": "#comment"},
                    {"include": "#string"},
                    {"include": "#constants"},
                    {"include": "#numbers"},
                    {"match": NAME, "name": "variable.parameter.specc"},
                    {"match": "=", "name": "keyword.operator.assignment.specc"},
                    {"match": ",", "name": "punctuation.separator.comma.specc"},
                ],
            },
            "items": {
                "patterns": [
                    {"include": "#comment"},
                    {"include": "#string"},
                    {
                        "match": r"\b(?:" + "|".join(KEYWORDS) + r")\b(?![.(=])",
                        "name": "keyword.control.specc",
                    },
                    {
                        "match": rf"\b({NAME})(\()",
                        "captures": {
                            "1": {"name": "entity.name.function.call.specc"},
                            "2": {"name": "punctuation.section.parens.begin.specc"},
                        },
                    },
                    {
                        "match": rf"\b({NAME})\s*(=)(?!=)",
                        "captures": {
                            "1": {"name": "variable.parameter.key.specc"},
                            "2": {"name": "keyword.operator.assignment.specc"},
                        },
                    },
                    {"include": "#constants"},
                    {"match": r"\b(?:and|or|not)\b", "name": "keyword.operator.logical.specc"},
                    {
                        "match": alternation(ACTIVATIONS),
                        "name": "support.function.activation.specc",
                    },
                    {"match": alternation(kinds()), "name": "support.type.layer.specc"},
                    {"match": alternation(bare_words()), "name": "constant.language.word.specc"},
                    {"include": "#numbers"},
                    {"match": r"==|!=|>=|<=|//|[<>+\-*/]", "name": "keyword.operator.specc"},
                    *_punctuation(),
                    {"match": r"[A-Za-z_][A-Za-z0-9_.]*", "name": "variable.other.specc"},
                ]
            },
            "constants": {
                "match": r"\b(?:true|false|none)\b",
                "name": "constant.language.boolean.specc",
            },
            "numbers": {
                "patterns": [
                    {
                        "match": r"(?<![\w.])\d+(?:x\d+)+(?![A-Za-z0-9_])",
                        "name": "constant.numeric.size.specc",
                    },
                    {  # the literal axes of a size with computed ones: `1x1x(c)`, `(h)x(w)x3`
                        "match": r"(?<![\w.])\d+(?:x\d+)*x(?=\()|(?<=\))x(?:\d+(?:x\d+)*"
                        r"(?![A-Za-z0-9_])|(?=\())",
                        "name": "constant.numeric.size.specc",
                    },
                    {
                        "match": r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?",
                        "name": "constant.numeric.specc",
                    },
                ]
            },
        },
    }


def render() -> str:
    """The grammar file's text."""
    return json.dumps(grammar(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """Write the grammar file."""
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
