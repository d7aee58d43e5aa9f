"""Keras's SGD and RMSprop as PyTorch optimizers, and the spec's optimizer table.

PyTorch's own ``SGD`` and ``RMSprop`` differ from Keras's where it shows once the learning
rate changes during a run (a schedule):

- SGD with momentum: Keras keeps a velocity of *steps* (``m = momentum * m - lr * g``), PyTorch
  a buffer of *gradients* multiplied by the current rate afterwards;
- RMSprop: Keras adds epsilon inside the square root and scales the increment by the rate
  before the momentum; PyTorch adds it outside and scales after.

So these two are written out with Keras's update rules.  Adam and AdamW are PyTorch's own
(``AdamW`` whenever there is weight decay, which is decoupled in Keras): they differ from
Keras's only in where epsilon sits (PyTorch divides by ``sqrt(v_hat) + eps``, Keras by
``sqrt(v) + eps`` with the bias correction folded into the rate), which matters only for
gradients near epsilon.  Weight decay is always decoupled, as Keras's:
``w -= lr * weight_decay * w`` before the update.
"""

from __future__ import annotations

import torch

from .errors import RunError


class KerasSGD(torch.optim.Optimizer):
    """Keras's SGD: ``m = momentum * m - lr * g``; ``w += m`` (Nesterov:
    ``w += momentum * m - lr * g``); without momentum ``w -= lr * g``."""

    def __init__(self, params, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0):
        if momentum < 0:
            raise ValueError(f"momentum must be at least 0, not {momentum}")
        defaults = {"lr": lr, "momentum": momentum, "nesterov": bool(nesterov),
                    "weight_decay": weight_decay}  # fmt: skip
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter with a gradient."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            lr, momentum, decay = group["lr"], group["momentum"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if decay:
                    p.mul_(1 - lr * decay)
                if not momentum:
                    p.add_(g, alpha=-lr)
                    continue
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                m = state["momentum_buffer"]
                m.mul_(momentum).add_(g, alpha=-lr)
                if group["nesterov"]:
                    p.add_(m, alpha=momentum).add_(g, alpha=-lr)
                else:
                    p.add_(m)
        return loss


class KerasRMSprop(torch.optim.Optimizer):
    """Keras's RMSprop: ``v = rho * v + (1 - rho) * g**2``; the increment
    ``lr * g / sqrt(v + eps)`` (centered: ``v - a**2 + eps``, with ``a`` the mean gradient);
    with momentum ``m = momentum * m + increment``, ``w -= m``."""

    def __init__(self, params, lr=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=0.0):  # fmt: skip
        defaults = {"lr": lr, "rho": rho, "momentum": momentum, "epsilon": epsilon,
                    "centered": bool(centered), "weight_decay": weight_decay}  # fmt: skip
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter with a gradient."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            lr, rho, momentum = group["lr"], group["rho"], group["momentum"]
            eps, decay = group["epsilon"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if decay:
                    p.mul_(1 - lr * decay)
                state = self.state[p]
                if "velocity" not in state:
                    state["velocity"] = torch.zeros_like(p)
                    if group["centered"]:
                        state["average_grad"] = torch.zeros_like(p)
                    if momentum > 0:
                        state["momentum"] = torch.zeros_like(p)
                v = state["velocity"]
                v.mul_(rho).addcmul_(g, g, value=1 - rho)
                if group["centered"]:
                    a = state["average_grad"]
                    a.mul_(rho).add_(g, alpha=1 - rho)
                    denominator = v - a * a + eps
                else:
                    denominator = v + eps
                increment = g * lr / denominator.sqrt()
                if momentum > 0:
                    m = state["momentum"]
                    m.mul_(momentum).add_(increment)
                    p.sub_(m)
                else:
                    p.sub_(increment)
        return loss


def _adam(params, lr, options, decoupled_default):
    eps = options.pop("epsilon", 1e-7)  # Keras's epsilon, not torch's 1e-8
    betas = (options.pop("beta_1", 0.9), options.pop("beta_2", 0.999))
    # Keras's weight decay is decoupled, as in torch's AdamW
    decay = options.pop("weight_decay", decoupled_default)
    kind = torch.optim.AdamW if decay else torch.optim.Adam
    return kind(params, lr=lr, betas=betas, eps=eps, weight_decay=decay, **options)


# name: build(params, lr, options with Keras's argument names)
OPTIMIZERS = {
    "adam": lambda params, lr, options: _adam(params, lr, options, 0.0),
    "adamw": lambda params, lr, options: _adam(params, lr, options, 0.004),  # Keras's default
    "sgd": lambda params, lr, options: KerasSGD(params, lr=lr, **options),
    "rmsprop": lambda params, lr, options: KerasRMSprop(params, lr=lr, **options),
}


def make_optimizer(settings, params):
    """The spec's optimizer with Keras's semantics: Keras's argument names and defaults."""
    try:
        return OPTIMIZERS[settings.optimizer](params, settings.lr, settings.optimizer_options())
    except (TypeError, ValueError) as exc:
        raise RunError(f"optimizer {settings.optimizer} {settings.optimizer_args}: {exc}") from None
