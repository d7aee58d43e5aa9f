"""Emit standalone Keras or PyTorch source for a checked spec (``specc emit``).

The text lives in jinja2 templates under ``templates/<backend>/``: a script skeleton and one
snippet per layer kind (``layers/<kind>.py.j2``, see ``templates/README.md``).  The Python here
builds the context (shapes, parameters, variable names) and fits long lines; it never imports
TensorFlow or PyTorch.
"""

from __future__ import annotations

import re

from specc.compiler import CheckedModel
from specc.emit import keras as keras_backend
from specc.emit import torch as torch_backend
from specc.emit.context import script_context
from specc.emit.environment import EmitError, environment

__all__ = ["BACKENDS", "EmitError", "emit_source"]

BACKENDS = ("keras", "torch")
_MODEL_CONTEXT = {"keras": keras_backend.model_context, "torch": torch_backend.model_context}
# (pattern that shows a use, import line); kept in the order ruff's isort wants them
_IMPORTS = {
    "keras": (
        (r"(?<![\w.])keras\.", "import keras"),
        (r"(?<![\w.])np\.", "import numpy as np"),
        (r"(?<![\w.])layers\.", "from keras import layers"),
    ),
    "torch": (
        (r"(?<![\w.])np\.", "import numpy as np"),
        (r"(?<![\w.])torch\.", "import torch"),
        (r"(?<![\w.])F\.", "import torch.nn.functional as F"),
        (r"(?<![\w.])nn\.", "from torch import nn"),
    ),
}


def emit_source(checked: CheckedModel, backend: str) -> str:
    """The complete, standalone source of ``checked``'s model for ``backend``.

    Raises :class:`EmitError` when the spec has errors, the backend is unknown, or the spec
    uses something the backend cannot express.
    """
    if backend not in BACKENDS:
        raise EmitError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if not checked.ok or checked.model is None:
        raise EmitError("cannot emit a spec that has errors; run `specc check` first")
    env = environment()
    context = script_context(checked, backend)
    context.update(_MODEL_CONTEXT[backend](checked))
    body = env.get_template(f"{backend}/body.py.j2").render(context)
    imports = [line for pattern, line in _IMPORTS[backend] if re.search(pattern, body)]
    return env.get_template(f"{backend}/script.py.j2").render(
        context, body=body, imports="\n".join(imports)
    )
