"""The exit statuses of the ``specc`` command line, in one place.

The README's "Exit status" paragraph describes them; scripts and CI rely on them, so a value
never changes meaning.  The values are the training harness's (``specc/harness/errors.py``,
which is copied into run folders and cannot import specc): ``specc train`` becomes the
training process, so both must agree.
"""

from __future__ import annotations

from enum import IntEnum

from specc.harness import errors


class ExitCode(IntEnum):
    """What a ``specc`` command's exit status means."""

    OK = errors.EXIT_OK  # every spec is valid, the command did what it was asked
    ERRORS = errors.EXIT_ERRORS  # a spec has errors (or data, weights or a backend do not fit)
    USAGE = errors.EXIT_USAGE  # how specc was called: flags, files that cannot be read/written
    INTERNAL = errors.EXIT_INTERNAL  # a bug in specc itself (SPECC_DEBUG=1: the traceback)
    INTERRUPTED = errors.EXIT_SIGNAL + 2  # Ctrl-C: 128 + SIGINT, as shells report it
