"""The training harness: data loading, the PyTorch and Keras training loops, the run files.

These modules are real Python, linted and tested in the package, and also copied verbatim
into every run folder (``RUN/specc_harness/``) next to the emitted model file, a generated
``config.json`` and the entry script ``RUN/train.py``.  So they import each other only
relatively (``from . import datasets``), need the framework and numpy but never specc, and
import numpy and the frameworks only inside the functions that use them where ``specc check``
imports the module (``catalog``, ``flags``, ``backends``, ``errors``).
"""
