"""The PyTorch training loop.

The data lives in tensors built once (on the GPU when it fits), batches are index slices of
them, and the loss and metric sums stay on the device: no per-step Python overhead and no
DataLoader workers (an image folder too large for memory streams through a DataLoader
instead, ``streaming.py``).  Under torchrun the model is wrapped in DistributedDataParallel
and a DistributedSampler deals each process its share (the order is a function of the seed
and the epoch); only the first process writes files.  The step (``torch_step.py``), the
losses and metrics (``torch_metrics.py``) and the optimizers (``torch_optim.py``) have
Keras's meaning.
"""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path

import numpy as np
import torch

from . import torch_checkpoint
from .datasets import inputs_of, load_dataset
from .epochs import Preprocess, Records, make_monitor, steps_per_epoch
from .errors import RunError, Stopped, saved_epochs
from .feeds import count, each
from .runfiles import remove_temporaries, replace_atomically
from .streaming import open_stream
from .torch_optim import make_optimizer
from .torch_step import Optimisation, Step, evaluate, memory_batches, train_epoch
from .tracking import TorchBoard

__all__ = ["launch", "make_optimizer", "train"]


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


def train(config, settings, build_model, stop):
    """Train, validate every epoch, checkpoint, test, and write the run folder."""
    rank, world, device = setup(settings)
    lead = rank == 0
    out = Path(settings.out)
    checkpoint = out / torch_checkpoint.CHECKPOINT_NAME
    state = None
    if settings.resume and checkpoint.exists():
        state = torch_checkpoint.read(checkpoint, config)
    elif settings.resume and lead:
        print(f"no checkpoint in {out}: starting from scratch", flush=True)
    channels_last = device.type == "cuda" and len(config.input_shape) == 3 and not config.inputs
    torch.manual_seed(settings.seed)
    inputs = inputs_of(config)
    stream = open_stream(settings, inputs)
    data = None
    if stream is None:
        data = load_dataset(settings.data, inputs, settings.data_dir, settings.validation_split)
    prep = Preprocess(settings, () if config.inputs else config.input_shape)
    model = build_model().to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(settings, model.parameters())

    def tensors(x, y):
        x = each(x, lambda v, _: to_tensor(v, device, channels_last))  # several inputs: a dict
        where = next(iter(x.values())).device if isinstance(x, dict) else x.device
        if isinstance(y, dict):  # several outputs: a label set each
            return x, {name: torch.from_numpy(v).to(where) for name, v in y.items()}
        return x, torch.from_numpy(y).to(where)

    if stream is None:
        (x_train, y_train), val, test = data.splits
        val_t, test_t = (tensors(prep.evaluation(x), y) for x, y in (val, test))
        train_t = None if prep.per_epoch else tensors(prep.training(x_train, 0), y_train)
        samples = count(x_train)
    else:
        samples = stream.count("train")
    sampler = torch.utils.data.DistributedSampler(
        range(samples), num_replicas=world, rank=rank, shuffle=True, seed=settings.seed
    )
    local_batch = max(1, settings.batch // world)
    per_epoch = steps_per_epoch(len(sampler), local_batch)
    optimisation = Optimisation(settings, optimizer, model.parameters(), per_epoch,
                                per_epoch * settings.epochs)  # fmt: skip
    monitor = make_monitor(settings)
    done, rows = 0, []
    if state is not None:
        done, rows = torch_checkpoint.restore(state, checkpoint, model, optimizer)
        optimisation.restore(state["loop"]["optimisation"])
        monitor.state.update(state["loop"]["monitor"])
        if lead:
            print(f"resuming after epoch {done} from {checkpoint}", flush=True)
    best = _best_weights(out, monitor, state, model)
    if lead:
        remove_temporaries(out)
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    if settings.compile:
        net = torch.compile(net)
    step = Step(settings, device, world, stop, config.output_activation == "sigmoid",
                int(config.output_shape[-1]) if config.output_shape else 1,
                config.outputs, config.inputs)  # fmt: skip

    def shard(split):  # this process's share of an evaluation split
        if stream is not None:
            return torch.arange(rank, stream.count(split), world)
        return torch.arange(rank, count((val_t if split == "val" else test_t)[0]), world)

    def evaluation(split):
        if stream is not None:
            return stream_batches(stream, split, shard(split), local_batch, settings, prep, None,
                                  device, channels_last)  # fmt: skip
        return memory_batches(val_t if split == "val" else test_t, shard(split), local_batch,
                              device)  # fmt: skip

    records = Records(config, settings, out, lead, {"torch": torch.__version__})
    board = TorchBoard(out) if lead and settings.tensorboard else None
    try:
        with stop.deferred():
            for epoch in range(done, settings.epochs):
                tick = time.time()
                sampler.set_epoch(epoch)
                order = torch.tensor(list(sampler), dtype=torch.int64)
                progress = Progress(per_epoch, f"epoch {epoch + 1}/{settings.epochs}", lead)
                if stream is not None:
                    batches = stream_batches(stream, "train", order, local_batch, settings, prep,
                                             epoch, device, channels_last)  # fmt: skip
                else:
                    if prep.per_epoch:
                        train_t = tensors(prep.training(x_train, epoch), y_train)
                    batches = memory_batches(train_t, order, local_batch, device)
                totals = train_epoch(net, optimisation, batches, per_epoch, step, progress)
                logs = step.mean(totals)
                validated = evaluate(model, evaluation("val"), step)
                logs.update({f"val_{k}": v for k, v in validated.items()})
                logs["lr"] = optimisation.rate(optimisation.batch_step)
                progress.close({k: v for k, v in logs.items() if k != "lr"})
                actions = monitor.end_epoch(epoch + 1, logs)
                if actions["best"]:
                    best = copy.deepcopy(model.state_dict())
                    if lead:
                        _save(out / "best.pt", best)
                if actions["lr"] is not None:
                    optimisation.plateau_lr = actions["lr"]
                records.epoch(rows, epoch + 1, logs, time.time() - tick)
                if board is not None:
                    updates = optimisation.batch_step // settings.accumulate
                    board.log_epoch(epoch, logs, logs["lr"], updates)
                records.announce(actions, epoch + 1, monitor)
                if lead:
                    loop = {"optimisation": optimisation.state(), "monitor": dict(monitor.state)}
                    torch_checkpoint.save(checkpoint, config, model, optimizer, epoch + 1, rows,
                                          loop)  # fmt: skip
                done = epoch + 1
                signum = step.stop_vote()
                if signum:
                    raise Stopped(signum)
                if actions["stop"]:
                    break
            if monitor.restore_best and best is not None:
                model.load_state_dict(best)
            tested = evaluate(model, evaluation("test"), step)
            if lead:
                replace_atomically(out / "model.pt", lambda t: torch.save(model.state_dict(), t))
                model_files = ["model.pt", *(["best.pt"] if (out / "best.pt").exists() else [])]
                resumed = state["epoch"] if state is not None else None
                vocabulary = data.vocabulary if data is not None else None
                records.finish(rows, tested, str(device), resumed, world, model_files, monitor,
                               vocabulary)  # fmt: skip
                summary = " - ".join(f"test_{k} {v:.4f}" for k, v in tested.items())
                print(
                    f"{summary}\nwrote {out}/ (model.pt, history.csv, curves.png, run.json)",
                    flush=True,
                )
    except Stopped as exc:
        exc.saved = saved_epochs(checkpoint, done)
        records.abandon()
        raise
    finally:
        if board is not None:
            board.close()
    if world > 1:
        torch.distributed.barrier()  # every process waits for the first's files, then all end
        torch.distributed.destroy_process_group()


class StreamDataset(torch.utils.data.Dataset):
    """The images of one split of a streamed folder, decoded when asked for."""

    def __init__(self, stream, split):
        self.stream, self.split = stream, split
        self.labels = stream.labels(split)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.stream.decode(self.split, index), self.labels[index], index


def _collate(items):
    x, y, index = zip(*items, strict=True)
    return np.stack(x), np.asarray(y), np.asarray(index)


def stream_batches(stream, split, order, batch, settings, prep, epoch, device, channels_last):
    """Batches of a streamed split in ``order``, decoded by ``settings.workers`` DataLoader
    processes (augmented for ``epoch`` when training, normalised), moved to ``device``."""
    loader = torch.utils.data.DataLoader(
        StreamDataset(stream, split),
        batch_size=batch,
        sampler=[int(i) for i in order],
        num_workers=settings.workers,
        collate_fn=_collate,
        pin_memory=device.type == "cuda",
    )
    count = stream.count(split)
    for x, y, index in loader:
        x = prep.evaluation(x) if epoch is None else prep.training_batch(x, index, epoch, count)
        xb = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        yield xb.to(device, non_blocking=True), torch.from_numpy(y).to(device)


def _save(path: Path, weights) -> None:
    replace_atomically(path, lambda tmp: torch.save(weights, tmp))


def _best_weights(out: Path, monitor, state, model):
    """The best epoch's weights so far: none at the start; ``best.pt`` when resuming."""
    if state is None or not monitor.state["best_epoch"] or not (out / "best.pt").exists():
        return None
    try:
        return torch.load(out / "best.pt", map_location="cpu", weights_only=True)
    except Exception as exc:  # a damaged file: torch raises many kinds
        raise RunError(f"cannot read {out / 'best.pt'} to resume: {exc}; remove it") from None


def launch(entry, argv, settings):
    """Run ``entry`` (train.py) with ``argv`` under torchrun: ``settings.nproc`` processes on
    this machine, on ``settings.nnodes`` machines that meet at ``settings.rdzv_endpoint``;
    from this process (which keeps the run folder's lock).  Returns the exit status."""
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    from .lifecycle import launched_by

    os.environ.update(launched_by())
    if settings.nnodes > 1:
        command = [
            f"--nnodes={settings.nnodes}",
            f"--node_rank={settings.node_rank}",
            "--rdzv_backend=static",
            f"--rdzv_endpoint={settings.rdzv_endpoint}",
            f"--nproc_per_node={settings.nproc}",
        ]
    else:
        command = ["--standalone", f"--nproc_per_node={settings.nproc}"]
    options = torchrun.get_args_parser().parse_args([*command, os.path.abspath(entry)])
    options.training_script_args = list(argv)  # never parsed as torchrun's own options
    try:
        torchrun.run(options)
    except SignalException as exc:
        raise Stopped(int(exc.sigval)) from None
    except ChildFailedError as exc:
        codes = [f.exitcode for f in exc.failures.values()]
        return next((c for c in codes if c > 0), 1)
    return 0
