"""One owner per run folder: an exclusive lock on ``RUN/.lock``, which names its holder.

The lock is an ``fcntl.flock`` on the file, held for as long as the owning process lives (the
kernel drops it when the process ends, however it ends), and the file holds that process's
id, so that a second run on the folder is refused with a message naming it.

A lock can be handed on: ``specc train`` takes it before it writes the run folder, then
replaces itself with ``train.py`` (``exec``: same process, same id) keeping the descriptor
open and naming it in ``SPECC_RUN_LOCK``; ``train.py`` adopts it.  The processes torchrun
starts for a run whose launcher holds the lock (``SPECC_RUN_LOCK`` names the folder) do not
take it again.  Where ``fcntl`` does not exist (Windows) runs are not locked.
"""

from __future__ import annotations

import errno
import os

from .errors import FolderLocked, RunError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None

LOCK_NAME = ".lock"
ENV_VAR = "SPECC_RUN_LOCK"  # "FD:PATH" of a lock held for this process's run


class RunLock:
    """The lock of one run folder."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = os.path.abspath(folder)
        self.path = os.path.join(self.folder, LOCK_NAME)
        self.fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock (or adopt the one handed on to this process).

        Raises :class:`FolderLocked` naming the holder's process id when another process has
        it, :class:`RunError` when the folder cannot hold a lock file.
        """
        if fcntl is None:
            return self
        self.fd = self._inherited()
        if self.fd is None:
            self.fd = self._take()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)
        return self

    def _take(self) -> int:
        try:
            os.makedirs(self.folder, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise RunError(f"cannot create the lock file {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                raise RunError(f"cannot lock {self.path}: {exc.strerror}") from None
            holder = holder_pid(self.folder)
            who = f"process {holder}" if holder else "another process"
            stop = f" (stop it with `kill {holder}`)" if holder else ""
            raise FolderLocked(
                f"{self.folder} is in use by {who}, which is training in it{stop}; "
                "wait for it to finish, or give this run another --out"
            ) from None
        return fd

    def _inherited(self) -> int | None:
        """The descriptor of this lock that ``SPECC_RUN_LOCK`` hands to this process, if it
        is open here, is this folder's lock file and holds the lock."""
        fd_text, _, path = os.environ.get(ENV_VAR, "").partition(":")
        if path != self.path or not fd_text.isdigit():
            return None
        fd = int(fd_text)
        try:
            opened, named = os.fstat(fd), os.stat(self.path)
            if (opened.st_dev, opened.st_ino) != (named.st_dev, named.st_ino):
                return None
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # succeeds only where it is ours
        except OSError:
            return None
        os.set_inheritable(fd, False)
        return fd

    def hand_on(self) -> dict[str, str]:
        """Keep the descriptor open across ``exec``; returns the environment that names it."""
        if self.fd is None:
            return {}
        os.set_inheritable(self.fd, True)
        return {ENV_VAR: f"{self.fd}:{self.path}"}

    def announce(self) -> None:
        """Name this lock in the environment of the processes this one starts (torchrun's)."""
        if self.fd is not None:
            os.environ[ENV_VAR] = f"-:{self.path}"

    def release(self) -> None:
        """Drop the lock (ending the process does the same)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def held_by_launcher(folder: str | os.PathLike) -> bool:
    """True when the process that started this one holds ``folder``'s lock for it."""
    _, _, path = os.environ.get(ENV_VAR, "").partition(":")
    return path == os.path.join(os.path.abspath(folder), LOCK_NAME)


def holder_pid(folder: str | os.PathLike) -> int | None:
    """The process id written in ``folder``'s lock file, if any."""
    try:
        with open(os.path.join(folder, LOCK_NAME), encoding="ascii") as handle:
            text = handle.read(32).strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None
