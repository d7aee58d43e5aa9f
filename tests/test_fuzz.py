"""Property tests of the front end: no input ends in an exception, and printing is faithful.

(a) random text, random bytes and token soups always give a :class:`CheckedModel` (and the
    CLI an exit status of 0 or 1); (b) mutations of every valid spec under ``specs/`` likewise,
    and every diagnostic renders; (c) generated programs (layers, blocks, repeat, residual,
    branch) printed with the formatter parse back to the same AST and lower to the same IR.
"""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specc import limits
from specc.cli import main
from specc.compiler import CheckedModel, check_text
from specc.diagnostics import render, render_all, to_json
from specc.formatter import format_source, print_program
from specc.lowering import lower
from specc.source import SourceFile, Span
from specc.syntax import Arg, BlockDef, Call, Clause, Formal, Statement, Value, parse

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.spec"))
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_checked(text: str) -> CheckedModel:
    """Check ``text``; it must give a result, errors must render, and OK must mean no errors."""
    checked = check_text(text, "fuzz.spec")
    assert isinstance(checked, CheckedModel)
    if checked.ok:
        assert checked.model is not None
        assert set(checked.infos) == {n.index for n in checked.model.nodes}
        checked.totals()
    else:
        assert checked.diagnostics
        rendered = render_all(checked.source, checked.diagnostics)
        assert "error[" in rendered
        for diag in checked.diagnostics:
            assert diag.primary_span is not None
            to_json(diag)
    return checked


