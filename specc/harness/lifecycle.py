"""A run's life as a process: SIGINT and SIGTERM stop it cleanly; it dies with its launcher.

- Before training starts, SIGINT or SIGTERM stops the run at once (nothing to save yet).
- While it trains, the first signal is a request: the loop stops at its next safe point (after
  the step in progress; never inside a checkpoint write), keeps the checkpoint of the last
  finished epoch and exits with 128 + the signal's number.  A second signal stops it at once
  (every file is written atomically, so the checkpoint on disk stays whole).
- The processes torchrun starts for a run die with the launcher (``PR_SET_PDEATHSIG`` on
  Linux), even when it is killed with SIGKILL: a run is one process tree.  They end without
  the interpreter's teardown, once their part is done (:func:`end_torchrun_worker`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Iterator

from .errors import Stopped, signal_name

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
LAUNCHER_ENV = "SPECC_LAUNCHER_PID"  # set for the processes a run's launcher starts
_PR_SET_PDEATHSIG = 1


class StopSignals:
    """SIGINT and SIGTERM handlers that turn a signal into a stop request while training."""

    def __init__(self) -> None:
        self.requested: int | None = None
        self.deferring = False
        self.quiet = False  # no message (processes other than the first of a distributed run)
        self._previous: dict[int, object] = {}

    def install(self) -> StopSignals:
        """Handle SIGINT and SIGTERM from now on (in the main thread)."""
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def uninstall(self) -> None:
        """Put back the handlers that were there before :meth:`install`."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: object) -> None:
        if not self.deferring or self.requested is not None:
            raise Stopped(signum, at_once=self.requested is not None)
        self.requested = signum
        if not self.quiet:
            print(
                f"\n{signal_name(signum)}: stopping after the current step; the checkpoint of "
                "the last finished epoch is kept (send it again to stop at once)",
                file=sys.stderr,
                flush=True,
            )

    @contextlib.contextmanager
    def deferred(self) -> Iterator[StopSignals]:
        """Within this block a signal only requests a stop, which :meth:`check` carries out."""
        self.deferring = True
        try:
            yield self
        finally:
            self.deferring = False

    def check(self) -> None:
        """Raise :class:`Stopped` if a stop was requested."""
        if self.requested is not None:
            raise Stopped(self.requested)


def die_with_launcher() -> None:
    """End this process when the run's launcher ends (a process torchrun started for it).

    On Linux the kernel sends SIGKILL when the parent dies; if it died before this call, the
    process ends now.  Elsewhere this does nothing.
    """
    launcher = os.environ.get(LAUNCHER_ENV, "")
    if not launcher.isdigit() or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != int(launcher):  # torchrun's agent is the launcher, our parent
        os._exit(1)


def end_torchrun_worker(status: int) -> None:
    """End a process torchrun started for a run with ``status``, at once; elsewhere return.

    By now its part is done: the first process has written the run folder and every process
    has met the others at the last barrier.  What is left is the interpreter's teardown, in
    which PyTorch's process-group threads now and then abort the process ("terminate called
    without an active exception", SIGABRT, seen with gloo): torchrun then reports the machine
    as failed and the others wait out their 300 s exit barrier.  Nothing is lost by skipping
    that teardown: the run's files are closed, its tracking ended.
    """
    if "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


def launched_by() -> dict[str, str]:
    """The environment that ties the processes this one starts to it (see above)."""
    return {LAUNCHER_ENV: str(os.getpid())}
