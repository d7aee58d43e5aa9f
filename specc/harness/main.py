"""Run a run folder: read its configuration, parse the flags, take the folder, train.

``RUN/train.py`` calls :func:`main` with its own folder.  The order matters: nothing heavy is
imported before the flags are parsed and the framework is known to be installed; the folder
is locked before anything is written into it; SIGINT and SIGTERM are handled from the start.
Every failure is a message and an exit status (``errors.py``), never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from pathlib import Path

from . import lifecycle, lock
from .backends import BACKENDS, missing_message, missing_modules
from .config import CONFIG_NAME, RunConfig, read_config
from .errors import EXIT_OK, HarnessError, RunError, Stopped, signal_name
from .flags import add_flags, problems
from .settings import Settings


def parse_flags(config: RunConfig, folder: Path, argv: list[str], prog: str) -> Settings:
    """The settings of this run: the configuration overridden by ``argv``.

    Bad flags end the process with argparse's usage message (exit 2), as any command does.
    """
    parser = argparse.ArgumentParser(
        prog=prog,
        description=f"Train {config.spec_name} ({config.backend}); flags override the spec.",
    )
    add_flags(parser, defaults=config.train)
    parser.set_defaults(out=str(folder))
    args = parser.parse_args(argv)
    for problem in problems(args):
        parser.error(problem)
    return Settings.resolve(config, args)


def load_builder(path: Path):
    """The ``build_model`` function of the model file at ``path``."""
    name = path.stem if path.stem.isidentifier() else "specc_model"
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"{path} is not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except FileNotFoundError:
        raise RunError(f"the model file {path} is missing") from None
    except Exception as exc:  # the model file is user-editable code
        raise RunError(f"cannot load the model file {path}: {type(exc).__name__}: {exc}") from None
    build = getattr(module, "build_model", None)
    if not callable(build):
        raise RunError(f"the model file {path} defines no build_model()")
    return build


def take_lock(out: str) -> lock.RunLock | None:
    """Lock the output folder for this run (see ``lock.py``); None where the launcher holds
    it, or for the processes of a distributed run other than the first."""
    if "RANK" in os.environ and (lock.held_by_launcher(out) or os.environ["RANK"] != "0"):
        return None
    return lock.RunLock(out).acquire()


def main(argv: list[str] | None = None, folder: str | os.PathLike = ".", entry: str = "") -> int:
    """Train the run folder ``folder`` with the flags ``argv``; returns the exit status (a
    process of a distributed PyTorch run ends here instead: see
    :func:`lifecycle.end_torchrun_worker`)."""
    status = _main(Path(folder).resolve(), sys.argv[1:] if argv is None else list(argv), entry)
    lifecycle.end_torchrun_worker(status)
    return status


def _main(folder: Path, argv: list[str], entry: str) -> int:
    stop = lifecycle.StopSignals().install()
    stop.quiet = os.environ.get("RANK", "0") != "0"  # under torchrun the first process reports
    try:
        return _run(folder, argv, entry or str(folder / "train.py"), stop)
    except HarnessError as exc:
        if not stop.quiet:
            print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_status
    except Stopped as exc:
        if not stop.quiet:
            print(_stopped_message(exc), file=sys.stderr, flush=True)
        return exc.exit_status
    except KeyboardInterrupt:  # Ctrl-C where Python raised it before the handler ran
        print("interrupted", file=sys.stderr, flush=True)
        return Stopped(2).exit_status
    finally:
        stop.uninstall()


def _run(folder: Path, argv: list[str], entry: str, stop: lifecycle.StopSignals) -> int:
    config = read_config(folder / CONFIG_NAME)
    settings = parse_flags(config, folder, argv, prog=f"python {entry}")
    missing = missing_modules([config.backend])
    if missing:
        raise RunError(missing_message([config.backend], missing, specc=False))
    if settings.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"  # before the framework looks for GPUs
    lifecycle.die_with_launcher()
    several = settings.nproc > 1 or settings.nnodes > 1
    distributed = config.backend == "torch" and several and "RANK" not in os.environ
    if config.backend == "torch" and settings.nnodes > 1 and not settings.rdzv_endpoint:
        raise RunError("--nnodes needs --rdzv-endpoint HOST:PORT, where the machines meet")
    held = take_lock(settings.out)
    try:
        build_model = load_builder(folder / config.model_file)
        loop = importlib.import_module(f".{BACKENDS[config.backend].loop}", __package__)
        if distributed:  # this process keeps the lock; torchrun's processes train
            if held is not None:
                held.announce()
            stop.quiet = True  # the first of torchrun's processes reports
            return loop.launch(entry, argv, settings)
        loop.train(config, settings, build_model, stop)
        return EXIT_OK
    finally:
        if held is not None:  # a process that ends releases it anyway; one that goes on must
            held.release()


def _stopped_message(exc: Stopped) -> str:
    name = signal_name(exc.signum)
    how = "at once" if exc.at_once else "cleanly"
    saved = f"; {exc.saved}" if exc.saved else ""
    more = "; --resume continues the run" if exc.saved and "holds" in exc.saved else ""
    return f"stopped by {name} ({how}){saved}{more}"
