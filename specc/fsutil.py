"""Filesystem helpers: writes that never leave a half-written file behind.

A rewrite goes through a temporary file in the target's folder and a rename, so a reader sees
the old file or the new one, never a mix.  The new file gets what the old one had: its
permission bits, and its owner and group where this process may set them; a symbolic link stays
a link and its target is rewritten; a file that did not exist gets ``0666 & ~umask``, as
``open()`` would give it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path


def atomic_write(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename.

    When ``path`` is a symbolic link, the file it points to is written (the link stays).  An
    existing file keeps its mode, and its owner and group when permitted; a new one gets the
    umask-derived mode.  Missing parent folders are created.  A failure raises
    :class:`OSError` naming ``path`` (not the temporary file), and leaves ``path`` as it was.
    """
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    if target.is_symlink():  # a loop of links: never replace a link by a file
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        _copy_metadata(fd, target)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise


def _copy_metadata(fd: int, target: Path) -> None:
    """Give the temporary file ``fd`` the mode (and owner) that ``target`` has or would get."""
    try:
        old = os.stat(target)
    except FileNotFoundError:
        os.fchmod(fd, 0o666 & ~current_umask())
        return
    os.fchmod(fd, stat.S_IMODE(old.st_mode))
    if (old.st_uid, old.st_gid) != _owner(fd):
        try:
            os.fchown(fd, old.st_uid, old.st_gid)
        except PermissionError:  # not root: keep at least the group, if we belong to it
            with contextlib.suppress(PermissionError):
                os.fchown(fd, -1, old.st_gid)
        # chown may clear the set-user-ID and set-group-ID bits: set the mode again
        os.fchmod(fd, stat.S_IMODE(old.st_mode))


def _owner(fd: int) -> tuple[int, int]:
    info = os.fstat(fd)
    return info.st_uid, info.st_gid


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore it (not thread-safe, but brief)
    os.umask(mask)
    return mask
