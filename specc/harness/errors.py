"""What can stop a run, and the exit status each gives (one list for specc and the harness).

``specc train`` becomes the training process (see ``specc.training``), so its exit status is
the harness's: 0 when the run finished, 2 when a flag, a data file, a checkpoint, the run
folder or the installed software does not allow it to start (nothing was trained), 128 + the
signal's number when SIGINT (130) or SIGTERM (143) stopped it after its last checkpoint.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERRORS = 1  # specc: a spec has errors (the harness never returns it)
EXIT_USAGE = 2  # a flag, a file, the run folder or the software: nothing was trained
EXIT_INTERNAL = 3  # a bug in specc
EXIT_SIGNAL = 128  # + the number of the signal that stopped the run


class HarnessError(Exception):
    """A run that cannot start or go on; the message says why and names the file."""

    exit_status = EXIT_USAGE


class DataError(HarnessError):
    """Data that cannot be found, read or fed to this model."""


class RunError(HarnessError):
    """A setting this machine cannot honour, a damaged checkpoint, a run folder in use."""


class FolderLocked(RunError):
    """The run folder belongs to another process that is still running."""


class FrameworkMissing(RunError):
    """The backend's framework (or numpy) is not installed in this Python."""


class Stopped(BaseException):
    """SIGINT or SIGTERM asked the run to stop (a BaseException, like KeyboardInterrupt, so
    that no ``except Exception`` on the way swallows it)."""

    def __init__(self, signum: int, at_once: bool = False) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum
        self.at_once = at_once
        self.saved: str | None = None  # what the checkpoint holds, said by the loop

    @property
    def exit_status(self) -> int:
        """128 + the signal's number, as a shell reports a process ended by it."""
        return EXIT_SIGNAL + self.signum


def signal_name(signum: int) -> str:
    """``SIGTERM`` for 15, and so on."""
    import signal  # here: `specc check` imports this module, and needs no signals

    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def saved_epochs(checkpoint: object, done: int) -> str:
    """What a stopped run's checkpoint holds, for the message: ``RUN/checkpoint.pt holds
    epochs 1-3``."""
    if not done:
        return "no epoch was finished"
    return f"{checkpoint} holds epoch 1" if done == 1 else f"{checkpoint} holds epochs 1-{done}"
