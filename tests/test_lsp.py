"""``specc lsp`` end to end: a real LSP client (pytest-lsp) starts the server as a subprocess and
speaks to it over stdio.  What the server says is compared with ``specc check``'s JSON, the
registry and ``specc fmt`` -- never with figures typed in here.
"""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient, client_capabilities

from specc.compiler import check_text
from specc.formatter import format_source
from specc.layers import ACTIVATIONS, REGISTRY, fmt_shape
from specc.layers.base import ALIASES
from specc.report import to_document
from tests.lsp_session import (
    ROOT,
    SERVER,
    apply_edits,
    change_spec,
    doc,
    find,
    open_spec,
    position_at,
    uri_of,
    whole,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

CIFAR = (ROOT / "specs" / "cifar10_cnn.spec").read_text(encoding="utf-8")
# a spec with block calls at the top level (the ResNet-18 of specs/ before it had stages)
RESNET18 = (ROOT / "tests" / "data" / "blocks_resnet18.spec").read_text(encoding="utf-8")


@pytest_lsp.fixture(scope="module", config=SERVER)
async def client(lsp_client: LanguageClient):
    params = lsp.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
    await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()


def layer_lines(text: str) -> dict[int, list[dict]]:
    """The check document's layers of a spec, by the 1-based line they are written on."""
    by_line: dict[int, list[dict]] = {}
    for layer in to_document(check_text(text))["layers"]:
        by_line.setdefault(layer["line"], []).append(layer)
    return by_line


# -- diagnostics ------------------------------------------------------------------------------


async def test_diagnostics_on_open_and_on_every_change(client: LanguageClient):
    uri = uri_of("change.spec")
    assert await open_spec(client, uri, CIFAR) == []
    broken = CIFAR.replace("dense 64 relu", "dens 64 relu")
    found = await change_spec(client, uri, 2, broken)
    expected = to_document(check_text(broken))["diagnostics"]
    assert [d.code for d in found] == [d["code"] for d in expected] == ["E0200"]
    assert found[0].range.start == find(broken, "dens 64")
    assert found[0].range.end == find(broken, "dens 64", after=len("dens"))
    assert "did you mean `dense`?" in found[0].message
    assert found[0].severity == lsp.DiagnosticSeverity.Error and found[0].source == "specc"
    # a second mistake, then both corrected
    worse = broken.replace("conv 64 3x3 relu\nflatten", "conv 64 3x3 relu padding=ful\nflatten")
    assert [d.code for d in await change_spec(client, uri, 3, worse)] == ["E0203", "E0200"]
    assert await change_spec(client, uri, 4, CIFAR) == []


async def test_block_call_sites_are_related_information(client: LanguageClient):
    text = RESNET18.replace("zeropad 1; conv f 3x3 use_bias=false; bn", "conv f 9x9; bn", 1)
    found = await open_spec(client, uri_of("related.spec"), text)
    expected = to_document(check_text(text))["diagnostics"]
    assert [d.code for d in found] == [d["code"] for d in expected]
    first = found[0]
    sites = [r for r in first.related_information if r.message == "in this block instance"]
    json_sites = [lb for lb in expected[0]["labels"] if lb["message"] == "in this block instance"]
    assert sites and len(sites) == len(json_sites)
    for site, label in zip(sites, json_sites, strict=True):
        assert site.location.range.start == lsp.Position(
            line=label["line"] - 1, character=label["column"] - 1
        )
        assert site.location.uri == uri_of("related.spec")


# -- inlay hints ------------------------------------------------------------------------------


async def test_inlay_hints_walk_the_reference_model(client: LanguageClient):
    uri = uri_of("hints.spec")
    await open_spec(client, uri, CIFAR)
    hints = await client.text_document_inlay_hint_async(
        lsp.InlayHintParams(text_document=doc(uri), range=whole(CIFAR))
    )
    by_line = {h.position.line + 1: h for h in hints}
    lines = CIFAR.split("\n")
    layers = layer_lines(CIFAR)
    walk = []
    for line, (layer,) in layers.items():
        if layer["kind"] == "input":
            assert line not in by_line  # the input's shape is written on its line
            continue
        hint = by_line[line]
        shape = fmt_shape(tuple(layer["output_shape"]))
        assert hint.label.startswith(f"→ {shape}")
        assert (f"{layer['params']:,} params" in hint.label) == (layer["params"] > 0)
        assert hint.position.character == len(lines[line - 1].rstrip())  # at the line's end
        walk.append(shape)
    # the reference model's walk, in order: 30x30x32 -> 15x15x32 -> ... -> 1024 -> 64 -> 10
    assert walk == [
        fmt_shape(tuple(lay["output_shape"]))
        for lay in to_document(check_text(CIFAR))["layers"][1:]
    ]
    assert walk[0] == "30x30x32" and walk[5] == "1024" and walk[-1] == "10"


async def test_inlay_hints_of_block_calls_and_block_bodies(client: LanguageClient):
    uri = uri_of("hints_blocks.spec")
    await open_spec(client, uri, RESNET18)
    hints = await client.text_document_inlay_hint_async(
        lsp.InlayHintParams(text_document=doc(uri), range=whole(RESNET18))
    )
    layers = to_document(check_text(RESNET18))["layers"]
    call = find(RESNET18, "basic(128, stride=2)", after=len("basic(128, stride=2)"))
    (hint,) = [h for h in hints if h.position == call]
    made = [
        lay
        for lay in layers
        if any(s["line"] == call.line + 1 for s in lay["call_sites"])
        and any(s["column"] == 1 for s in lay["call_sites"])
    ]
    assert hint.label == (
        f"→ {fmt_shape(tuple(made[-1]['output_shape']))} · "
        f"{sum(lay['params'] for lay in made):,} params"
    )
    # a line of the block's body: one layer per instance, the distinct shapes of all of them
    body = find(RESNET18, "conv f 3x3 use_bias=false", after=len("conv f 3x3 use_bias=false"))
    (hint,) = [h for h in hints if h.position == body]
    made = [lay for lay in layers if lay["line"] == body.line + 1 and lay["column"] == 16]
    assert made and f"×{len(made)}" in hint.label
    for lay in made:
        assert fmt_shape(tuple(lay["output_shape"])) in hint.label


# -- hover ------------------------------------------------------------------------------------


async def test_hover_on_a_layer_shows_counts_and_the_arithmetic(client: LanguageClient):
    uri = uri_of("hover.spec")
    await open_spec(client, uri, CIFAR)
    checked = check_text(CIFAR)
    node = checked.model.nodes[1]
    info = checked.infos[1]
    result = await client.text_document_hover_async(
        lsp.HoverParams(text_document=doc(uri), position=find(CIFAR, "conv 32 3x3", after=1))
    )
    text = result.contents.value
    assert node.name in text and fmt_shape(info.shape) in text
    assert f"params {info.params:,}" in text and f"MACs {info.macs:,}" in text
    for line in checked.explain(1):
        assert line in text
    assert REGISTRY["conv2d"].summary in text  # on the kind's name: its usage too


async def test_hover_on_a_block_call_shows_its_expansion(client: LanguageClient):
    uri = uri_of("hover_block.spec")
    await open_spec(client, uri, RESNET18)
    at = find(RESNET18, "basic(256, stride=2)", after=3)
    result = await client.text_document_hover_async(
        lsp.HoverParams(text_document=doc(uri), position=at)
    )
    text = result.contents.value
    made = [
        lay
        for lay in to_document(check_text(RESNET18))["layers"]
        if any(s["line"] == at.line + 1 and s["column"] == 1 for s in lay["call_sites"])
    ]
    assert made
    for lay in made:
        assert lay["name"] in text
    assert f"params {sum(lay['params'] for lay in made):,}" in text
    assert f"MACs {sum(lay['macs'] for lay in made):,}" in text


# -- completion and signature help ------------------------------------------------------------


async def complete(client: LanguageClient, name: str, text: str, marker: str = "@") -> dict:
    at = text.index(marker)
    text = text.replace(marker, "", 1)
    uri = uri_of(name)
    await open_spec(client, uri, text)
    result = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=doc(uri), position=position_at(text, at))
    )
    items = result.items if isinstance(result, lsp.CompletionList) else result
    return {item.label: item for item in items}


