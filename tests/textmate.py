"""A small TextMate tokenizer, enough to check specc's highlighting grammar in Python.

It implements what ``editors/vscode/syntaxes/specc.tmLanguage.json`` uses: ``match`` rules with
``name`` and ``captures``, ``begin``/``end`` rules with their captures, nested ``patterns``, and
``include`` of repository rules and ``$self``.  Like vscode-textmate it reads a line at a time
(each with its newline), tries the current rule's ``end`` first and then its patterns in order,
and takes the match that starts first.  The regexes are run with Python's ``re``: the grammar
keeps to the syntax it shares with Oniguruma.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class _Frame:
    rule: dict
    scopes: tuple[str, ...]
    end: re.Pattern | None = None


@dataclass
class Token:
    """A run of characters of one line and the scopes it has, outermost first."""

    line: int  # 0-based
    start: int
    end: int
    scopes: tuple[str, ...]
    text: str = field(default="")


class Grammar:
    """A loaded grammar that tokenizes text."""

    def __init__(self, data: dict):
        self.data = data
        self.repository = data.get("repository", {})
        self._compiled: dict[str, re.Pattern] = {}

    def _regex(self, source: str) -> re.Pattern:
        if source not in self._compiled:
            self._compiled[source] = re.compile(source)
        return self._compiled[source]

    def _flatten(self, patterns: list[dict], seen: tuple = ()) -> list[dict]:
        rules = []
        for pattern in patterns:
            include = pattern.get("include")
            if include is None:
                if "match" in pattern or "begin" in pattern:
                    rules.append(pattern)
                if "patterns" in pattern and "begin" not in pattern:
                    rules += self._flatten(pattern["patterns"], seen)
                continue
            if include in seen:
                continue
            if include == "$self":
                rules += self._flatten(self.data["patterns"], (*seen, include))
            elif include.startswith("#"):
                rules += self._flatten([self.repository[include[1:]]], (*seen, include))
            else:
                raise ValueError(f"include {include!r} is not supported")
        return rules

    def tokenize(self, text: str) -> list[Token]:
        """Every token of ``text``, line by line, in order."""
        stack = [_Frame({"patterns": self.data["patterns"]}, (self.data["scopeName"],))]
        tokens: list[Token] = []
        for number, line in enumerate(text.split("\n")):
            tokens += self._line(number, line + "\n", stack)
        return tokens

    def _line(self, number: int, line: str, stack: list[_Frame]) -> list[Token]:
        scopes: list[tuple[str, ...]] = [()] * len(line)
        pos = 0
        while pos < len(line):
            frame = stack[-1]
            best = None
            if frame.end is not None:
                m = frame.end.search(line, pos)
                if m:
                    best = (m, None)
            for rule in self._flatten(frame.rule.get("patterns", [])):
                m = self._regex(rule.get("match") or rule["begin"]).search(line, pos)
                if m and (best is None or m.start() < best[0].start()):
                    best = (m, rule)
            if best is None:
                for i in range(pos, len(line)):
                    scopes[i] = frame.scopes
                break
            m, rule = best
            for i in range(pos, m.start()):
                scopes[i] = frame.scopes
            if rule is None:  # the end of the current begin/end rule
                self._paint(scopes, m, frame.scopes, frame.rule.get("endCaptures", {}))
                stack.pop()
            elif "match" in rule:
                own = (*frame.scopes, *([rule["name"]] if "name" in rule else []))
                self._paint(scopes, m, own, rule.get("captures", {}))
            else:
                own = (*frame.scopes, *([rule["name"]] if "name" in rule else []))
                self._paint(scopes, m, own, rule.get("beginCaptures", {}))
                stack.append(_Frame(rule, own, self._regex(rule["end"])))
            pos = m.end() if m.end() > pos else pos + 1
        return self._runs(number, line, scopes)

    @staticmethod
    def _paint(scopes: list, match: re.Match, base: tuple, captures: dict) -> None:
        for i in range(match.start(), match.end()):
            scopes[i] = base
        for group, capture in sorted(captures.items(), key=lambda kv: int(kv[0])):
            start, end = match.span(int(group))
            for i in range(max(start, 0), end):
                scopes[i] = (*base, capture["name"])

    @staticmethod
    def _runs(number: int, line: str, scopes: list) -> list[Token]:
        tokens: list[Token] = []
        for i, scope in enumerate(scopes[:-1]):  # not the newline
            if tokens and tokens[-1].scopes == scope and tokens[-1].end == i:
                tokens[-1].end = i + 1
                tokens[-1].text += line[i]
            else:
                tokens.append(Token(number, i, i + 1, scope, line[i]))
        return tokens
