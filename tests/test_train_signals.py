"""A run is one process tree and one owner of its folder: real runs, real signals.

``specc train`` becomes the training process (exec), so a signal to it reaches the trainer:
SIGINT and SIGTERM stop it after the step in progress with its last checkpoint whole, SIGKILL
leaves no process behind (torchrun's processes included), and while it runs its folder is
refused to every other run, naming its process id.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from specc.harness.lock import RunLock, holder_pid
from tests.test_train import DIGITS, env, train

MARKERS = {"torch": "checkpoint.pt", "keras": "checkpoint/state.json"}


def processes_in(folder: Path) -> set[int]:
    """The live processes whose command line names ``folder`` (Linux's /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(folder) in command:
            found.add(int(entry.name))
    return found


def start_training(tmp_path, backend, *flags):
    """``specc train`` of 200 epochs in ``tmp_path/run``, started; returns (process, folder,
    log path) once its first checkpoint exists."""
    folder = tmp_path / "run"
    log = tmp_path / "log.txt"
    command = [sys.executable, "-m", "specc", "train", str(DIGITS), "-b", backend,
               "--epochs", "200", "--out", str(folder), *flags]  # fmt: skip
    with open(log, "w") as handle:
        proc = subprocess.Popen(command, env=env(), stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while not (folder / MARKERS[backend]).exists():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"no checkpoint was written:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    return proc, folder, log


def wait(proc, timeout=120):
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("the run did not stop")


def wait_until_gone(folder: Path, timeout=30.0) -> set[int]:
    deadline = time.time() + timeout
    while (left := processes_in(folder)) and time.time() < deadline:
        time.sleep(0.2)
    return left


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "signum"), [("torch", signal.SIGTERM), ("keras", signal.SIGINT)]
)
def test_a_signal_stops_the_run_cleanly_and_resume_continues_it(tmp_path, backend, signum):
    proc, folder, log = start_training(tmp_path, backend)
    assert holder_pid(folder) == proc.pid, "specc train itself is the trainer"
    proc.send_signal(signum)
    assert wait(proc) == 128 + signum
    text = log.read_text()
    name = signal.Signals(signum).name
    assert f"stopped by {name} (cleanly); " in text and "Traceback" not in text
    found = re.search(r"holds epochs? 1(?:-(\d+))?; --resume continues the run", text)
    assert found, text[-2000:]
    done = int(found.group(1) or 1)
    assert not wait_until_gone(folder), "no process is left"
    assert not (folder / "run.json").exists(), "a stopped run writes no results"
    result = train(backend, folder, "--epochs", str(done + 1), "--resume")
    assert f"resuming after epoch {done}" in result.stdout, "the checkpoint is whole"
    assert (folder / "run.json").exists()


@pytest.mark.slow
def test_sigkill_of_specc_train_leaves_no_process_behind(tmp_path):
    """Under torchrun (--nproc 2) the workers die with specc train, which is their launcher."""
    proc, folder, _ = start_training(tmp_path, "torch", "--nproc", "2", "--batch", "32")
    workers = processes_in(folder) - {proc.pid}
    assert len(workers) == 2, workers
    proc.send_signal(signal.SIGKILL)
    assert wait(proc) == -signal.SIGKILL
    assert not wait_until_gone(folder), "torchrun's processes outlived specc train"
    RunLock(folder).acquire().release()  # the folder is free again


@pytest.mark.slow
def test_sigterm_stops_every_process_of_a_distributed_run(tmp_path):
    proc, folder, log = start_training(tmp_path, "torch", "--nproc", "2", "--batch", "32")
    proc.send_signal(signal.SIGTERM)
    assert wait(proc) == 128 + signal.SIGTERM
    text = log.read_text()
    assert text.count("stopped by SIGTERM (cleanly)") == 1, "the first process reports"
    assert "checkpoint.pt holds epoch" in text and "Traceback" not in text
    assert not wait_until_gone(folder)


@pytest.mark.slow
def test_a_folder_in_use_is_refused_to_every_other_run(tmp_path):
    proc, folder, _ = start_training(tmp_path, "torch")
    try:
        before = {p: p.stat().st_mtime_ns for p in folder.iterdir() if p.suffix in (".py", ".json")}
        specc = [sys.executable, "-m", "specc"]
        attempts = {
            "specc train": [*specc, "train", str(DIGITS), "--out", str(folder)],
            "--resume": [*specc, "train", str(DIGITS), "--out", str(folder), "--resume"],
            "emit --train": [
                *specc,
                "emit",
                str(DIGITS),
                "-b",
                "torch",
                "--train",
                "-o",
                str(folder),
            ],
            "train.py": [sys.executable, str(folder / "train.py"), "--epochs", "1"],
        }
        for what, command in attempts.items():
            result = subprocess.run(command, env=env(), capture_output=True, text=True, timeout=120)
            assert result.returncode == 2, (what, result.stderr)
            assert f"is in use by process {proc.pid}" in result.stderr, (what, result.stderr)
            assert "Traceback" not in result.stderr
        after = {p: p.stat().st_mtime_ns for p in before}
        assert after == before, "nothing of the running run was rewritten"
        assert proc.poll() is None, "the running run goes on"
    finally:
        proc.send_signal(signal.SIGTERM)
        wait(proc)
    assert os.path.exists(folder / "checkpoint.pt")
