"""What the command line sets up before anything imports pydantic.

pydantic looks for plugins in every installed distribution's entry points the first time it
builds a validator.  The command line has no use for plugins, so it turns them off; and since
pydantic's loader module imports ``importlib.metadata`` even when plugins are off (~20 ms, longer
than checking a spec), the command line answers the loader's one question itself.  Library use
of specc (``import specc.compiler``) leaves pydantic's defaults alone.
"""

from __future__ import annotations

import os
import sys
import types

PYDANTIC_LOADER = "pydantic.plugin._loader"
# The names pydantic's code takes from its loader; tests/test_startup.py checks the list
# against the installed pydantic, so an upgrade that needs more fails there, not for a user.
LOADER_NAMES = ("get_plugins",)


def no_plugins() -> tuple[()]:
    """What pydantic's own ``get_plugins()`` returns when ``PYDANTIC_DISABLE_PLUGINS`` is set."""
    return ()


def disable_pydantic_plugins() -> None:
    """Turn pydantic's plugins off for this process, without loading its plugin machinery.

    A user's own ``PYDANTIC_DISABLE_PLUGINS`` (say, naming one plugin) is respected: then the
    real loader runs.
    """
    setting = os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "1")
    if setting not in ("1", "true", "__all__") or PYDANTIC_LOADER in sys.modules:
        return
    loader = types.ModuleType(PYDANTIC_LOADER, "pydantic's plugin loader, with plugins off")
    loader.get_plugins = no_plugins
    sys.modules[PYDANTIC_LOADER] = loader
