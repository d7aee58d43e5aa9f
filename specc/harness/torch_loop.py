"""The PyTorch training loop.

The data lives in tensors built once (on the GPU when it fits), batches are index slices of
them, and the loss and metrics are summed on the device: no per-step Python overhead and no
DataLoader workers.  Under torchrun the model is wrapped in DistributedDataParallel and a
DistributedSampler deals each process its share (the order is a function of the seed and
the epoch); only the first process writes files.  The optimizers, losses and metrics are
tables keyed by the names a spec uses, with Keras's semantics.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import torch_checkpoint
from .datasets import Inputs, load_data
from .errors import RunError, Stopped, saved_epochs
from .runfiles import (
    final_metrics,
    history_row,
    remove_temporaries,
    replace_atomically,
    run_info,
    write_outputs,
)


def _adam(params, lr, options, decoupled_default):
    eps = options.pop("epsilon", 1e-7)  # Keras's epsilon, not torch's 1e-8
    betas = (options.pop("beta_1", 0.9), options.pop("beta_2", 0.999))
    # Keras's weight decay is decoupled, as in torch's AdamW
    decay = options.pop("weight_decay", decoupled_default)
    kind = torch.optim.AdamW if decay else torch.optim.Adam
    return kind(params, lr=lr, betas=betas, eps=eps, weight_decay=decay, **options)


def _rmsprop(params, lr, options):
    eps, alpha = options.pop("epsilon", 1e-7), options.pop("rho", 0.9)
    return torch.optim.RMSprop(params, lr=lr, alpha=alpha, eps=eps, **options)


# name: build(params, lr, options with Keras's argument names)
OPTIMIZERS = {
    "adam": lambda params, lr, options: _adam(params, lr, options, 0.0),
    "adamw": lambda params, lr, options: _adam(params, lr, options, 0.004),  # Keras's default
    "sgd": lambda params, lr, options: torch.optim.SGD(params, lr=lr, **options),
    "rmsprop": _rmsprop,
}
# name: mean loss of a batch, from the model's scores (logits=True) and the labels
LOSSES = {
    "sparse_categorical_crossentropy": lambda scores, y: F.cross_entropy(scores.float(), y),
}
# name: the batch's sum of the metric (divided by the sample count at the end)
METRICS = {
    "accuracy": lambda scores, y: (scores.argmax(1) == y).sum(),
}


def make_optimizer(settings, params):
    """The spec's optimizer with Keras's semantics: Keras's argument names and defaults."""
    try:
        return OPTIMIZERS[settings.optimizer](params, settings.lr, settings.optimizer_options())
    except (TypeError, ValueError) as exc:
        raise RunError(f"optimizer {settings.optimizer} {settings.optimizer_args}: {exc}") from None


def setup(settings):
    """Pick the device and, under torchrun, join the process group: (rank, world, device)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if settings.device == "cuda" and not torch.cuda.is_available():
        raise RunError("--device cuda, but PyTorch sees no CUDA device")
    cuda = settings.device == "cuda" or (settings.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True
    if world > 1:
        torch.distributed.init_process_group("nccl" if cuda else "gloo")
    return rank, world, device


def to_tensor(x, device, channels_last):
    """NHWC / NLC samples as an NCHW / NCL tensor, on ``device`` when it fits there."""
    if x.ndim == 4:
        x = x.transpose(0, 3, 1, 2)
    elif x.ndim == 3:
        x = x.transpose(0, 2, 1)
    tensor = torch.from_numpy(np.ascontiguousarray(x))
    if channels_last and tensor.ndim == 4:
        tensor = tensor.contiguous(memory_format=torch.channels_last)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if tensor.nbytes < free // 4:
            return tensor.to(device)
        return tensor.pin_memory()
    return tensor


class Progress:
    """A tqdm bar over the steps of an epoch (or nothing, where tqdm is missing or rank > 0)."""

    def __init__(self, total, desc, enabled):
        self.bar, self.enabled = None, enabled
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, desc=desc, unit="step", mininterval=0.5, leave=True)

    def update(self, metrics=None):
        """Advance one step; show ``metrics`` (a dict of floats) when given."""
        if self.bar is not None:
            if metrics:
                self.bar.set_postfix({k: f"{v:.4f}" for k, v in metrics.items()}, refresh=False)
            self.bar.update()

    def close(self, metrics):
        """Show the epoch's final metrics and close the bar (or print them)."""
        text = " - ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        if self.bar is None:
            if self.enabled:
                print(text, flush=True)
        else:
            self.bar.set_postfix_str(text, refresh=True)
            self.bar.close()


