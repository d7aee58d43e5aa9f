"""The train section of a model with several inputs: what its data and settings must be.

Each input is matched by its name to an array of samples (``x_train_NAME`` in an .npz
archive; ``synthetic`` makes one per input).  A named dataset has one array of samples
(E0422, at the second input), and augmentation and normalisation transform one image input
(E0418).  Nothing here imports a framework.
"""

from __future__ import annotations

from specc import data_catalog
from specc.diagnostics import Diagnostic, error
from specc.ir import Model
from specc.source import Span

SEVERAL_INPUTS_DATA = "npz:PATH (x_train_NAME and x_test_NAME per input) or synthetic"


def several(model: Model) -> bool:
    """Whether the model has several inputs."""
    return len(model.inputs) > 1


def data_diagnostics(
    info: data_catalog.DatasetInfo, model: Model, *, data_span: Span | None = None, origin: str = ""
) -> list[Diagnostic]:
    """A named dataset (one array of samples) against a model with several inputs."""
    second = model.nodes[model.inputs[1]]
    where = f" ({origin})" if origin else ""
    named = ((data_span, f"data is {info.name}"),) if data_span else ()
    return [
        error(
            "E0422",
            f"{info.name} has one array of samples, but the model has several inputs",
            second.name_span,
            f"no samples in {info.name}{where} for a second input",
            related=named,
            help=f"train a model with several inputs on {SEVERAL_INPUTS_DATA}",
        )
    ]


def setting_diagnostics(model: Model) -> list[Diagnostic]:
    """Augmentation and normalisation, which transform one image input."""
    train = model.train
    return [
        error(
            "E0418",
            f"`{key}` transforms one image input, but the model has {len(model.inputs)} inputs",
            train.spans[key],
            "not for a model with several inputs",
            help=f"drop `{key}`",
        )
        for key in ("augment", "normalize")
        if key in train.spans and (key == "normalize" or train.augment)
    ]
