"""``specc lsp``'s diagnostics are ``specc check``'s, in the client's position encoding, and the
server never imports TensorFlow or PyTorch; navigation follows layers read by name.  A real
client drives the server over stdio.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.golden_diagnostics import corpus_specs, display_path, run_check
from tests.lsp_session import (
    ROOT,
    SERVER,
    change_spec,
    doc,
    find,
    open_spec,
    units,
    uri_of,
    whole,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
SPECS = sorted((ROOT / "specs").glob("*.spec"))


@pytest_lsp.fixture(scope="module", config=SERVER)
async def client(lsp_client: LanguageClient):
    params = lsp.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
    await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()


def check_json(path: Path) -> dict:
    """What `specc check --format json PATH` prints."""
    status, out, err = run_check(["check", "--format", "json", display_path(path)])
    assert status in (0, 1), err
    return json.loads(out)


def lsp_range(text: str, label: dict, encoding: str = "utf-16") -> lsp.Range:
    """The range of a JSON label (1-based, code points) in an LSP position encoding."""
    lines = text.split("\n")

    def position(line: int, column: int) -> lsp.Position:
        return lsp.Position(line=line - 1, character=units(lines[line - 1][: column - 1], encoding))

    return lsp.Range(
        start=position(label["line"], label["column"]),
        end=position(label["end_line"], label["end_column"]),
    )


@pytest.mark.parametrize("path", corpus_specs() + SPECS, ids=lambda p: p.stem)
async def test_diagnostics_are_those_of_specc_check(client: LanguageClient, path: Path):
    text = path.read_text(encoding="utf-8")
    found = await open_spec(client, path.as_uri(), text)
    expected = check_json(path)["diagnostics"]
    assert len(found) == len(expected)
    for got, want in zip(found, expected, strict=True):
        assert got.code == want["code"]
        assert got.severity == lsp.DiagnosticSeverity.Error
        labels = want["labels"]
        primary = next((lb for lb in labels if lb["primary"]), labels[0] if labels else None)
        if primary is not None:
            assert got.range == lsp_range(text, primary)
        lines = got.message.split("\n")
        assert lines[0] == want["message"]
        for note in want["notes"]:
            assert f"note: {note}" in lines
        for hint in want["help"]:
            assert f"help: {hint}" in lines
        others = [lb for lb in labels if lb is not primary]
        related = got.related_information or []
        assert [r.message for r in related] == [lb["message"] or want["message"] for lb in others]
        assert [r.location.range for r in related] == [lsp_range(text, lb) for lb in others]
        fixes = [{k: v for k, v in f.items() if k != "file"} for f in want["fixes"]]
        sent = [
            {k: v for k, v in f.items() if k != "file"} for f in (got.data or {}).get("fixes", [])
        ]
        assert sent == fixes


# Comments in other scripts, strings with characters outside the Basic Multilingual Plane before
# the mistakes and names on their line (an emoji is one code point, two UTF-16 code units and four
# UTF-8 bytes), and a last line that is a comment (the "no input" error spans the whole spec).
NON_ASCII = (
    "# Résumé: ein Modell für 数字 😀\n"
    "model unicode  # ü\n"
    "block b(f) {\n"
    '  dense 4 "😀😀" units=f relu\n'
    "}\n"
    "# 最後の行 😀😀"
)


@pytest_lsp.fixture(
    config=SERVER, params=["visual-studio-code", "neovim@v0.11.0", "emacs"], loop_scope="module"
)
async def any_client(lsp_client: LanguageClient, request):
    capabilities = client_capabilities(request.param)
    result = await lsp_client.initialize_session(lsp.InitializeParams(capabilities=capabilities))
    lsp_client.encoding = str(result.capabilities.position_encoding or "utf-16")
    yield
    await lsp_client.shutdown_session()


async def test_positions_are_in_the_clients_encoding(any_client: LanguageClient):
    encoding = any_client.encoding
    uri = uri_of("unicode.spec")
    found = await open_spec(any_client, uri, NON_ASCII)
    assert [d.code for d in found] == ["E0202"]  # no input: spans the whole spec
    last = NON_ASCII.split("\n")[-1]
    assert found[0].range.end == lsp.Position(line=5, character=units(last, encoding))
    text = NON_ASCII.replace("}\n", '}\ninput 8x8x1\ndense 10 "café 😀" bogus=1 relu\n')
    found = await change_spec(any_client, uri, 2, text)
    line = text.split("\n")[6]
    expected = {
        "E0204": (line.index('"café'), line.index(" bogus")),
        "E0205": (line.index("bogus"), line.index("bogus") + len("bogus=1")),
    }
    for diag in found:
        start, end = expected.pop(diag.code)
        assert diag.range.start == lsp.Position(line=6, character=units(line[:start], encoding))
        assert diag.range.end == lsp.Position(line=6, character=units(line[:end], encoding))
    assert not expected
    # and back: the client's positions are read in its encoding (`f` after the emoji)
    body = text.split("\n")[3]
    target = await any_client.text_document_definition_async(
        lsp.DefinitionParams(
            text_document=doc(uri),
            position=lsp.Position(line=3, character=units(body[: body.index("f relu")], encoding)),
        )
    )
    assert target is not None
    assert target.range.start == lsp.Position(line=2, character=len("block b("))


# The server runs under a probe that writes the names of every module it imported at exit.
MODULES = Path(tempfile.gettempdir()) / f"specc-lsp-modules-{os.getpid()}.txt"
PROBE = """
import atexit, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write("\\n".join(sorted(sys.modules))))
from specc.cli import main
sys.exit(main(["lsp"]))
"""


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(server_command=[sys.executable, "-c", PROBE, str(MODULES)]),
)
async def probed(lsp_client: LanguageClient):
    params = lsp.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
    await lsp_client.initialize_session(params)
    yield


# `skip` in the block body and at the top level are two layers, each read in its own scope
LAYER_REFS = (
    "block down(f) {\n"
    "  conv f 3x3 padding=same relu name=skip\n"
    "  maxpool 2\n"
    "  upsample 2\n"
    "  concat skip\n"
    "}\n"
    "input 8x8x3 name=image  # Bild 😀\n"
    "conv 4 3x3 padding=same name=skip\n"
    "down(8)\n"
    "concat skip\n"
    "conv 2 1x1 name=mask\n"
    "globalavgpool from=image\n"
    "dense 3 name=head\n"
    "output mask head\n"
)


def name_range(text: str, needle: str, after: int, nth: int = 0) -> lsp.Range:
    """The range of ``needle[after:]`` at its ``nth`` occurrence (a name, on one line)."""
    start = find(text, needle, after=after, nth=nth)
    size = units(needle[after:])
    end = lsp.Position(line=start.line, character=start.character + size)
    return lsp.Range(start=start, end=end)


async def test_navigation_through_layers_read_by_name(client: LanguageClient):
    text = LAYER_REFS
    uri = uri_of("layer_refs.spec")
    assert [d.code for d in await open_spec(client, uri, text)] == []
    block_skip = name_range(text, "name=skip", 5, nth=0)
    top_skip = name_range(text, "name=skip", 5, nth=1)
    block_use = name_range(text, "concat skip", 7, nth=0)
    top_use = name_range(text, "concat skip", 7, nth=1)

    async def definition(position: lsp.Position) -> lsp.Range:
        found = await client.text_document_definition_async(
            lsp.DefinitionParams(text_document=doc(uri), position=position)
        )
        return found.range

    assert await definition(block_use.start) == block_skip
    assert await definition(top_use.end) == top_skip  # the cursor right after the name
    assert await definition(find(text, "from=image", after=6)) == name_range(text, "=image", 1)
    head = name_range(text, "=head", 1)
    assert await definition(find(text, "output mask head", after=12)) == head
    refs = await client.text_document_references_async(
        lsp.ReferenceParams(
            text_document=doc(uri),
            position=top_skip.start,
            context=lsp.ReferenceContext(include_declaration=True),
        )
    )
    assert [r.range for r in refs] == [top_skip, top_use]
    marks = await client.text_document_document_highlight_async(
        lsp.DocumentHighlightParams(text_document=doc(uri), position=block_use.start)
    )
    Kind = lsp.DocumentHighlightKind
    assert [(m.range, m.kind) for m in marks] == [(block_skip, Kind.Write), (block_use, Kind.Read)]
    edit = await client.text_document_rename_async(
        lsp.RenameParams(text_document=doc(uri), position=top_use.start, new_name="trunk")
    )
    assert sorted((e.range.start.line, e.new_text) for e in edit.changes[uri]) == [
        (top_skip.start.line, "trunk"),
        (top_use.start.line, "trunk"),
    ]
    with pytest.raises(JsonRpcException, match="already the name of a layer"):
        await client.text_document_rename_async(
            lsp.RenameParams(text_document=doc(uri), position=top_use.start, new_name="image")
        )
    hover = await client.text_document_hover_async(
        lsp.HoverParams(text_document=doc(uri), position=top_use.start)
    )
    assert hover.contents.value.startswith("**skip** · `conv2d` → `8x8x4`")


async def test_the_server_never_imports_tensorflow_or_pytorch(probed: LanguageClient):
    MODULES.unlink(missing_ok=True)
    for path in [*SPECS, *corpus_specs()[:5]]:
        text = path.read_text(encoding="utf-8")
        uri = path.as_uri()
        await open_spec(probed, uri, text)
        at = find(text, "\n", after=1) if "\n" in text else lsp.Position(line=0, character=0)
        await probed.text_document_hover_async(lsp.HoverParams(text_document=doc(uri), position=at))
        await probed.text_document_inlay_hint_async(
            lsp.InlayHintParams(text_document=doc(uri), range=whole(text))
        )
        await probed.text_document_completion_async(
            lsp.CompletionParams(text_document=doc(uri), position=at)
        )
        await probed.text_document_document_symbol_async(
            lsp.DocumentSymbolParams(text_document=doc(uri))
        )
        await probed.text_document_formatting_async(
            lsp.DocumentFormattingParams(
                text_document=doc(uri),
                options=lsp.FormattingOptions(tab_size=2, insert_spaces=True),
            )
        )
        await probed.text_document_code_action_async(
            lsp.CodeActionParams(
                text_document=doc(uri),
                range=whole(text),
                context=lsp.CodeActionContext(diagnostics=[]),
            )
        )
    await probed.shutdown_session()  # the probe writes its list as the server exits
    modules = MODULES.read_text().split("\n")
    MODULES.unlink()
    assert "specc.lsp.server" in modules and "specc.compiler" in modules
    heavy = [m for m in modules if m.split(".")[0] in ("tensorflow", "torch", "keras", "jax")]
    assert heavy == []
