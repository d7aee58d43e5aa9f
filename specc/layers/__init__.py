"""Every layer kind specc knows, registered on import (see :mod:`specc.layers.base`)."""

from specc.layers import (  # noqa: F401  (registration side effects)
    attention,
    conv,
    conv_extra,
    core,
    embedding,
    merges,  # after core: `specc layers` lists the merges after the core kinds
    norm,
    norm_extra,
    pooling,
    recurrent,
    scaling,
    tokens,
    upsampling,
)
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
