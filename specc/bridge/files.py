"""Writing the bridge's binary files (ONNX, ``.pt``, ``.weights.h5``) atomically: through a
temporary file in the target's folder and a rename, as :func:`specc.fsutil.atomic_write`
does for text, so that a failure never leaves a half-written file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: str | Path, save: Callable[[Path], None], suffix: str = "") -> None:
    """Call ``save(temporary_path)`` then move the result to ``path``.

    ``suffix`` ends the temporary file's name (Keras picks the format from it:
    ``.weights.h5``).  Missing parent folders are created; on any failure ``path`` is left as
    it was and the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    try:
        save(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # as an ordinary write would leave it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    write_atomically(path, save)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
