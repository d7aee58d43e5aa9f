"""Train the model in this folder: ``python train.py --help`` lists the flags.

specc writes this file as ``RUN/train.py``, next to the model file, ``config.json`` (what the
spec decides) and ``specc_harness/`` (the training harness).  It needs the framework and
numpy, not specc, and runs from any current directory.
"""

import os
import sys


def main() -> int:
    """Run this folder with the command line's flags; returns the exit status."""
    here = os.path.dirname(os.path.abspath(__file__))
    if __package__:  # imported from the specc package, where the harness is this package
        from .main import main as run
    else:
        if here not in sys.path:
            sys.path.insert(0, here)
        from specc_harness.main import main as run
    return run(sys.argv[1:], folder=here, entry=os.path.abspath(__file__))


if __name__ == "__main__":
    sys.exit(main())
