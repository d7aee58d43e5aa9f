"""The language server: pygls on stdio, one :class:`Analysis` per document text.

Checks run one at a time on a worker thread (the parser is not shared between threads), so the
server keeps reading messages while a check runs.  A change starts a check at once -- a check
costs milliseconds, so a debounce would only delay the diagnostics -- and changes that arrive
while it runs are coalesced: when it finishes, a stale result is not published and the latest
text is checked instead.  Diagnostics are published with the version they belong to.
Requests (hover, hints, ...) wait for the analysis of the current text the same way.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from specc import __version__
from specc.lsp import completion, hover, navigation
from specc.lsp.analysis import Analysis
from specc.lsp.context import cursor_context
from specc.lsp.diagnostics import diagnostics, quick_fixes
from specc.lsp.hints import inlay_hints
from specc.lsp.positions import LineIndex

logger = logging.getLogger("specc.lsp")
REQUEST_FAILED = -32803  # LSP's RequestFailed: a valid request the server refuses


class SpeccServer(LanguageServer):
    """pygls's server with a checking thread and a cache of checked texts."""

    def __init__(self) -> None:
        super().__init__(
            "specc", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Full
        )
        self.checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="specc-check")
        self.analyses: dict[str, tuple[str, Analysis, LineIndex]] = {}
        self.publishing: dict[str, asyncio.Task] = {}

    def encoding(self) -> str:
        """The position encoding agreed with the client."""
        return str(self.workspace.position_encoding or "utf-16")

    def text(self, uri: str) -> str:
        """The document's current text."""
        return self.workspace.get_text_document(uri).source

    async def current(self, uri: str, facts: bool = True) -> tuple[Analysis, LineIndex]:
        """The analysis of the document's current text, checked on the worker if needed.

        With ``facts``, its layer facts are ready too (after syntax errors they take a second
        check, which the diagnostics do not wait for).
        """
        text = self.text(uri)
        cached = self.analyses.get(uri)
        if cached is not None and (cached[0] is text or cached[0] == text):
            analysis, lines = cached[1], cached[2]
        else:
            name = to_fs_path(uri) or uri
            analysis, lines = await self.run_checker(_analyse, text, name, self.encoding())
            if uri in self.workspace.text_documents:  # not closed meanwhile
                self.analyses[uri] = (text, analysis, lines)
        if facts and not analysis.facts_ready:
            await self.run_checker(getattr, analysis, "facts")
        return analysis, lines

    async def run_checker(self, function, *args):
        """Run ``function`` on the checking thread (anything that parses goes there)."""
        return await asyncio.get_running_loop().run_in_executor(self.checker, function, *args)

    def schedule(self, uri: str) -> None:
        """Check and publish ``uri`` unless a check of it is already running (which then
        publishes the latest text instead of its own)."""
        if uri not in self.publishing:
            self.publishing[uri] = asyncio.ensure_future(self.publish(uri))

    async def publish(self, uri: str) -> None:
        """Send the diagnostics of the document's latest text."""
        try:
            while True:
                document = self.workspace.text_documents.get(uri)
                if document is None:  # closed meanwhile
                    return
                version = document.version
                analysis, lines = await self.current(uri, facts=False)
                if document.version != version or uri not in self.workspace.text_documents:
                    continue  # changed while it was checked: check the latest text instead
                found = diagnostics(analysis, lines, uri)
                self.text_document_publish_diagnostics(
                    lsp.PublishDiagnosticsParams(uri=uri, diagnostics=found, version=version)
                )
                return
        except Exception as exc:  # a bug in specc: say so, keep serving
            logger.exception("checking %s failed", uri)
            self.window_log_message(
                lsp.LogMessageParams(type=lsp.MessageType.Error, message=f"specc: {exc!r}")
            )
        finally:
            self.publishing.pop(uri, None)


def _analyse(text: str, name: str, encoding: str) -> tuple[Analysis, LineIndex]:
    analysis = Analysis(text, name)
    if analysis.checked.program:  # parsed: the facts are this check's, nothing to parse
        _ = analysis.facts
    return analysis, LineIndex(text, encoding)


def _format(text: str, name: str) -> str | None:
    from specc.diagnostics import SpecError
    from specc.formatter import format_source

    try:
        return format_source(text, name)
    except SpecError:  # syntax errors: nothing to format, as `specc fmt` refuses too
        return None


