"""The exit statuses of the ``specc`` command line, in one place.

The README's "Exit status" paragraph describes them; scripts and CI rely on them, so a value
never changes meaning.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a ``specc`` command's exit status means."""

    OK = 0  # every spec is valid, the command did what it was asked
    ERRORS = 1  # a spec has errors (or data, weights or a backend do not fit it)
    USAGE = 2  # how specc was called: flags, files that cannot be read or written
    INTERNAL = 3  # a bug in specc itself (SPECC_DEBUG=1 shows the traceback)
    INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as shells report it