class Step:
    """What one training step computes: the loss to minimise and the metrics to sum."""

    def __init__(self, settings, device, world, stop):
        self.loss = LOSSES[settings.loss]
        self.metrics = [METRICS[name] for name in settings.metrics]
        self.names = ("loss", *settings.metrics)
        self.amp = settings.mixed_precision
        self.device, self.world, self.stop = device, world, stop

    def totals(self):
        """A zero vector of (loss, metrics..., count) sums, on the device."""
        return torch.zeros(len(self.names) + 1, dtype=torch.float64, device=self.device)

    def scores(self, net, xb):
        """The model's scores before any output softmax, under autocast when asked."""
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            return net(xb, logits=True)

    def add(self, totals, loss, scores, yb):
        """Add the batch's loss and metric sums and its sample count to ``totals``."""
        values = [loss.detach() * len(yb), *(m(scores, yb) for m in self.metrics)]
        totals[:-1] += torch.stack([v.double() for v in values])
        totals[-1] += len(yb)

    def stop_vote(self):
        """The signal every process stops for, once any of them got one, or None."""
        requested = self.stop.requested or 0
        if self.world == 1:
            return requested or None
        flag = torch.tensor([requested], dtype=torch.int64, device=self.device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return int(flag.item()) or None

    def mean(self, totals):
        """Sum ``totals`` over the processes; the mean loss and metrics."""
        if self.world > 1:
            torch.distributed.all_reduce(totals)
        *sums, count = totals.tolist()
        return {} if count == 0 else {n: s / count for n, s in zip(self.names, sums, strict=True)}


def train_epoch(net, optimizer, data, order, batch, step, progress):
    """One pass over ``order`` (this process's sample indices); returns the summed totals.

    Raises :class:`Stopped` at a step where a stop was requested (alone: any step; under
    torchrun: the steps where the processes compare notes, so that all stop together).
    """
    x, y = data
    net.train()
    totals = step.totals()
    order = order.to(x.device)
    steps = -(-len(order) // batch)
    show_every = max(1, steps // 20)
    for i in range(steps):
        idx = order[i * batch : (i + 1) * batch]
        xb = x[idx].to(step.device, non_blocking=True)
        yb = y[idx].to(step.device, non_blocking=True)
        scores = step.scores(net, xb)
        loss = step.loss(scores, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step.add(totals, loss, scores, yb)
        sync = i % show_every == 0 or i == steps - 1
        signum = step.stop_vote() if step.world == 1 or sync else None
        if signum:
            progress.close({})
            raise Stopped(signum)
        if sync:
            seen = float(totals[-1])
            progress.update({n: float(totals[k]) / seen for k, n in enumerate(step.names)})
        else:
            progress.update()
    return totals


@torch.no_grad()
def evaluate(model, data, batch, step, rank):
    """Mean loss and metrics over ``data``, each process taking every ``world``-th sample."""
    x, y = data
    model.eval()
    totals = step.totals()
    shard = torch.arange(rank, len(x), step.world, device=x.device)
    for start in range(0, len(shard), batch):
        idx = shard[start : start + batch]
        xb = x[idx].to(step.device, non_blocking=True)
        yb = y[idx].to(step.device, non_blocking=True)
        scores = step.scores(model, xb).float()
        step.add(totals, step.loss(scores, yb), scores, yb)
    return step.mean(totals)


def train(config, settings, build_model, stop):
    """Train, validate every epoch, checkpoint, test, and write the run folder."""
    started = time.time()
    rank, world, device = setup(settings)
    lead = rank == 0
    out = Path(settings.out)
    checkpoint = out / torch_checkpoint.CHECKPOINT_NAME
    state = None
    if settings.resume and checkpoint.exists():
        state = torch_checkpoint.read(checkpoint, config)
    elif settings.resume and lead:
        print(f"no checkpoint in {out}: starting from scratch", flush=True)
    channels_last = device.type == "cuda" and len(config.input_shape) == 3
    torch.manual_seed(settings.seed)
    inputs = Inputs(config.input_shape, config.num_classes, config.input_dtype, config.vocab_size)
    splits = load_data(settings.data, inputs, settings.data_dir, settings.validation_split)
    model = build_model().to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(settings, model.parameters())
    done, rows = 0, []
    if state is not None:
        done, rows = torch_checkpoint.restore(state, checkpoint, model, optimizer)
        if lead:
            print(f"resuming after epoch {done} from {checkpoint}", flush=True)
    if lead:
        remove_temporaries(out)

    def tensors(split):
        x = to_tensor(split[0], device, channels_last)
        return x, torch.from_numpy(split[1]).to(x.device)

    train_t, val_t, test_t = (tensors(s) for s in splits)
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    if settings.compile:
        net = torch.compile(net)
    sampler = torch.utils.data.DistributedSampler(
        range(len(train_t[1])), num_replicas=world, rank=rank, shuffle=True, seed=settings.seed
    )
    local_batch = max(1, settings.batch // world)
    step = Step(settings, device, world, stop)
    columns = settings.history_columns()
    try:
        with stop.deferred():
            for epoch in range(done, settings.epochs):
                tick = time.time()
                sampler.set_epoch(epoch)
                order = torch.tensor(list(sampler), dtype=torch.int64)
                steps = -(-len(order) // local_batch)
                progress = Progress(steps, f"epoch {epoch + 1}/{settings.epochs}", lead)
                totals = train_epoch(net, optimizer, train_t, order, local_batch, step, progress)
                logs = step.mean(totals)
                val = evaluate(model, val_t, local_batch, step, rank)
                logs.update({f"val_{k}": v for k, v in val.items()})
                progress.close(logs)
                rows.append(history_row(epoch + 1, logs, time.time() - tick, columns))
                if lead:
                    torch_checkpoint.save(checkpoint, config, model, optimizer, epoch + 1, rows)
                done = epoch + 1
                signum = step.stop_vote()
                if signum:
                    raise Stopped(signum)
            test = evaluate(model, test_t, local_batch, step, rank)
            if lead:
                final = final_metrics(rows, test)
                replace_atomically(out / "model.pt", lambda t: torch.save(model.state_dict(), t))
                versions = {"torch": torch.__version__}
                resumed = state["epoch"] if state is not None else None
                info = run_info(
                    config,
                    settings,
                    backend_versions=versions,
                    device=str(device),
                    final=final,
                    started=started,
                    resumed_from=resumed,
                    world=world,
                )
                write_outputs(out, rows, info, settings)
                summary = " - ".join(f"test_{k} {v:.4f}" for k, v in test.items())
                print(
                    f"{summary}\nwrote {out}/ (model.pt, history.csv, curves.png, run.json)",
                    flush=True,
                )
    except Stopped as exc:
        exc.saved = saved_epochs(checkpoint, done)
        raise
    if world > 1:
        torch.distributed.barrier()  # every process waits for the first's files, then all end
        torch.distributed.destroy_process_group()


def launch(entry, argv, nproc):
    """Run ``entry`` (train.py) with ``argv`` in ``nproc`` processes under torchrun, from this
    process (which keeps the run folder's lock); returns the exit status."""
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    from .lifecycle import launched_by

    os.environ.update(launched_by())
    command = ["--standalone", f"--nproc_per_node={nproc}", os.path.abspath(entry)]
    options = torchrun.get_args_parser().parse_args(command)
    options.training_script_args = list(argv)  # never parsed as torchrun's own options
    try:
        torchrun.run(options)
    except SignalException as exc:
        raise Stopped(int(exc.sigval)) from None
    except ChildFailedError as exc:
        codes = [f.exitcode for f in exc.failures.values()]
        return next((c for c in codes if c > 0), 1)
    return 0