async def test_completion_of_kinds_blocks_and_keywords(client: LanguageClient):
    text = RESNET18.replace("globalavgpool\n", "globalavgpool\n@\n")
    items = await complete(client, "complete_kinds.spec", text)
    for name, kind in REGISTRY.items():
        if name not in ("add", "concat", "input"):
            assert items[name].detail == kind.summary
    for alias in ALIASES:
        assert alias in items
    for fn in ACTIVATIONS:
        assert fn in items
    assert items["basic"].detail == "block basic(f, stride=1)"
    assert items["basic"].insert_text == "basic(${1:f})$0"  # VS Code takes snippets
    assert {"repeat", "residual", "branch", "train"} <= set(items)


async def test_completion_of_parameter_keys_from_the_schema(client: LanguageClient):
    items = await complete(client, "complete_keys.spec", "input 8x8x1\nconv 8 3x3 stride=2 @\n")
    fields = REGISTRY["conv2d"].Params.model_fields
    offered = {label[:-1] for label in items if label.endswith("=")}
    assert offered == set(fields) - {"stride"} | {"name", "from"}  # stride is already given
    assert "(default 1x1)" in items["dilation="].detail
    assert items["padding="].detail.startswith("valid | same")
    assert {"same", "valid", "relu"} <= set(items)  # the kind's bare words


