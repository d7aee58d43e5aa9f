"""One version of one document, checked once: what every feature of the server reads.

The check is ``specc check``'s own: :func:`specc.compiler.check_source`, then
:func:`specc.report.to_document` -- the ``--format json`` document.  Diagnostics and layer facts
come from that document; hover adds the ``--explain`` arithmetic (``CheckedModel.explain``).
Everything else is derived on first use and cached for this version.

While a line is being typed the spec usually does not parse, and a check then knows no layer.
So that hints, hover and the outline do not vanish at every keystroke, the layer facts then come
from the same check of the text without the lines that have syntax errors (blanked, so that
every position stays where it is); the diagnostics are always those of the text itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from specc.compiler import CheckedModel, check_source
from specc.report import to_document
from specc.source import SourceFile, Span

# syntax errors whose line can be blanked to parse the rest (bracket errors cannot)
_LINE_ERRORS = ("E0100", "E0101", "E0104")


@dataclass(frozen=True)
class Layer:
    """A layer of the checked model: its entry in the check document and where it is written."""

    index: int
    fact: dict
    span: Span
    sites: tuple[Span, ...]  # the block call sites that made it, innermost first

    @property
    def name(self) -> str:
        """The layer's name (``conv2d_1``, or the one given with ``name=``)."""
        return self.fact["name"]

    @property
    def kind(self) -> str:
        """The layer's kind, as the registry names it."""
        return self.fact["kind"]

    @property
    def shape(self) -> tuple[int, ...]:
        """The output shape, without the batch axis."""
        return tuple(self.fact["output_shape"])


class Analysis:
    """A document's text and what ``specc check`` found in it."""

    def __init__(self, text: str, name: str = "<spec>"):
        self.text = text
        self.name = name
        self.checked: CheckedModel = check_source(SourceFile(name, text))
        self.document: dict = to_document(self.checked)

    @cached_property
    def facts(self) -> CheckedModel:
        """The check the layer facts come from: this text's, or with syntax errors, that of the
        text without the lines they are on (when that parses)."""
        blanked = self._without_syntax_errors()
        if blanked is None:
            return self.checked
        recovered = check_source(SourceFile(self.name, blanked))
        return recovered if recovered.program else self.checked

    @property
    def facts_ready(self) -> bool:
        """Whether :attr:`facts` has been computed (it may parse: the server computes it on
        its checking thread)."""
        return "facts" in self.__dict__

    @cached_property
    def facts_document(self) -> dict:
        """The check document of :attr:`facts`."""
        return self.document if self.facts is self.checked else to_document(self.facts)

    def _without_syntax_errors(self) -> str | None:
        diagnostics = self.checked.diagnostics
        if self.checked.program or not diagnostics:
            return None
        if any(d.code not in _LINE_ERRORS or d.primary_span is None for d in diagnostics):
            return None
        bad = {d.primary_span.line for d in diagnostics}
        lines = self.text.split("\n")
        return "\n".join(" " * len(t) if i + 1 in bad else t for i, t in enumerate(lines))

    def span(self, where: dict) -> Span:
        """A span of this document from a check document's ``line``/``column`` fields."""
        return Span(
            self.name, where["line"], where["column"], where["end_line"], where["end_column"]
        )

    @cached_property
    def layers(self) -> list[Layer]:
        """Every layer whose shape is known, in graph order."""
        model = self.facts.model
        if model is None:
            return []
        index = {node.name: node.index for node in model.nodes}
        return [
            Layer(
                index[fact["name"]],
                fact,
                self.span(fact),
                tuple(self.span(site) for site in fact["call_sites"]),
            )
            for fact in self.facts_document["layers"]
        ]

    @cached_property
    def by_statement(self) -> dict[Span, list[Layer]]:
        """The layers each statement made (several for a statement in a block or a repeat)."""
        groups: dict[Span, list[Layer]] = {}
        for layer in self.layers:
            groups.setdefault(layer.span, []).append(layer)
        return groups

    @cached_property
    def by_call_site(self) -> dict[Span, list[Layer]]:
        """The layers each block call made, through nested calls too, in graph order."""
        groups: dict[Span, list[Layer]] = {}
        for layer in self.layers:
            for site in layer.sites:
                groups.setdefault(site, []).append(layer)
        return groups

    def instances(self, site: Span) -> list[list[Layer]]:
        """The layers of each instance a call site made (a call in a ``repeat`` or in a block
        used several times makes several), split where the instance's first layer recurs."""
        layers = self.by_call_site.get(site, [])
        if not layers:
            return []
        first = (layers[0].span, layers[0].sites)
        runs: list[list[Layer]] = []
        for layer in layers:
            if (layer.span, layer.sites) == first or not runs:
                runs.append([])
            runs[-1].append(layer)
        return runs

    @property
    def program(self) -> tuple:
        """The parsed spec (of :attr:`facts`: navigation keeps working while a line is typed)."""
        return self.facts.program

    @cached_property
    def symbols(self):
        """Blocks, block parameters and named layers: definitions and uses (see symbols.py)."""
        from specc.lsp.symbols import SymbolIndex

        return SymbolIndex(self.program, self.facts.model, text=self.text)
