"""``specc lsp``: the time from a change notification to its diagnostics, on a large spec.

.venv/bin/python benchmarks/lsp_latency.py [--edits 300] [--bursts 60] [--spec PATH]

Starts ``specc lsp`` as an editor does (a subprocess on stdio), opens a spec of ResNet-50's size
(``benchmarks/specs/resnet50_lsp.spec``: 193 layers, 16 bottleneck blocks) and edits it the way
typing does -- a filter count, typos that make errors and their corrections, a stage's depth, a
keyword argument half written (a syntax error).
Two runs, interleaved round by round:

- **one change at a time**: send ``didChange``, wait for the ``publishDiagnostics`` of that
  version, send the next;
- **bursts**: five changes back to back (faster than the server checks), timed from the last
  change to the diagnostics of the last version -- what an editor shows once typing pauses.

Each time runs from just before the client writes the notification to the moment it has read
the diagnostics, so it includes both sides' JSON-RPC work.  The in-process
``specc.compiler.check_text`` of the same spec is timed too, for the server's own overhead.
Reports p50/p95/max; the goal is p95 <= 30 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

HERE = Path(__file__).resolve().parent
DEFAULT_SPEC = HERE / "specs" / "resnet50_lsp.spec"
URI = "file:///bench/resnet50_lsp.spec"
BURST = 5


def edits(text: str) -> list[str]:
    """Versions of ``text`` as typing makes them: each differs from the one before in a word."""
    variants = [
        ("conv 64 7x7", "conv 65 7x7"),  # a number
        ("dense 1000 softmax", "dense 1000 sofmax"),  # a typo: an error, with a fix
        ("stage(256, 6)", "stage(256, 5)"),  # a block call's argument
        ("conv f 1x1 use_bias=false; bn; relu", "conv f 1x1 use_bias=false; bn; rel"),
        # half a keyword argument: a syntax error (the hints come from a second check of the
        # text without that line)
        ("globalavgpool\n", "globalavgpool name=\n"),
    ]
    versions = []
    for old, new in variants:
        if old not in text:
            continue
        versions += [text.replace(old, new, 1), text]
    return versions or [text + "\n", text]


def percentiles(values: list[float]) -> str:
    """p50 / p95 / max of times in seconds, as milliseconds."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered) * 1e3:6.2f} ms   p95 {p95 * 1e3:6.2f} ms   "
        f"max {ordered[-1] * 1e3:6.2f} ms   (n={len(ordered)})"
    )


class Bench:
    """A client that times each version's diagnostics."""

    def __init__(self) -> None:
        self.client = LanguageClient("specc-bench", "1")
        self.arrived: dict[int, float] = {}
        self.waiting: dict[int, asyncio.Future] = {}
        self.version = 1

        @self.client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: lsp.PublishDiagnosticsParams) -> None:
            now = time.perf_counter()
            self.arrived[params.version] = now
            future = self.waiting.pop(params.version, None)
            if future is not None and not future.done():
                future.set_result(now)

    def change(self, text: str) -> tuple[int, float]:
        """Send a full-text change; returns its version and when it was sent."""
        self.version += 1
        self.waiting[self.version] = asyncio.get_running_loop().create_future()
        sent = time.perf_counter()
        self.client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=URI, version=self.version),
                content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        return self.version, sent

    async def wait(self, version: int) -> float:
        """When the diagnostics of ``version`` arrived."""
        if version in self.arrived:
            return self.arrived[version]
        return await asyncio.wait_for(self.waiting[version], timeout=10)


async def run(spec: Path, n_edits: int, n_bursts: int) -> None:
    text = spec.read_text(encoding="utf-8")
    bench = Bench()
    await bench.client.start_io(sys.executable, "-m", "specc", "lsp")
    await bench.client.initialize_async(
        lsp.InitializeParams(process_id=None, capabilities=lsp.ClientCapabilities())
    )
    bench.client.initialized(lsp.InitializedParams())
    bench.waiting[1] = asyncio.get_running_loop().create_future()
    bench.client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(uri=URI, language_id="specc", version=1, text=text)
        )
    )
    await bench.wait(1)
    versions = edits(text)
    single: list[float] = []
    burst: list[float] = []
    step = 0
    for _ in range(10):  # warm-up: schemas built, caches filled, on both sides
        version, _sent = bench.change(versions[step % len(versions)])
        step += 1
        await bench.wait(version)
    rounds = max(n_edits, n_bursts)
    for i in range(rounds):
        if i < n_edits:
            version, sent = bench.change(versions[step % len(versions)])
            step += 1
            single.append(await bench.wait(version) - sent)
        if i < n_bursts:
            for _ in range(BURST):
                version, sent = bench.change(versions[step % len(versions)])
                step += 1
            burst.append(await bench.wait(version) - sent)
            await asyncio.sleep(0.02)  # let the older versions' diagnostics (if any) drain
    published = sum(1 for v in bench.arrived if v > 1)
    await bench.client.shutdown_async(None)
    bench.client.exit(None)
    await bench.client.stop()

    from specc.compiler import check_text

    checks = []
    for i in range(max(n_edits // 2, 20)):
        started = time.perf_counter()
        check_text(versions[i % len(versions)])
        checks.append(time.perf_counter() - started)

    print(f"spec: {spec.name} ({len(text.splitlines())} lines)")
    print(f"didChange -> publishDiagnostics, one change at a time: {percentiles(single)}")
    print(f"last of {BURST} changes in a burst -> its diagnostics:  {percentiles(burst)}")
    print(f"in-process check_text of the same texts:            {percentiles(checks)}")
    print(f"versions sent {step}, diagnostics published {published} (older ones coalesced)")


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=300, help="single changes to time")
    parser.add_argument("--bursts", type=int, default=60, help="bursts of changes to time")
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    args = parser.parse_args()
    asyncio.run(run(args.spec, args.edits, args.bursts))


if __name__ == "__main__":
    main()