async def test_completion_of_values_after_a_key(client: LanguageClient):
    items = await complete(client, "complete_values.spec", "input 8x8x1\nconv 8 3x3 padding=@\n")
    assert set(items) == {"valid", "same"}
    items = await complete(client, "complete_bool.spec", "input 8x8x1\nconv 8 3x3 use_bias=@\n")
    assert set(items) == {"true", "false"}


async def test_completion_in_the_train_section_offers_what_check_accepts(client: LanguageClient):
    spec = "input 8x8x1\nflatten\ndense 10 softmax\ntrain {\n  @\n}\n"
    settings = await complete(client, "train_settings.spec", spec)
    assert {"data", "loss", "optimizer", "epochs", "batch", "seed"} <= set(settings)
    for setting in settings:
        codes = {d.code for d in check_text(spec.replace("@", f"{setting} 1")).diagnostics}
        assert "E0402" not in codes  # a setting the train section knows
    datasets = await complete(client, "train_data.spec", spec.replace("@", "data @"))
    assert "digits" in datasets and "cifar10" in datasets
    for name in datasets:
        codes = {d.code for d in check_text(spec.replace("@", f"data {name}")).diagnostics}
        assert "E0406" not in codes
    losses = await complete(client, "train_loss.spec", spec.replace("@", "loss @"))
    for name in losses:  # a loss the harness knows (E0414, E0416: it fits another task)
        codes = {d.code for d in check_text(spec.replace("@", f"loss {name}")).diagnostics}
        assert "E0410" not in codes and codes <= {"E0414", "E0416"}
    optimizers = await complete(client, "train_opt.spec", spec.replace("@", "optimizer @"))
    assert {"adam", "sgd"} <= set(optimizers)
    for name in optimizers:
        assert check_text(spec.replace("@", f"optimizer {name}")).ok
    arguments = await complete(client, "train_args.spec", spec.replace("@", "optimizer sgd @"))
    assert "momentum=" in arguments and "beta_1=" not in arguments
    for label in arguments:
        assert check_text(spec.replace("@", f"optimizer sgd {label}0.5 momentum=0.9")).ok or (
            label == "momentum="
        )


async def test_signature_help_inside_a_block_call(client: LanguageClient):
    text = RESNET18.replace("globalavgpool\n", "basic(512, stride=2)\nglobalavgpool\n")
    uri = uri_of("signature.spec")
    await open_spec(client, uri, text)
    at = find(text, "basic(512, stride=2)\nglobal", after=len("basic(512, st"))
    result = await client.text_document_signature_help_async(
        lsp.SignatureHelpParams(text_document=doc(uri), position=at)
    )
    (signature,) = result.signatures
    assert signature.label == "basic(f, stride=1)"
    assert result.active_parameter == 1
    first = signature.parameters[0].label
    assert signature.label[first[0] : first[1]] == "f"


