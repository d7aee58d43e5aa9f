"""Every layer kind specc knows, registered on import (see :mod:`specc.layers.base`)."""

from specc.layers import conv, core, norm, pooling  # noqa: F401  (registration side effects)
from specc.layers.base import (
    ACTIVATIONS,
    REGISTRY,
    LayerKind,
    ShapeError,
    all_names,
    canonical,
    fmt_shape,
    lookup,
)

__all__ = [
    "ACTIVATIONS",
    "REGISTRY",
    "LayerKind",
    "ShapeError",
    "all_names",
    "canonical",
    "fmt_shape",
    "lookup",
]
