"""One training step in PyTorch, with Keras's meaning: the loss and metric sums of a batch,
and the update -- gradient accumulation, clipping, the learning rate of the step, decoupled
weight decay (in the optimizer).

Keras's optimizer does, at every batch: add the gradients to its accumulators; at every N-th
batch (N = ``accumulate``), average them, clip them (``global_clipnorm`` or ``clipvalue``),
decay the weights and update them with the rate its schedule gives at the batch's index.
:class:`Optimisation` does the same in the same order, so both backends take the same steps.
"""

from __future__ import annotations

import torch

from . import schedules
from .errors import Stopped
from .torch_metrics import TotalLoss, make_metrics, output_metrics


class Optimisation:
    """The updates of a run: which batches update, the learning rate at each, clipping."""

    def __init__(self, settings, optimizer, parameters, per_epoch: int, total: int):
        self.optimizer = optimizer
        self.parameters = [p for p in parameters if p.requires_grad]
        self.every = settings.accumulate
        self.clip = settings.clip
        self.schedule, self.schedule_args = settings.schedule, settings.schedule_args
        self.lr, self.per_epoch, self.total = settings.lr, per_epoch, total
        self.plateau_lr = settings.lr  # reduce-on-plateau's rate, set between epochs
        self.batch_step = 0  # batches seen in the whole run (Keras's optimizer.iterations)

    def rate(self, step: int) -> float:
        """The learning rate of batch ``step``."""
        if self.schedule in schedules.EPOCH_SCHEDULES:
            return self.plateau_lr
        return schedules.rate(
            self.schedule, self.schedule_args, self.lr, step, self.per_epoch, self.total
        )

    def backward(self, loss) -> bool:
        """Add the batch's gradients; update when the batch completes an accumulation.
        Returns whether it updated."""
        loss.backward()
        step = self.batch_step
        self.batch_step += 1
        if (step + 1) % self.every:
            return False
        grads = [p.grad for p in self.parameters if p.grad is not None]
        if self.every > 1:
            torch._foreach_div_(grads, float(self.every))
        if "norm" in self.clip:
            clip_by_global_norm(grads, self.clip["norm"])
        elif "value" in self.clip:
            for g in grads:
                g.clamp_(-self.clip["value"], self.clip["value"])
        lr = self.rate(step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return True

    def state(self) -> dict:
        """What a checkpoint keeps: the step count, the plateau's rate, pending gradients."""
        pending = self.batch_step % self.every != 0
        grads = [p.grad.detach().cpu().clone() if pending and p.grad is not None else None
                 for p in self.parameters]  # fmt: skip
        return {"batch_step": self.batch_step, "plateau_lr": self.plateau_lr, "grads": grads}

    def restore(self, state: dict) -> None:
        """Continue from a checkpoint's :meth:`state`."""
        self.batch_step = int(state["batch_step"])
        self.plateau_lr = float(state["plateau_lr"])
        for p, g in zip(self.parameters, state.get("grads") or [], strict=False):
            p.grad = None if g is None else g.to(p.device)


def clip_by_global_norm(grads, clip: float) -> None:
    """Scale the gradients by ``clip / max(norm, clip)`` (Keras's ``global_clipnorm``)."""
    if not grads:
        return
    norms = torch._foreach_norm(grads)
    total = torch.linalg.vector_norm(torch.stack([n.float() for n in norms]))
    scale = clip / torch.clamp(total, min=clip)
    torch._foreach_mul_(grads, scale.to(grads[0].dtype))


class Step:
    """What one training step computes: the loss to minimise and the metric sums.

    With several outputs (``outputs``: the configuration's, in the model's order) the model's
    tuple of scores becomes a dict by output name, the labels are one, and the sums hold each
    output's unweighted loss and metrics besides the weighted total, reported under Keras's
    names (``cultivar_loss``, ``cultivar_accuracy``).  Each output's loss is what Keras reports
    under its TensorFlow backend: the mean of the batches' means, every batch counting once
    (Keras weighs them by a batch size its compiled step does not know), where the total loss
    and the metrics count every sample once.  With several inputs (``inputs``) a batch's
    samples are a dict by input name, passed to ``forward`` in the model's order.
    """

    def __init__(self, settings, device, world, stop, sigmoid: bool, classes: int, outputs=(),
                 inputs=()):  # fmt: skip
        self.loss = TotalLoss(settings.losses)
        self.inputs = tuple(i.name for i in inputs)  # several: the model takes one tensor each
        self.outputs = tuple(o.name for o in outputs)
        if outputs:
            shape = {o.name: o for o in outputs}
            self.metrics = {}
            for term in settings.losses:
                out = shape[term.output]
                self.metrics.update(output_metrics(term, out.activation == "sigmoid", out.classes))
        else:
            made = make_metrics(settings, sigmoid, classes)
            self.metrics = {name: (None, stat) for name, stat in made.items()}
        self.parts = tuple(f"{name}_loss" for name in self.outputs)
        self.names = ("loss", *self.parts, *self.metrics)
        self.sizes = [3, len(self.parts), *(m.size for _, m in self.metrics.values())]
        self.amp = settings.mixed_precision
        self.device, self.world, self.stop = device, world, stop

    def totals(self):
        """A zero vector of the loss's and the metrics' sums, on the device."""
        return torch.zeros(sum(self.sizes), dtype=torch.float64, device=self.device)

    def scores(self, net, xb, as_float=False):
        """The model's scores before any output softmax or sigmoid, under autocast if asked
        (a dict by output name for several outputs; float32 when ``as_float``)."""
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            if self.inputs:
                scores = net(*(xb[name] for name in self.inputs), logits=True)
            else:
                scores = net(xb, logits=True)
        if self.outputs:
            scores = dict(zip(self.outputs, scores, strict=True))
        if as_float:
            return {k: v.float() for k, v in scores.items()} if self.outputs else scores.float()
        return scores

    def add(self, totals, loss, parts, scores, yb):
        """Add the batch's loss sum, its sample count, one batch, each output's loss
        (``parts``) and the metric sums to ``totals``."""
        with torch.no_grad():
            count = len(next(iter(yb.values()))) if isinstance(yb, dict) else len(yb)
            totals[0] += loss.detach().double() * count
            totals[1] += count
            totals[2] += 1
            for i, name in enumerate(self.outputs):
                totals[3 + i] += parts[name].detach().double()
            start = 3 + len(self.parts)
            for output, metric in self.metrics.values():
                s, y = (scores, yb) if output is None else (scores[output], yb[output])
                totals[start : start + metric.size] += metric.update(s, y).to(totals.device)
                start += metric.size

    def values(self, totals) -> dict:
        """The mean loss and the metrics of ``totals`` (already summed over processes)."""
        flat = totals.tolist()
        if flat[1] == 0:
            return {}
        found = {"loss": flat[0] / flat[1]}
        for i, name in enumerate(self.parts):
            found[name] = flat[3 + i] / flat[2]
        start = 3 + len(self.parts)
        for name, (_, metric) in self.metrics.items():
            found[name] = metric.result(flat[start : start + metric.size])
            start += metric.size
        return found

    def stop_vote(self):
        """The signal every process stops for, once any of them got one, or None."""
        requested = self.stop.requested or 0
        if self.world == 1:
            return requested or None
        flag = torch.tensor([requested], dtype=torch.int64, device=self.device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return int(flag.item()) or None

    def mean(self, totals) -> dict:
        """Sum ``totals`` over the processes; the mean loss and the metrics."""
        if self.world > 1:
            torch.distributed.all_reduce(totals)
        return self.values(totals)


def memory_batches(data, order, batch, device):
    """Batches of the tensors ``data`` in ``order`` (indices), moved to ``device``."""
    x, y = data
    order = order.to(next(iter(x.values())).device if isinstance(x, dict) else x.device)

    def take(v):  # one tensor, or a dict of them (several inputs or outputs)
        if isinstance(v, dict):
            return {name: t[idx].to(device, non_blocking=True) for name, t in v.items()}
        return v[idx].to(device, non_blocking=True)

    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        yield take(x), take(y)


def train_epoch(net, optimisation, batches, steps, step, progress):
    """One pass over ``batches`` (``steps`` of them: this process's share); returns the
    summed totals.

    Raises :class:`Stopped` at a step where a stop was requested (alone: any step; under
    torchrun: the steps where the processes compare notes, so that all stop together).
    """
    net.train()
    totals = step.totals()
    show_every = max(1, steps // 20)
    for i, (xb, yb) in enumerate(batches):
        scores = step.scores(net, xb)
        loss, parts = step.loss.parts(scores, yb)
        optimisation.backward(loss)
        step.add(totals, loss, parts, scores, yb)
        sync = i % show_every == 0 or i == steps - 1
        signum = step.stop_vote() if step.world == 1 or sync else None
        if signum:
            progress.close({})
            raise Stopped(signum)
        if sync:
            progress.update(step.values(totals))
        else:
            progress.update()
    return totals


@torch.no_grad()
def evaluate(model, batches, step):
    """Mean loss and metrics over ``batches`` (this process's share), summed over the
    processes."""
    model.eval()
    totals = step.totals()
    for xb, yb in batches:
        scores = step.scores(model, xb, as_float=True)
        step.add(totals, *step.loss.parts(scores, yb), scores, yb)
    return step.mean(totals)