def run_cli(text: str, *flags: str) -> int:
    """``specc check`` in-process on ``text`` written to a temporary file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.spec"
        path.write_text(text, encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(["check", *flags, str(path)])
    assert "internal error" not in err.getvalue(), err.getvalue()
    return status


# -- (a) random input ---------------------------------------------------------------------------

TOKENS = [
    "input", "conv", "conv2d", "dense", "maxpool", "flatten", "dropout", "bn", "relu", "softmax",
    "residual", "shortcut", "branch", "concat", "add", "repeat", "block", "if", "else", "train",
    "model", "data", "cifar10", "iris", "epochs", "3x3", "32x32x3", "64", "0", "-1", "1.5",
    "1e-3", "99999999999", "f", "(f*2)", "(f-1)", "(s > 1)", "stride=2", "padding=same",
    "name=x", "=", "{", "}", "(", ")", ",", ";", "\n", "\n", "\n", "# c\n", '"npz:a.npz"',
    "basic(", "basic(8)", "x", "*", "//", "\t", "\r\n", "@", "\\",
]  # fmt: skip

spec_chars = st.text(
    alphabet=st.sampled_from(list("abcdefinputconvdsx0123456789 \n\t{}()=,;#.-+*/\"'_")),
    max_size=120,
)
token_soup = st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join)
decoded_bytes = st.binary(max_size=200).map(lambda b: b.decode("utf-8", errors="replace"))
latin1_bytes = st.binary(max_size=200).map(lambda b: b.decode("latin-1"))


@FUZZ
@given(st.one_of(st.text(max_size=200), spec_chars, token_soup, decoded_bytes, latin1_bytes))
def test_random_text_never_raises(text):
    assert_checked(text)


@settings(max_examples=60, deadline=None)
@given(st.one_of(token_soup, spec_chars, decoded_bytes))
def test_random_text_through_the_cli(text):
    assert run_cli(text) in (0, 1)
    assert run_cli(text, "--format", "json") in (0, 1)


@settings(max_examples=100, deadline=None)
@given(st.one_of(token_soup, spec_chars))
def test_formatter_accepts_what_parses_and_refuses_what_does_not(text):
    source = SourceFile("fuzz.spec", text)
    _, diagnostics = parse(source)
    if diagnostics:
        with pytest.raises(Exception) as info:
            format_source(text)
        assert type(info.value).__name__ == "SpecError"
    else:
        formatted = format_source(text)
        assert format_source(formatted) == formatted


# -- (b) mutations of the valid specs -----------------------------------------------------------

NUMBER = re.compile(r"(?<![\w.])\d+(?![\w.])")


def mutate(lines: list[str], data) -> list[str]:
    lines = list(lines)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        if not lines:
            break
        i = data.draw(st.integers(0, len(lines) - 1), label="line")
        op = data.draw(st.sampled_from(["delete", "duplicate", "swap", "number", "brace"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = data.draw(st.integers(0, len(lines) - 1), label="other line")
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "number":
            # huge counts on repeat/block-call lines are covered by test_layer_bomb_is_an_error
            small = "repeat" in lines[i] or "(" in lines[i]
            values = ["0", "-1", "1"] + ([] if small else ["4294967296", "99999999999999"])
            value = data.draw(st.sampled_from(values), label="number")
            matches = list(NUMBER.finditer(lines[i]))
            if matches:
                m = data.draw(st.sampled_from(matches), label="which number")
                lines[i] = lines[i][: m.start()] + value + lines[i][m.end() :]
        else:
            lines[i] = (
                lines[i].replace("{", "", 1) if "{" in lines[i] else lines[i].replace("}", "")
            )
    return lines


@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_mutated_specs_never_raise(spec, data):
    lines = spec.read_text(encoding="utf-8").splitlines()
    assert_checked("\n".join(mutate(lines, data)) + "\n")


@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_every_spec_is_valid(spec):
    checked = assert_checked(spec.read_text(encoding="utf-8"))
    assert checked.ok, render_all(checked.source, checked.diagnostics)


def test_layer_bomb_is_an_error(monkeypatch):
    monkeypatch.setattr(limits, "MAX_NODES", 500)
    nested = "block a(f) { dense f; dense f }\n" + "".join(
        f"block b{i}(f) {{ {'a' if i == 0 else f'b{i - 1}'}(f); "
        f"{'a' if i == 0 else f'b{i - 1}'}(f) }}\n"
        for i in range(30)
    )
    for text in ("input 4\nrepeat 99999999999 { dense 4 }\n", nested + "input 4\nb29(4)\n"):
        checked = assert_checked(text)
        assert [d.code for d in checked.diagnostics] == ["E0505"]


# -- (c) generate an AST, print it, parse it back -----------------------------------------------

SPAN = Span(file="gen.spec", line=1, column=1, end_line=1, end_column=2)
ACTIVATIONS = ["relu", "softmax", "tanh", "sigmoid"]


def number(n) -> Value:
    return Value("number", n, repr(n), SPAN)


def name(text: str) -> Value:
    return Value("name", text, text, SPAN)


def dims(values: tuple[int, ...]) -> Value:
    return Value("dims", values, "x".join(map(str, values)), SPAN)


def positional(value: Value) -> Arg:
    return Arg(None, value, SPAN)


def keyword(key: str, value: Value) -> Arg:
    return Arg(key, value, SPAN, SPAN)


def stmt(kind: str, args=(), clauses=()) -> Statement:
    return Statement(kind, tuple(args), tuple(clauses), SPAN, SPAN)


def clause(body, label: str | None = None) -> Clause:
    return Clause(label, tuple(body), SPAN, SPAN if label else None)


small = st.integers(1, 64)
floats = st.sampled_from([0.0, 0.25, 0.5, 1e-3, 1e-05, 2.5, -1.0])


@st.composite
def scalar(draw, formals: tuple[str, ...]) -> Value:
    """A number, a block parameter, or arithmetic on them."""
    choices = [small.map(number)]
    if formals:
        choices.append(st.sampled_from(formals).map(name))
    leaf = st.one_of(*choices)
    if not formals or not draw(st.booleans()):
        return draw(leaf)

    def expr(children):
        ops = st.sampled_from(["+", "-", "*", "//", "/"])
        return st.tuples(ops, children, children).map(lambda t: Value("expr", t, "", SPAN))

    return draw(st.recursive(leaf, expr, max_leaves=4).filter(lambda v: v.kind == "expr"))


@st.composite
def layer(draw, formals: tuple[str, ...] = ()) -> Statement:
    """One layer line with random (not necessarily valid) arguments."""
    kinds = ["conv", "conv2d", "dense", "maxpool", "dropout", "flatten", "bn", "relu"]
    kind = draw(st.sampled_from([*kinds, "batchnorm", "gap", "zeropad", "activation"]))
    args: list[Arg] = []
    if kind in ("conv", "conv2d"):
        args.append(positional(draw(scalar(formals))))
        args.append(positional(dims((k := draw(st.integers(1, 5)), k))))
        if draw(st.booleans()):
            args.append(keyword("stride", draw(scalar(formals))))
        if draw(st.booleans()):
            args.append(positional(name(draw(st.sampled_from(["same", "valid"])))))
    elif kind == "dense":
        args.append(positional(draw(scalar(formals))))
        if draw(st.booleans()):
            args.append(keyword("use_bias", name(draw(st.sampled_from(["true", "false"])))))
    elif kind == "maxpool":
        args.append(positional(draw(st.one_of(small.map(number), st.just(dims((2, 2)))))))
    elif kind == "dropout":
        args.append(positional(number(draw(floats))))
    elif kind == "batchnorm":
        args.append(keyword("momentum", number(draw(floats))))
    elif kind == "zeropad":
        args.append(positional(draw(scalar(formals))))
    elif kind == "activation":
        args.append(positional(name(draw(st.sampled_from(ACTIVATIONS)))))
    if kind in ("conv", "conv2d", "dense") and draw(st.booleans()):
        args.append(positional(name(draw(st.sampled_from(ACTIVATIONS)))))
    return stmt(kind, args)


def items(formals: tuple[str, ...], blocks: tuple[tuple[str, int], ...], depth: int):
    """A strategy for a body: layers, block calls, repeat, residual and branch."""
    options = [layer(formals)]
    if blocks:
        options.append(call(formals, blocks))
    if depth > 0:
        inner = items(formals, blocks, depth - 1)
        options += [
            st.tuples(st.integers(0, 3), inner).map(
                lambda t: stmt("repeat", [positional(number(t[0]))], [clause(t[1])])
            ),
            st.tuples(inner, st.one_of(st.none(), inner)).map(
                lambda t: stmt(
                    "residual",
                    (),
                    [clause(t[0])] + ([] if t[1] is None else [clause(t[1], "shortcut")]),
                )
            ),
            st.tuples(st.sampled_from(["concat", "add"]), st.lists(inner, min_size=2, max_size=3))
            # the parser reads `branch concat {` as a first clause named by the merge mode
            .map(
                lambda t: stmt(
                    "branch", (), [clause(t[1][0], t[0])] + [clause(b) for b in t[1][1:]]
                )
            ),
        ]
    return st.lists(st.one_of(*options), min_size=1, max_size=4)


@st.composite
def call(draw, formals, blocks) -> Call:
    block_name, arity = draw(st.sampled_from(blocks))
    args = [positional(draw(scalar(formals))) for _ in range(arity)]
    if draw(st.booleans()):
        args.append(keyword("s", draw(scalar(formals))))
    return Call(block_name, tuple(args), SPAN, SPAN)


@st.composite
def programs(draw) -> tuple:
    """A whole program: block definitions, model, input, a body, maybe a train section."""
    nodes: list = []
    blocks: list[tuple[str, int]] = []
    for i in range(draw(st.integers(0, 2))):
        formals = (Formal("f", None, SPAN), Formal("s", number(draw(small)), SPAN))
        body = draw(items(("f", "s"), tuple(blocks), depth=1))
        nodes.append(BlockDef(f"blk{i}", formals, tuple(body), SPAN, SPAN))
        blocks.append((f"blk{i}", 1))
    nodes.append(stmt("model", [positional(name("generated"))]))
    shape = draw(st.sampled_from([(32, 32, 3), (8, 8, 1), (64,), (16, 4)]))
    nodes.append(stmt("input", [positional(dims(shape) if len(shape) > 1 else number(shape[0]))]))
    nodes += draw(items((), tuple(blocks), depth=2))
    if draw(st.booleans()):
        settings_ = [
            stmt("data", [positional(draw(st.sampled_from([name("iris"), Value(
                "string", "npz:data.npz", '"npz:data.npz"', SPAN)])))]),
            stmt("epochs", [positional(number(draw(small)))]),
            stmt("optimizer", [positional(name("adam")), keyword("lr", number(0.01))]),
        ]  # fmt: skip
        nodes.append(stmt("train", (), [clause(settings_)]))
    return tuple(nodes)


def relined(nodes: tuple, compact: bool) -> tuple:
    """Give generated nodes line numbers: each statement on its own line, or all on line 1."""
    counter = [0]

    def span() -> Span:
        if not compact:
            counter[0] += 1
        line = counter[0] or 1
        return Span(file="gen.spec", line=line, column=1, end_line=line, end_column=2)

    def close(node, start: Span):
        end = counter[0] or 1
        return start.replace(end_line=max(end, start.line))

    def walk(node):
        start = span()
        if isinstance(node, Call):
            return Call(node.name, node.args, start, start)
        if isinstance(node, BlockDef):
            body = tuple(walk(n) for n in node.body)
            full = close(node, span())
            return BlockDef(node.name, node.formals, body, start.to(full), start)
        clauses = []
        for c in node.clauses:
            body = tuple(walk(n) for n in c.body)
            clauses.append(Clause(c.name, body, close(c, start), c.name_span))
        last = close(node, span()) if node.clauses else start
        return Statement(node.name, node.args, tuple(clauses), start.to(last), start)

    return tuple(walk(n) for n in nodes)


def strip(node):
    """An AST node as plain data without spans or source text, for comparison."""
    if isinstance(node, Value):
        if node.kind == "expr":
            op, left, right = node.value
            return ("expr", op, strip(left), strip(right))
        return (node.kind, node.value)
    if isinstance(node, Arg):
        return (node.key, strip(node.value))
    if isinstance(node, Statement):
        return ("stmt", node.name, [strip(a) for a in node.args],
                [(c.name, [strip(n) for n in c.body]) for c in node.clauses])  # fmt: skip
    if isinstance(node, Call):
        return ("call", node.name, [strip(a) for a in node.args])
    if isinstance(node, BlockDef):
        formals = [(f.name, None if f.default is None else strip(f.default)) for f in node.formals]
        return ("block", node.name, formals, [strip(n) for n in node.body])
    raise TypeError(node)


def lowered(nodes: tuple) -> tuple:
    """Lower AST nodes and keep what defines the graph: kinds, names, args, inputs, roles."""
    diagnostics: list = []
    model = lower(SourceFile("gen.spec", ""), nodes, diagnostics)
    # a set: lowering reports a diagnostic once per span, and generated nodes share one span
    codes = sorted({d.code for d in diagnostics})
    if model is None:
        return None, codes
    graph = [
        (n.kind, n.name, [(a.key, a.value, a.value_kind) for a in n.args], n.inputs, n.role)
        for n in model.nodes
    ]
    train = model.train.model_dump(exclude={"span", "spans"})
    return (model.name, graph, model.output, train), codes


def reparse(text: str) -> tuple:
    nodes, diagnostics = parse(SourceFile("gen.spec", text))
    assert not diagnostics, render_all(SourceFile("gen.spec", text), diagnostics) + "\n" + text
    return nodes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.booleans())
def test_generated_program_round_trips(program, compact):
    program = relined(program, compact)
    text = print_program(program)
    parsed = reparse(text)
    assert [strip(n) for n in parsed] == [strip(n) for n in program], text
    assert lowered(parsed) == lowered(program), text
    # printing is a fixed point, and the formatter agrees with the printer
    assert print_program(parsed) == text
    assert format_source(text) == text
    checked = check_text(text, "gen.spec")
    for diag in checked.diagnostics:
        render(checked.source, diag)