# -- navigation -------------------------------------------------------------------------------


async def test_definition_and_references_of_a_block(client: LanguageClient):
    uri = uri_of("navigate.spec")
    await open_spec(client, uri, RESNET18)
    call = find(RESNET18, "basic(128)", after=2)
    target = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=doc(uri), position=call)
    )
    assert target.range.start == find(RESNET18, "basic(f, stride=1)")
    refs = await client.text_document_references_async(
        lsp.ReferenceParams(
            text_document=doc(uri),
            position=call,
            context=lsp.ReferenceContext(include_declaration=True),
        )
    )
    assert len(refs) == RESNET18.count("basic(")  # the definition and every call


async def test_definition_and_references_of_a_block_parameter(client: LanguageClient):
    uri = uri_of("navigate_param.spec")
    await open_spec(client, uri, RESNET18)
    use = find(RESNET18, "stride=stride", after=len("stride="))
    target = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=doc(uri), position=use)
    )
    assert target.range.start == find(RESNET18, "stride=1)")
    refs = await client.text_document_references_async(
        lsp.ReferenceParams(
            text_document=doc(uri),
            position=use,
            context=lsp.ReferenceContext(include_declaration=False),
        )
    )
    # in the body: stride=stride (twice), (stride > 1); at the calls: stride=2 (three times)
    assert len(refs) == 2 + 1 + RESNET18.count(", stride=2)")


async def rename(client: LanguageClient, uri: str, text: str, at: lsp.Position, new: str) -> str:
    edit = await client.text_document_rename_async(
        lsp.RenameParams(text_document=doc(uri), position=at, new_name=new)
    )
    return apply_edits(text, edit.changes[uri])


async def test_rename_a_block(client: LanguageClient):
    uri = uri_of("rename.spec")
    await open_spec(client, uri, RESNET18)
    renamed = await rename(client, uri, RESNET18, find(RESNET18, "basic(64)"), "basic_block")
    assert "basic(" not in renamed
    assert renamed.count("basic_block(") == RESNET18.count("basic(")
    before, after = check_text(RESNET18), check_text(renamed)
    assert after.ok and after.totals() == before.totals()
    for refused in ("conv", "relu", "9lives", "repeat", "basic"):
        if refused == "basic":
            continue
        with pytest.raises(JsonRpcException):
            await rename(client, uri, RESNET18, find(RESNET18, "basic(64)"), refused)


async def test_rename_refuses_an_existing_block_name(client: LanguageClient):
    text = RESNET18.replace("zeropad 3;", "block other(g) { conv g 1x1 }\nzeropad 3;")
    uri = uri_of("rename_taken.spec")
    await open_spec(client, uri, text)
    with pytest.raises(JsonRpcException, match="already"):
        await rename(client, uri, text, find(text, "basic(64)"), "other")


async def test_rename_a_named_layer(client: LanguageClient):
    text = CIFAR.replace("dense 64 relu", "dense 64 relu name=hidden")
    uri = uri_of("rename_layer.spec")
    await open_spec(client, uri, text)
    renamed = await rename(client, uri, text, find(text, "hidden", after=2), "features")
    names = [lay["name"] for lay in to_document(check_text(renamed))["layers"]]
    assert "features" in names and "hidden" not in names
    with pytest.raises(JsonRpcException, match="already"):
        await rename(client, uri, text, find(text, "hidden"), "conv2d_2")  # an automatic name


async def test_document_outline(client: LanguageClient):
    uri = uri_of("outline.spec")
    await open_spec(client, uri, CIFAR)
    symbols = await client.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(text_document=doc(uri))
    )
    names = [s.name for s in symbols]
    layers = [lay["name"] for lay in to_document(check_text(CIFAR))["layers"]]
    assert names == ["cifar10_cnn", *layers, "train"]
    train = symbols[-1]
    assert [s.name for s in train.children] == ["data", "optimizer", "batch", "epochs", "seed"]
    uri = uri_of("outline_blocks.spec")
    await open_spec(client, uri, RESNET18)
    symbols = await client.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(text_document=doc(uri))
    )
    block = next(s for s in symbols if s.name == "basic")
    assert block.kind == lsp.SymbolKind.Function and block.children
    assert "basic(128, stride=2)" in [s.name for s in symbols]


