"""The backends: what each needs installed, the extra that installs it, its training loop.

One list, used by ``specc`` (its ``--backend`` choices, the check that the framework is there
before anything is written) and by the harness in a run folder (the same check, then the loop).
Finding a module does not import it: ``importlib.util.find_spec`` only looks.
"""

from __future__ import annotations

import importlib.util
import os
import sys


class Backend:
    """A framework the emitted model and the harness can use.

    (A plain class rather than a dataclass: ``specc check`` imports this module, and a
    dataclass costs a millisecond to create.)
    """

    __slots__ = ("extra", "framework", "loop", "modules", "name", "packages")

    def __init__(self, name, framework, modules, packages, extra, loop):
        self.name = name
        self.framework = framework  # as people call it
        self.modules: tuple[str, ...] = modules  # what must be importable to train
        self.packages: tuple[str, ...] = packages  # what `pip install` gives, outside specc
        self.extra = extra  # specc's optional extra: pip install 'specc[EXTRA]'
        self.loop = loop  # the harness module that trains with it


BACKENDS: dict[str, Backend] = {
    backend.name: backend
    for backend in (
        Backend(
            "keras", "Keras 3", ("keras", "numpy"), ("keras", "tensorflow"), "keras", "keras_loop"
        ),
        Backend("torch", "PyTorch", ("torch", "numpy"), ("torch", "numpy"), "torch", "torch_loop"),
    )
}
NAMES = tuple(BACKENDS)
# Keras runs on TensorFlow unless KERAS_BACKEND names another framework.
KERAS_ENGINES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def required_modules(name: str) -> tuple[str, ...]:
    """The modules ``name``'s training needs, Keras's engine included."""
    modules = BACKENDS[name].modules
    if name == "keras":
        engine = os.environ.get("KERAS_BACKEND", "tensorflow")
        modules = (*modules, KERAS_ENGINES.get(engine, engine))
    return modules


def missing_modules(names: tuple[str, ...] | list[str]) -> list[str]:
    """Which of the backends ``names`` need modules that are not installed, by module name."""
    missing: list[str] = []
    for name in names:
        for module in required_modules(name):
            if module not in missing and not _installed(module):
                missing.append(module)
    return missing


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or blocked package counts as missing
        return False


def missing_message(names: tuple[str, ...] | list[str], missing: list[str], *, specc: bool) -> str:
    """What to tell a user whose Python lacks ``missing`` for ``names``: the install line.

    ``specc=True`` names specc's extra (``pip install 'specc[torch]'``), otherwise the plain
    packages, for a run folder used without specc.
    """
    frameworks = " and ".join(BACKENDS[n].framework for n in names)
    if specc:
        extra = names[0] if len(names) == 1 else "all"
        install = f"pip install 'specc[{BACKENDS[extra].extra if extra in BACKENDS else extra}]'"
    else:
        packages = [p for n in names for p in BACKENDS[n].packages]
        install = "pip install " + " ".join(dict.fromkeys(packages))
    return (
        f"this needs {frameworks}, but {', '.join(missing)} "
        f"{'is' if len(missing) == 1 else 'are'} not installed in {sys.executable}; "
        f"install {'it' if len(missing) == 1 else 'them'} with: {install}"
    )
