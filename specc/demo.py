"""``python -m specc.demo`` (``make demo``): check, emit and train, offline, in a few minutes.

1. ``specc check specs/cifar10_cnn.spec``: the reference model's shapes and counts;
2. ``specc emit`` of that spec for both backends into ``runs/demo/``;
3. ``specc train specs/digits_cnn.spec`` in PyTorch and in Keras on scikit-learn's digits
   (bundled, no download), then both test accuracies and where the curves are.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from specc import cli

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("torch", "keras")


def spec_path(name: str) -> Path:
    """A spec under ``specs/``, from the checkout or the current directory."""
    for base in (ROOT, Path.cwd()):
        path = base / "specs" / name
        if path.is_file():
            return path
    raise SystemExit(f"specc.demo: cannot find specs/{name} (run it from the specc checkout)")


def banner(text: str) -> None:
    """A section heading on stdout."""
    print(f"\n== {text}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the exit status (non-zero if any step failed)."""
    parser = argparse.ArgumentParser(prog="python -m specc.demo", description=__doc__)
    parser.add_argument("--out", default="runs/demo", help="where everything is written")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per framework")
    args = parser.parse_args(argv)
    out = Path(args.out)
    reference, digits = spec_path("cifar10_cnn.spec"), spec_path("digits_cnn.spec")

    banner(f"specc check {reference.name}")
    if cli.main(["check", str(reference)]) != 0:
        return 1
    for backend in BACKENDS:
        target = out / f"cifar10_cnn_{backend}.py"
        banner(f"specc emit {reference.name} --backend {backend} -o {target}")
        if cli.main(["emit", str(reference), "--backend", backend, "-o", str(target)]) != 0:
            return 1

    results = {}
    for backend in BACKENDS:
        run = out / f"digits_cnn-{backend}"
        banner(f"specc train {digits.name} --backend {backend} --epochs {args.epochs}")
        flags = ["--backend", backend, "--epochs", str(args.epochs), "--out", str(run)]
        # `specc train` becomes the training process (exec): run it as a child of the demo
        status = subprocess.call([sys.executable, "-m", "specc", "train", str(digits), *flags])
        if status != 0:
            print(f"specc.demo: training with {backend} failed ({status})", file=sys.stderr)
            return status
        info = json.loads((run / "run.json").read_text(encoding="utf-8"))
        results[backend] = (info["metrics"].get("test_accuracy", float("nan")), run)

    banner("digits_cnn on scikit-learn's digits (a stratified 20% held out as test)")
    for backend, (accuracy, run) in results.items():
        print(f"{backend:<6} test accuracy {accuracy:.2%}   curves: {run / 'curves.png'}")
    print(f"emitted reference model: {out}/cifar10_cnn_torch.py, {out}/cifar10_cnn_keras.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
