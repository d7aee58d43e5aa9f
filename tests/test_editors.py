"""The editor support in ``editors/``: the VS Code highlighting grammar
(``editors/vscode/syntaxes/specc.tmLanguage.json``) and the extension's client.

It is generated from the layer registry and checked against every spec under ``specs/``: each
is tokenized with the grammar (``tests/textmate.py``) and every character that is not white
space must get a scope of its own; where specc's parser sees a keyword, a layer kind, an
activation, a size, a number, a string, a block or a comment, the grammar must say the same.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from specc.cli import build_parser
from specc.cli.reference_commands import cmd_lsp
from specc.formatter import find_comments
from specc.layers import ACTIVATIONS, all_names
from specc.source import SourceFile
from specc.syntax import Arg, BlockDef, Call, Statement, parse
from tests.textmate import Grammar

ROOT = Path(__file__).resolve().parent.parent
VSCODE = ROOT / "editors" / "vscode"
GRAMMAR_FILE = VSCODE / "syntaxes" / "specc.tmLanguage.json"
SPECS = sorted((ROOT / "specs").glob("*.spec"))
KEYWORDS = {"model", "input", "block", "repeat", "residual", "shortcut", "branch", "if", "else"}
KEYWORDS |= {"train", "sequential"}


def _builder():
    spec = importlib.util.spec_from_file_location("build_grammar", VSCODE / "build_grammar.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def grammar() -> Grammar:
    return Grammar(json.loads(GRAMMAR_FILE.read_text(encoding="utf-8")))


def test_the_grammar_is_generated_from_the_registry():
    builder = _builder()
    assert GRAMMAR_FILE.read_text(encoding="utf-8") == builder.render(), (
        "the grammar is out of date: run `PYTHONPATH=. .venv/bin/python "
        "editors/vscode/build_grammar.py`"
    )
    named = set(builder.kinds()) | set(ACTIVATIONS) | (set(builder.KEYWORDS) & set(all_names()))
    assert named == set(all_names())
    assert set(builder.KEYWORDS) == KEYWORDS


def scope_map(grammar: Grammar, text: str) -> dict[tuple[int, int], tuple[str, ...]]:
    """The scopes of every character: (0-based line, 0-based column) -> scopes."""
    scopes = {}
    for token in grammar.tokenize(text):
        for column in range(token.start, token.end):
            scopes[(token.line, column)] = token.scopes
    return scopes


def innermost(scopes: dict, span) -> set[str]:
    """The innermost scope of each character of a (single-line, 1-based) span."""
    return {
        scopes[(span.line - 1, column - 1)][-1] for column in range(span.column, span.end_column)
    }


def walk(nodes):
    """Every statement, call and block definition, nested ones included."""
    for node in nodes:
        yield node
        if isinstance(node, BlockDef):
            yield from walk(node.body)
        elif isinstance(node, Statement):
            for clause in node.clauses:
                yield clause
                yield from walk(clause.body)


def values(node):
    for arg in getattr(node, "args", ()):
        yield arg
        if arg.value.kind in ("expr", "shape"):
            stack = [arg.value]
            while stack:
                value = stack.pop()
                if value.kind == "expr":
                    stack += [v for v in value.value[1:] if v is not None]  # `not` has one
                elif value.kind == "shape":
                    stack += value.value
                else:
                    yield value


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_every_token_of_every_spec_gets_a_scope(grammar: Grammar, path: Path):
    text = path.read_text(encoding="utf-8")
    for token in grammar.tokenize(text):
        if token.text.strip():
            assert len(token.scopes) > 1, f"{path.name}:{token.line + 1}: {token.text!r}"
            assert not any("invalid" in s for s in token.scopes), token


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_the_grammar_agrees_with_the_parser(grammar: Grammar, path: Path):
    text = path.read_text(encoding="utf-8")
    scopes = scope_map(grammar, text)
    nodes, errors = parse(SourceFile(path.name, text))
    assert not errors
    checked = 0

    def expect(span, prefix: str) -> None:
        nonlocal checked
        found = innermost(scopes, span)
        assert found and all(s.startswith(prefix) for s in found), (
            f"{path.name}:{span.line}:{span.column}: expected {prefix}, got {found}"
        )
        checked += 1

    for node in walk(nodes):
        if isinstance(node, BlockDef | Call):
            expect(node.name_span, "entity.name.function")
            continue
        if not isinstance(node, Statement):  # a clause: `shortcut {`, `else {`
            if node.name in KEYWORDS and node.name_span is not None:
                expect(node.name_span, "keyword.control")
            continue
        if node.name in KEYWORDS:
            expect(node.name_span, "keyword.control")
        elif node.name in ACTIVATIONS:
            expect(node.name_span, "support.function.activation")
        elif node.name in all_names():
            expect(node.name_span, "support.type.layer")
        for item in values(node):
            value = item.value if isinstance(item, Arg) else item
            if isinstance(item, Arg) and item.key is not None and item.key_span is not None:
                expect(item.key_span, "variable.parameter")
            if value.kind == "dims":
                expect(value.span, "constant.numeric.size")
            elif value.kind == "number":
                expect(value.span, "constant.numeric")
            elif value.kind == "string":
                expect(value.span, "string.quoted")
            elif value.kind == "name" and value.value in ACTIVATIONS:
                expect(value.span, "support.function.activation")
    for comment in find_comments(text):
        line = text.split("\n")[comment.line - 1]
        start = line.index(comment.text)
        for column in range(start, start + len(comment.text)):
            assert scopes[(comment.line - 1, column)][-1].startswith("comment.line")
    assert checked


def test_every_kind_name_is_highlighted_as_one(grammar: Grammar):
    for name in all_names():
        text = f"input 8x8x3\n{name} 3\n"
        (token,) = [t for t in grammar.tokenize(text) if t.line == 1 and t.text == name]
        if name in KEYWORDS:
            assert token.scopes[-1].startswith("keyword.control")
        elif name in ACTIVATIONS:
            assert token.scopes[-1] == "support.function.activation.specc"
        else:
            assert token.scopes[-1] == "support.type.layer.specc"


def test_the_extension_declares_the_grammar_and_the_server():
    package = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    contributes = package["contributes"]
    (language,) = contributes["languages"]
    (grammar,) = contributes["grammars"]
    assert ".spec" in language["extensions"]
    assert (VSCODE / language["configuration"]).is_file()
    assert (VSCODE / grammar["path"]).resolve() == GRAMMAR_FILE
    assert grammar["scopeName"] == json.loads(GRAMMAR_FILE.read_text())["scopeName"]
    config = json.loads((VSCODE / language["configuration"]).read_text(encoding="utf-8"))
    assert config["comments"]["lineComment"] == "#"
    assert ["{", "}"] in config["brackets"] and ["(", ")"] in config["brackets"]
    assert (VSCODE / package["main"]).is_file()
    assert "vscode-languageclient" in package["dependencies"]


# extension.js loaded by node with stand-ins for the `vscode` and `vscode-languageclient`
# modules: it must start `specc lsp` on stdio for specc documents, with the configured command.
NODE_PROBE = r"""
const Module = require("module");
const load = Module._load;
const made = [];
const settings = { "server.command": "/opt/specc/bin/specc" };
Module._load = function (request, parent, isMain) {
  if (request === "vscode") {
    return {
      workspace: {
        getConfiguration: () => ({ get: (key, fallback) => settings[key] ?? fallback }),
        onDidChangeConfiguration: () => ({ dispose() {} }),
      },
    };
  }
  if (request === "vscode-languageclient/node") {
    return {
      TransportKind: { stdio: "stdio" },
      LanguageClient: class {
        constructor(id, name, server, client) { made.push({ id, server, client }); }
        start() { return Promise.resolve(); }
        stop() { return Promise.resolve(); }
      },
    };
  }
  return load.apply(this, arguments);
};
require(process.argv[1]).activate({ subscriptions: [] }).then(() => {
  console.log(JSON.stringify(made));
});
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_vscode_client_starts_specc_lsp():
    result = subprocess.run(
        ["node", "-e", NODE_PROBE, str(VSCODE / "extension.js")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    (client,) = json.loads(result.stdout)
    assert client["server"] == {
        "command": "/opt/specc/bin/specc",
        "args": ["lsp"],
        "transport": "stdio",
    }
    assert {"scheme": "file", "language": "specc"} in client["client"]["documentSelector"]
    # vscode-languageclient adds --stdio for this transport: the command line accepts it
    args = build_parser().parse_args([*client["server"]["args"], "--stdio"])
    assert args.func is cmd_lsp