def build_server() -> SpeccServer:
    """A server with every feature registered."""
    server = SpeccServer()

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: SpeccServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: SpeccServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: SpeccServer, params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.analyses.pop(uri, None)
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(lsp.TEXT_DOCUMENT_INLAY_HINT)
    async def inlay_hint(ls: SpeccServer, params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
        analysis, lines = await ls.current(params.text_document.uri)
        return inlay_hints(analysis, lines, params.range)

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    async def on_hover(ls: SpeccServer, params: lsp.HoverParams) -> lsp.Hover | None:
        analysis, lines = await ls.current(params.text_document.uri)
        text = hover.hover_text(analysis, *lines.location(params.position))
        if text is None:
            return None
        return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text))

    @server.feature(
        lsp.TEXT_DOCUMENT_COMPLETION,
        lsp.CompletionOptions(trigger_characters=[" ", "=", "(", ","]),
    )
    def on_completion(ls: SpeccServer, params: lsp.CompletionParams) -> lsp.CompletionList:
        text = ls.text(params.text_document.uri)
        lines = LineIndex(text, ls.encoding())
        ctx = cursor_context(text, _offset(lines, params.position))
        items = completion.complete(ctx, text, _snippets(ls.client_capabilities))
        return lsp.CompletionList(is_incomplete=False, items=items)

    @server.feature(
        lsp.TEXT_DOCUMENT_SIGNATURE_HELP,
        lsp.SignatureHelpOptions(trigger_characters=["(", ","], retrigger_characters=["="]),
    )
    def on_signature_help(
        ls: SpeccServer, params: lsp.SignatureHelpParams
    ) -> lsp.SignatureHelp | None:
        text = ls.text(params.text_document.uri)
        lines = LineIndex(text, ls.encoding())
        return completion.signature_help(
            cursor_context(text, _offset(lines, params.position)), text
        )

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    async def on_definition(ls: SpeccServer, params: lsp.DefinitionParams) -> lsp.Location | None:
        analysis, lines = await ls.current(params.text_document.uri)
        span = navigation.definition(analysis, *lines.location(params.position))
        if span is None:
            return None
        return lsp.Location(uri=params.text_document.uri, range=lines.range(span))

    @server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
    async def on_references(ls: SpeccServer, params: lsp.ReferenceParams) -> list[lsp.Location]:
        analysis, lines = await ls.current(params.text_document.uri)
        spans = navigation.references(
            analysis, *lines.location(params.position), params.context.include_declaration
        )
        return [lsp.Location(uri=params.text_document.uri, range=lines.range(s)) for s in spans]

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT)
    async def on_highlight(
        ls: SpeccServer, params: lsp.DocumentHighlightParams
    ) -> list[lsp.DocumentHighlight]:
        analysis, lines = await ls.current(params.text_document.uri)
        found = navigation.highlights(analysis, *lines.location(params.position))
        Kind = lsp.DocumentHighlightKind
        return [
            lsp.DocumentHighlight(range=lines.range(s), kind=Kind.Write if d else Kind.Read)
            for s, d in found
        ]

    @server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
    async def on_prepare_rename(ls: SpeccServer, params: lsp.PrepareRenameParams):
        analysis, lines = await ls.current(params.text_document.uri)
        found = navigation.renameable(analysis, *lines.location(params.position))
        if found is None:
            return None
        return lsp.PrepareRenamePlaceholder(
            range=lines.range(found.span), placeholder=found.symbol.name
        )

    @server.feature(lsp.TEXT_DOCUMENT_RENAME, lsp.RenameOptions(prepare_provider=True))
    async def on_rename(ls: SpeccServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit:
        analysis, lines = await ls.current(params.text_document.uri)
        try:
            spans = navigation.rename(analysis, *lines.location(params.position), params.new_name)
        except navigation.RenameError as exc:  # the client shows the message
            raise JsonRpcException(str(exc), code=REQUEST_FAILED) from None
        edits = [lsp.TextEdit(range=lines.range(s), new_text=params.new_name) for s in spans]
        return lsp.WorkspaceEdit(changes={params.text_document.uri: edits})

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    async def on_symbols(ls: SpeccServer, params: lsp.DocumentSymbolParams) -> list:
        analysis, lines = await ls.current(params.text_document.uri)
        return navigation.outline(analysis, lines)

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    async def on_formatting(
        ls: SpeccServer, params: lsp.DocumentFormattingParams
    ) -> list[lsp.TextEdit]:
        text = ls.text(params.text_document.uri)
        name = to_fs_path(params.text_document.uri) or params.text_document.uri
        formatted = await ls.run_checker(_format, text, name)
        if formatted is None or formatted == text:
            return []
        return [lsp.TextEdit(range=LineIndex(text, ls.encoding()).whole(), new_text=formatted)]

    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]),
    )
    async def on_code_action(ls: SpeccServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        analysis, lines = await ls.current(params.text_document.uri)
        return quick_fixes(analysis, lines, params.text_document.uri, params.range)

    return server


def _snippets(capabilities: lsp.ClientCapabilities) -> bool:
    """Whether the client takes snippets (``basic(${1:f})``) as completions."""
    document = capabilities.text_document
    item = document.completion.completion_item if document and document.completion else None
    return bool(item and item.snippet_support)


def _offset(lines: LineIndex, position: lsp.Position) -> int:
    """The character offset of an LSP position in the document's text."""
    line, column = lines.location(position)
    return sum(len(text) + 1 for text in lines.lines[: line - 1]) + column - 1


def _not_a_refusal(record: logging.LogRecord) -> bool:
    """False for pygls's log of a request the server refused on purpose (a rename to a taken
    name): the client shows the reason; the log would call it an exception."""
    error = record.exc_info[1] if record.exc_info else None
    return not (isinstance(error, JsonRpcException) and error.code == REQUEST_FAILED)


def serve() -> None:
    """Run the server on stdin/stdout until the client says exit."""
    logging.basicConfig(level=logging.WARNING, format="specc lsp: %(levelname)s %(message)s")
    logging.getLogger("pygls.protocol.json_rpc").addFilter(_not_a_refusal)
    build_server().start_io()
