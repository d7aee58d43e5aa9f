"""The train section's optimizer arguments: every one ``specc check`` accepts reaches both
frameworks' optimizers with the value the spec gives, and nothing else is accepted."""

from __future__ import annotations

import pytest

from specc.compiler import check_text
from specc.harness import settings as harness_settings
from specc.harness.main import parse_flags
from specc.run_folder import run_config

# every accepted argument of each optimizer (booleans as 1)
SETTINGS = {
    "adam": "lr=0.01 beta_1=0.8 beta_2=0.99 epsilon=0.000001 amsgrad=1 weight_decay=0.01",
    "adamw": "learning_rate=0.01 beta_1=0.8 beta_2=0.99 epsilon=0.000001 weight_decay=0.02",
    "sgd": "lr=0.01 momentum=0.9 nesterov=1 weight_decay=0.03",
    "rmsprop": "lr=0.01 rho=0.8 momentum=0.5 epsilon=0.000001 centered=1 weight_decay=0.04",
}


def checked_with(optimizer: str, settings: str):
    text = f"model m\ninput 4\ndense 3 softmax\ntrain {{\n  optimizer {optimizer} {settings}\n}}\n"
    return check_text(text, name="m.spec")


def settings_of(checked, backend, tmp_path, *flags):
    """The harness's settings for ``checked`` trained with ``backend`` and ``flags``."""
    return parse_flags(run_config(checked, backend), tmp_path, list(flags), prog="train.py")


def test_the_table_covers_every_optimizer_and_argument():
    assert set(SETTINGS) == set(harness_settings.OPTIMIZERS)
    for name, settings in SETTINGS.items():
        given = {pair.split("=")[0] for pair in settings.split()}
        assert given <= set(harness_settings.OPTIMIZERS[name])
        # the other spelling of the learning rate, and adamw's amsgrad (adam's is tested)
        assert set(harness_settings.OPTIMIZERS[name]) - given <= {"lr", "learning_rate", "amsgrad"}


@pytest.mark.parametrize(
    ("optimizer", "bad", "code"),
    [
        ("sgd", "beta_1=0.9", "E0411"),
        ("adam", "momentum=0.9", "E0411"),
        ("rmsprop", "lr=0", "E0404"),
    ],
)
def test_arguments_the_optimizer_does_not_take_are_errors(optimizer, bad, code):
    checked = checked_with(optimizer, bad)
    assert [d.code for d in checked.diagnostics] == [code]


@pytest.mark.parametrize("optimizer", sorted(SETTINGS))
def test_torch_gets_every_argument(tmp_path, optimizer):
    import torch

    from specc.harness import torch_loop

    checked = checked_with(optimizer, SETTINGS[optimizer])
    assert checked.ok, [d.message for d in checked.diagnostics]
    settings = settings_of(checked, "torch", tmp_path)
    opt = torch_loop.make_optimizer(settings, [torch.nn.Parameter(torch.zeros(2))])
    group = opt.param_groups[0]
    assert group["lr"] == 0.01
    if optimizer in ("adam", "adamw"):
        assert isinstance(opt, torch.optim.AdamW)  # Keras's decay is decoupled
        assert group["betas"] == (0.8, 0.99) and group["eps"] == 1e-6
        assert group["weight_decay"] == (0.01 if optimizer == "adam" else 0.02)
        assert group["amsgrad"] is (optimizer == "adam")
    elif optimizer == "sgd":  # Keras's update rule (torch_optim.py), decoupled decay
        assert group["momentum"] == 0.9 and group["nesterov"] is True
        assert group["weight_decay"] == 0.03
    else:
        assert group["rho"] == 0.8 and group["momentum"] == 0.5
        assert group["epsilon"] == 1e-6 and group["centered"] is True
        assert group["weight_decay"] == 0.04


@pytest.mark.parametrize("optimizer", sorted(SETTINGS))
def test_keras_gets_every_argument(tmp_path, optimizer):
    from specc.harness import keras_loop

    checked = checked_with(optimizer, SETTINGS[optimizer])
    opt = keras_loop.make_optimizer(settings_of(checked, "keras", tmp_path))
    assert float(opt.learning_rate) == pytest.approx(0.01)
    if optimizer in ("adam", "adamw"):
        assert (opt.beta_1, opt.beta_2, opt.epsilon) == (0.8, 0.99, 1e-6)
        assert opt.weight_decay == (0.01 if optimizer == "adam" else 0.02)
        assert opt.amsgrad is (optimizer == "adam")
    elif optimizer == "sgd":
        assert opt.momentum == 0.9 and opt.nesterov is True and opt.weight_decay == 0.03
    else:
        assert (opt.rho, opt.momentum, opt.epsilon, opt.centered) == (0.8, 0.5, 1e-6, True)
        assert opt.weight_decay == 0.04


@pytest.mark.parametrize(
    ("data", "ok"),
    [
        ('"synthetic:256"', True),
        ("synthetic", True),
        ('"npz:data/x.npz"', True),
        ('"folder:images"', True),
        ("imagenet", False),
    ],
)
def test_the_open_data_sources_the_harness_loads_are_accepted(data, ok):
    checked = check_text(f"input 4\ndense 3 softmax\ntrain {{\n  data {data}\n}}\n")
    assert checked.ok is ok, [d.message for d in checked.diagnostics]
    if not ok:
        assert [d.code for d in checked.diagnostics] == ["E0406"]