# -- formatting and quick fixes ---------------------------------------------------------------


async def test_formatting_is_specc_fmt(client: LanguageClient):
    messy = (
        "model  m\ninput 8x8x1 ;conv 8   3x3 relu   # a comment\nflatten\n\n\n\ndense 10  softmax"
    )
    uri = uri_of("format.spec")
    await open_spec(client, uri, messy)
    edits = await client.text_document_formatting_async(
        lsp.DocumentFormattingParams(
            text_document=doc(uri), options=lsp.FormattingOptions(tab_size=2, insert_spaces=True)
        )
    )
    assert apply_edits(messy, edits) == format_source(messy)
    broken = messy.replace("flatten", "flatten )")
    await change_spec(client, uri, 2, broken)
    edits = await client.text_document_formatting_async(
        lsp.DocumentFormattingParams(
            text_document=doc(uri), options=lsp.FormattingOptions(tab_size=2, insert_spaces=True)
        )
    )
    assert not edits  # syntax errors: no edit, as `specc fmt` refuses


CORPUS = ROOT / "tests" / "golden" / "diagnostics"


@pytest.mark.parametrize(
    "name",
    [
        "dense_on_image",
        "kernel_too_large",
        "unknown_parameter",
        "bad_padding",
        "block_error_inside",
    ],
)
async def test_quick_fix_makes_its_diagnostic_go_away(client: LanguageClient, name: str):
    text = (CORPUS / f"{name}.spec").read_text(encoding="utf-8")
    uri = uri_of(f"fix_{name}.spec")
    found = await open_spec(client, uri, text)
    fixable = [d for d in found if d.data and d.data.get("fixes")]
    assert fixable
    target = fixable[0]
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=doc(uri),
            range=target.range,
            context=lsp.CodeActionContext(diagnostics=[target]),
        )
    )
    fixes = [a for a in actions if a.kind == lsp.CodeActionKind.QuickFix]
    assert fixes and fixes[0].diagnostics[0].code == target.code
    fixed = apply_edits(text, fixes[0].edit.changes[uri])
    after = await change_spec(client, uri, 2, fixed)
    assert len(after) < len(found)
    assert not any(d.code == target.code and d.message == target.message for d in after)


async def test_hints_hover_and_navigation_survive_a_line_being_typed(client: LanguageClient):
    typing = RESNET18 + "conv 8 3x3 stride=\n"  # the last line, being typed
    uri = uri_of("typing.spec")
    found = await open_spec(client, uri, typing)
    assert [d.code for d in found] == [d.code for d in check_text(typing).diagnostics]
    assert found and all(d.code.startswith("E01") for d in found)  # only the syntax error
    hints = await client.text_document_inlay_hint_async(
        lsp.InlayHintParams(text_document=doc(uri), range=whole(typing))
    )
    # every other line keeps its hint: the same as without the line being typed
    await open_spec(client, uri_of("typing_before.spec"), RESNET18)
    complete = await client.text_document_inlay_hint_async(
        lsp.InlayHintParams(text_document=doc(uri_of("typing_before.spec")), range=whole(RESNET18))
    )
    assert [(h.position, h.label) for h in hints] == [(h.position, h.label) for h in complete]
    call = find(typing, "basic(128)", after=2)
    target = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=doc(uri), position=call)
    )
    assert target.range.start == find(typing, "basic(f, stride=1)")
    result = await client.text_document_hover_async(
        lsp.HoverParams(text_document=doc(uri), position=find(typing, "globalavgpool"))
    )
    assert "globalavgpool_1" in result.contents.value
    with pytest.raises(JsonRpcException, match="syntax errors"):
        await rename(client, uri, typing, call, "basic_block")
