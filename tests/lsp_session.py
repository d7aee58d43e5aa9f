"""Helpers for the language server's end-to-end tests: a real client (pytest-lsp) drives
``python -m specc lsp`` over stdio.

Positions are computed here independently of the server: by encoding the text before a point
in UTF-16 (or UTF-8) and counting code units.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient

ROOT = Path(__file__).resolve().parent.parent
SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "specc", "lsp"])
PUBLISH = lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS
UNITS = {"utf-16": ("utf-16-le", 2), "utf-8": ("utf-8", 1), "utf-32": ("utf-32-le", 4)}


def units(text: str, encoding: str = "utf-16") -> int:
    """The length of ``text`` in code units of an LSP position encoding."""
    codec, size = UNITS[encoding]
    return len(text.encode(codec)) // size


def position_at(text: str, offset: int, encoding: str = "utf-16") -> lsp.Position:
    """The LSP position of a character offset."""
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    return lsp.Position(line=line, character=units(text[start:offset], encoding))


def find(text: str, needle: str, after: int = 0, nth: int = 0) -> lsp.Position:
    """The position of the start of the ``nth`` occurrence of ``needle`` (plus ``after``)."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    return position_at(text, offset + after)


def offset_of(text: str, position: lsp.Position, encoding: str = "utf-16") -> int:
    """The character offset of an LSP position."""
    lines = text.split("\n")
    start = sum(len(line) + 1 for line in lines[: position.line])
    line = lines[position.line] if position.line < len(lines) else ""
    for i in range(len(line) + 1):
        if units(line[:i], encoding) >= position.character:
            return start + i
    return start + len(line)


def apply_edits(text: str, edits, encoding: str = "utf-16") -> str:
    """``text`` with LSP text edits applied (non-overlapping, as servers send them)."""
    spans = [
        (offset_of(text, e.range.start, encoding), offset_of(text, e.range.end, encoding), e)
        for e in edits
    ]
    for start, end, edit in sorted(spans, key=lambda s: s[0], reverse=True):
        text = text[:start] + edit.new_text + text[end:]
    return text


def doc(uri: str) -> lsp.TextDocumentIdentifier:
    """The identifier of an open document."""
    return lsp.TextDocumentIdentifier(uri=uri)


def whole(text: str) -> lsp.Range:
    """A range covering every line of ``text``."""
    return lsp.Range(
        start=lsp.Position(line=0, character=0),
        end=lsp.Position(line=text.count("\n") + 1, character=0),
    )


async def published(client: LanguageClient, uri: str, version: int, send) -> list:
    """Call ``send()`` and return the diagnostics the server publishes for ``version``."""
    sent = False
    while True:
        future = client.protocol.wait_for_notification(PUBLISH)
        if not sent:
            send()
            sent = True
        params = await asyncio.wait_for(asyncio.wrap_future(future), timeout=30)
        if params.uri == uri and params.version == version:
            return list(params.diagnostics)


async def open_spec(client: LanguageClient, uri: str, text: str) -> list:
    """Open a document and return its first diagnostics."""
    item = lsp.TextDocumentItem(uri=uri, language_id="specc", version=1, text=text)
    params = lsp.DidOpenTextDocumentParams(text_document=item)
    return await published(client, uri, 1, lambda: client.text_document_did_open(params))


async def change_spec(client: LanguageClient, uri: str, version: int, text: str) -> list:
    """Replace a document's text and return the diagnostics of the new version."""
    params = lsp.DidChangeTextDocumentParams(
        text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
    )
    return await published(client, uri, version, lambda: client.text_document_did_change(params))


def uri_of(name: str) -> str:
    """A file URI for a test document (it need not exist: the server reads the client's text)."""
    return (ROOT / "tests" / "lsp-documents" / name).as_uri()
