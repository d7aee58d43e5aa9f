"""Finding dataset files on disk, and fetching them (checksum, progress line) where allowed.

Files are looked up in ``--data-dir``, then in the cache (``SPECC_CACHE_DIR``, by default
``~/.cache/specc``); a missing file is downloaded into ``--data-dir`` (or the cache) through a
temporary file, checked against its md5 and renamed.  ``SPECC_NO_DOWNLOAD=1`` turns downloads
off; the error then names the files and where to get them.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request

from .errors import DataError


def cache_dir() -> str:
    """Where downloaded datasets are kept: ``SPECC_CACHE_DIR`` or ``~/.cache/specc``."""
    return os.environ.get("SPECC_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "specc"
    )


def search_dirs(data_dir: str | None, subdirs: tuple[str, ...]) -> list[str]:
    """The folders a dataset's files may be in, in the order they are tried."""
    bases = [d for d in (data_dir, cache_dir()) if d]
    return [os.path.join(b, s) for b in bases for s in ("", *subdirs)]


def find(dirs: list[str], names: tuple[str, ...]) -> str | None:
    """The first ``dir/name`` that is a file, or None."""
    for folder in dirs:
        for name in names:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                return path
    return None


def download_dir(data_dir: str | None) -> str:
    """Where a missing file is downloaded to."""
    return data_dir or cache_dir()


def download(url: str, path: str, md5: str) -> str:
    """Fetch ``url`` to ``path`` (temporary file, md5 check, rename) with a progress line.

    Returns ``path``; raises :class:`DataError` saying what to do when downloads are off or
    fail, and leaves nothing half-downloaded behind.
    """
    where = os.path.dirname(path)
    if os.environ.get("SPECC_NO_DOWNLOAD"):
        reason = "downloads are disabled (SPECC_NO_DOWNLOAD is set)"
    else:
        tmp = f"{path}.part-{os.getpid()}"
        try:
            os.makedirs(where, exist_ok=True)
            with urllib.request.urlopen(url, timeout=30) as response, open(tmp, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0)
                digest, done = hashlib.md5(), 0
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    size = f"/{total / 1e6:.1f}" if total else ""
                    print(f"\rdownloading {url}: {done / 1e6:.1f}{size} MB", end="", flush=True)
            print(flush=True)
            if digest.hexdigest() != md5:
                raise DataError(f"{url}: checksum mismatch (md5 {digest.hexdigest()} != {md5})")
            os.replace(tmp, path)
            return path
        except OSError as exc:
            reason = f"the download failed: {getattr(exc, 'reason', exc)}"
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    raise DataError(
        f"{os.path.basename(path)} is not in --data-dir or {cache_dir()} and {reason}; "
        f"download {url} into {where} (or pass --data-dir)"
    )
