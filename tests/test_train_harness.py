"""The harness's modules on their own: flags, configuration, run files, lock, signals, and
the run folder specc writes (byte-for-byte copies, standalone: no specc import)."""

from __future__ import annotations

import argparse
import ast
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from specc import cli
from specc.compiler import check_file
from specc.harness import backends, config, flags, lifecycle, lock, runfiles
from specc.harness.errors import FolderLocked, RunError, Stopped
from specc.harness.main import parse_flags
from specc.run_folder import HARNESS_DIR, run_config, write_run_folder
from tests.test_train import DIGITS, env

# what a harness module may import besides the standard library and its siblings
THIRD_PARTY = {"numpy", "torch", "keras", "tensorflow", "sklearn", "matplotlib", "tqdm", "PIL",
               "mlflow"}  # fmt: skip


def digits_config(backend="torch"):
    return run_config(check_file(str(DIGITS)), backend)


def train_parser():
    """The ``specc train`` subparser of the command line."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train"]


def options(parser):
    return {s for a in parser._actions for s in a.option_strings if s.startswith("--")}


def test_specc_train_and_train_py_take_the_same_flags(tmp_path):
    harness = argparse.ArgumentParser()
    flags.add_flags(harness, defaults=digits_config().train)
    assert options(train_parser()) - {"--help", "--backend"} == options(harness) - {"--help"}


def test_flags_given_to_specc_train_reach_train_py_unchanged(tmp_path):
    argv = ["--data", "iris", "--data-dir", "/d", "--epochs", "3", "--batch", "7", "--seed", "9",
            "--lr", "0.5", "--validation-split", "0.25", "--device", "cpu", "--nproc", "2",
                "--resume", "--compile", "--mixed-precision"]  # fmt: skip
    given = train_parser().parse_args(["spec", *argv, "--out", "elsewhere"])
    forwarded = flags.to_argv(given)
    assert "--out" not in forwarded, "the run folder is train.py's own"
    settings = parse_flags(digits_config(), tmp_path, forwarded, prog="train.py")
    assert (settings.data, settings.data_dir, settings.epochs, settings.batch) == (
        "iris",
        "/d",
        3,
        7,
    )
    assert (settings.seed, settings.lr, settings.validation_split) == (9, 0.5, 0.25)
    assert (settings.device, settings.nproc) == ("cpu", 2)
    assert settings.resume and settings.compile and settings.mixed_precision
    assert settings.out == str(tmp_path)
    nothing = flags.to_argv(train_parser().parse_args(["spec"]))
    assert nothing == [], "flags not given leave the spec's values"


def test_train_py_defaults_are_the_spec_train_section(tmp_path):
    settings = parse_flags(digits_config(), tmp_path, [], prog="train.py")
    # specs/digits_cnn.spec: data digits, adam lr=0.001, batch 32, epochs 20, seed 0
    assert (settings.data, settings.lr, settings.batch, settings.epochs) == (
        "digits",
        0.001,
        32,
        20,
    )
    assert (settings.seed, settings.validation_split, settings.nproc) == (0, 0.1, 1)
    assert settings.optimizer == "adam" and settings.metrics == ("accuracy",)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--batch", "-3"], "--batch must be at least 1"),
        (["--lr", "0"], "--lr must be above 0.0"),
        (["--lr", "nan"], "--lr must be a finite number"),
        (["--validation-split", "1"], "--validation-split must be below 1.0"),
        (["--seed", "-1"], "--seed must be at least 0"),
        (["--nproc", "0"], "--nproc must be at least 1"),
    ],
)
def test_bad_values_are_refused_the_same_way_by_both(tmp_path, capsys, argv, message):
    assert cli.main(["train", str(DIGITS), *argv, "--out", str(tmp_path / "r")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists(), "nothing is written"
    with pytest.raises(SystemExit) as exit_info:
        parse_flags(digits_config(), tmp_path, argv, prog="train.py")
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_the_backends_are_one_list():
    assert train_parser()._option_string_actions["--backend"].choices == backends.NAMES
    assert set(backends.NAMES) == set(config.CHECKPOINTS)
    for backend in backends.BACKENDS.values():
        assert (HARNESS_DIR / f"{backend.loop}.py").is_file()


def test_the_missing_framework_message_names_the_install():
    message = backends.missing_message(["torch"], ["torch", "numpy"], specc=True)
    assert "torch, numpy are not installed" in message and "pip install 'specc[torch]'" in message
    both = backends.missing_message(["keras", "torch"], ["tensorflow"], specc=True)
    assert "Keras 3 and PyTorch" in both and "pip install 'specc[all]'" in both
    plain = backends.missing_message(["torch"], ["torch"], specc=False)
    assert plain.endswith("pip install torch numpy") and "specc" not in plain


def test_config_round_trips_and_bad_files_are_named(tmp_path):
    original = digits_config("keras")
    path = tmp_path / "config.json"
    path.write_text(config.config_text(original))
    assert config.read_config(path) == original
    document = json.loads(path.read_text())
    assert document["spec"]["sha256"] == original.spec_sha256 and len(original.spec_sha256) == 64
    assert document["input"] == {"shape": [8, 8, 1], "dtype": "float32", "vocab_size": None}
    assert document["output"] == {"shape": [10], "classes": 10, "activation": "softmax"}
    cases = [
        ("{", r"config\.json is not valid JSON \(line 1\)"),
        (json.dumps({**document, "format": 9}), "has format 9; this harness reads format 3"),
        (json.dumps({**document, "format": 2}), "write the run folder again with this specc"),
        (json.dumps({**document, "outputs": [{"name": "a"}]}), r"outputs\[0\]\.shape must be"),
        (json.dumps({**document, "backend": "jax"}), "unknown backend 'jax'"),
        (json.dumps({**document, "train": {"data": "digits"}}), "train lacks task, loss"),
        (
            json.dumps({**document, "input": {**document["input"], "shape": [8, "8"]}}),
            "input.shape must be a list of positive sizes",
        ),
        (
            json.dumps({**document, "train": {**document["train"], "epochs": "10"}}),
            r"train\.epochs must be int, not \"10\"",
        ),
    ]
    for text, message in cases:
        path.write_text(text)
        with pytest.raises(RunError, match=message):
            config.read_config(path)
    with pytest.raises(RunError, match="this is not a run folder"):
        config.read_config(tmp_path / "nowhere" / "config.json")


def test_run_json_is_strict_json_with_a_note_for_each_non_finite_value(tmp_path):
    path = tmp_path / "run.json"
    inf = float("inf")
    runfiles.write_json(path, {"metrics": {"loss": float("nan"), "val_loss": inf, "ok": 1.5}})

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    document = json.loads(path.read_text(), parse_constant=refuse)
    assert document["metrics"] == {"loss": None, "val_loss": None, "ok": 1.5}
    assert document["notes"] == ["metrics.loss was nan (written as null)",
                                 "metrics.val_loss was inf (written as null)"]  # fmt: skip


def test_writes_are_atomic_and_leftovers_are_removed(tmp_path):
    target = tmp_path / "sub" / "file.txt"
    runfiles.write_text(target, "one")

    def fail(tmp):
        Path(tmp).write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        runfiles.replace_atomically(target, fail)
    assert target.read_text() == "one" and sorted(p.name for p in target.parent.iterdir()) == [
        "file.txt"
    ]
    stale = target.parent / ".file.tmp-123.txt"
    stale.write_text("left by a killed run")
    runfiles.remove_temporaries(tmp_path)
    assert not stale.exists() and target.exists()


HOLD = """
import sys, time
from specc.harness.lock import RunLock
RunLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_a_locked_folder_is_refused_naming_the_holder(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], env=env(),
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderLocked, match=rf"in use by process {holder.pid}\b"):
            lock.RunLock(tmp_path).acquire()
        assert lock.holder_pid(tmp_path) == holder.pid
    finally:
        holder.kill()
        holder.wait()
    mine = lock.RunLock(tmp_path).acquire()  # the kernel dropped the dead holder's lock
    assert lock.holder_pid(tmp_path) == os.getpid()
    mine.release()


ADOPT = """
import os, sys
from specc.harness.lock import RunLock
held = RunLock(sys.argv[1]).acquire()
print("before", os.getpid(), flush=True)
env = {**os.environ, **held.hand_on()}
if sys.argv[2] == "wrong-fd":
    env["SPECC_RUN_LOCK"] = "0:" + held.path
code = (
    "import os, sys\\nfrom specc.harness.lock import RunLock\\n"
    "RunLock(sys.argv[1]).acquire()\\nprint('adopted', os.getpid())"
)
os.execve(sys.executable, [sys.executable, "-c", code, sys.argv[1]], env)
"""


def test_the_lock_is_handed_on_through_exec_and_only_there(tmp_path):
    result = subprocess.run([sys.executable, "-c", ADOPT, str(tmp_path), "fd"], env=env(),
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    before, after = result.stdout.split()[1], result.stdout.split()[-1]
    assert before == after == str(lock.holder_pid(tmp_path)), "the same process holds it"
    result = subprocess.run([sys.executable, "-c", ADOPT, str(tmp_path), "wrong-fd"], env=env(),
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 1 and "FolderLocked" in result.stderr


def test_a_signal_while_training_is_a_request_carried_out_at_a_safe_point():
    previous = signal.getsignal(signal.SIGINT)
    stop = lifecycle.StopSignals().install()
    try:
        with pytest.raises(Stopped) as before:
            os.kill(os.getpid(), signal.SIGTERM)  # nothing to save yet: stop at once
        assert before.value.exit_status == 143
        with stop.deferred():
            os.kill(os.getpid(), signal.SIGINT)
            assert stop.requested == signal.SIGINT, "deferred, not raised"
            with pytest.raises(Stopped) as carried_out:
                stop.check()
            assert carried_out.value.exit_status == 130 and not carried_out.value.at_once
            with pytest.raises(Stopped) as again:
                os.kill(os.getpid(), signal.SIGTERM)  # a second signal stops at once
            assert again.value.at_once
    finally:
        stop.uninstall()
    assert signal.getsignal(signal.SIGINT) is previous


@pytest.mark.parametrize("world", ["1", "2"])
def test_a_torchrun_worker_ends_with_its_status_and_no_teardown(world):
    """A process of a distributed PyTorch run skips the interpreter's teardown (where gloo's
    threads can abort it) but keeps its exit status and its printed output; a lone process
    ends as any other."""
    script = (
        "import atexit, sys\n"
        "from specc.harness import lifecycle\n"
        "atexit.register(lambda: print('teardown ran'))\n"
        "print('trained', end='')\n"
        "lifecycle.end_torchrun_worker(3)\n"
        "sys.exit(4)\n"
    )
    worker = {**env(), "RANK": "1", "WORLD_SIZE": world}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=worker, timeout=60)  # fmt: skip
    if world == "2":
        assert (result.returncode, result.stdout) == (3, "trained")
    else:
        assert (result.returncode, result.stdout) == (4, "trainedteardown ran\n")


def test_the_run_folder_holds_byte_for_byte_copies_of_the_harness(tmp_path):
    checked = check_file(str(DIGITS))
    stale = tmp_path / "specc_harness" / "old_module.py"
    stale.parent.mkdir(parents=True)
    stale.write_text("# from an older harness")
    write_run_folder(checked, "torch", tmp_path, "def build_model(): ...\n")
    modules = sorted(p.name for p in HARNESS_DIR.glob("*.py") if p.name != "entry.py")
    assert sorted(p.name for p in (tmp_path / "specc_harness").glob("*.py")) == modules
    for name in modules:
        copy = (tmp_path / "specc_harness" / name).read_bytes()
        assert copy == (HARNESS_DIR / name).read_bytes(), name
    assert (tmp_path / "train.py").read_bytes() == (HARNESS_DIR / "entry.py").read_bytes()
    assert (tmp_path / "digits_cnn_torch.py").read_text() == "def build_model(): ...\n"
    assert config.read_config(tmp_path / "config.json") == run_config(checked, "torch")


@pytest.mark.parametrize("path", sorted(HARNESS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_harness_modules_import_only_siblings_the_stdlib_and_the_frameworks(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            allowed = top in sys.stdlib_module_names or top in THIRD_PARTY or top == "specc_harness"
            assert allowed and top != "specc", f"{path.name} imports {name}"


BLOCK_SPECC = """
import runpy, sys
class NoSpecc:
    def find_spec(self, name, path=None, target=None):
        if name == "specc" or name.startswith("specc."):
            raise ImportError(f"the run folder imported {name}")
sys.meta_path.insert(0, NoSpecc())
sys.argv = [sys.argv[1], *sys.argv[2:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.slow
def test_a_run_folder_trains_without_specc(tmp_path):
    """The copied harness runs where specc cannot be imported at all (one torch epoch)."""
    checked = check_file(str(DIGITS))
    from specc.emit import emit_source

    write_run_folder(checked, "torch", tmp_path / "run", emit_source(checked, "torch"))
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_SPECC, str(tmp_path / "run" / "train.py"), "--epochs", "1"],
        cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "run" / "run.json").read_text())["epochs"] == 1


def test_train_py_refuses_a_folder_that_is_not_a_run_folder(tmp_path):
    (tmp_path / "train.py").write_bytes((HARNESS_DIR / "entry.py").read_bytes())
    package = tmp_path / "specc_harness"
    package.mkdir()
    for module in HARNESS_DIR.glob("*.py"):
        (package / module.name).write_bytes(module.read_bytes())
    result = subprocess.run([sys.executable, str(tmp_path / "train.py")], env=env(),
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    message = f"error: no config.json in {tmp_path}: this is not a run folder"
    assert result.stderr.startswith(message) and "Traceback" not in result.stderr


def test_resume_refuses_a_folder_of_another_spec_version_before_writing(tmp_path, capsys):
    checked = check_file(str(DIGITS))
    other = tmp_path / "other.spec"
    other.write_text(DIGITS.read_text().replace("epochs 20", "epochs 21"))
    write_run_folder(check_file(str(other)), "torch", tmp_path / "run", "# the old model\n")
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"a checkpoint of the old spec")
    before = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    status = cli.main(["train", str(DIGITS), "--out", str(tmp_path / "run"), "--resume"])
    assert status == 2
    error = capsys.readouterr().err
    assert f"cannot --resume {tmp_path / 'run'}: it was trained from another version" in error
    after = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    assert after == before, "nothing was written"
    assert run_config(checked, "torch") != config.read_config(tmp_path / "run" / "config.json")


def test_emit_train_writes_a_run_folder_per_backend(tmp_path, capsys):
    assert cli.main(["emit", str(DIGITS), "-b", "all", "--train", "-o", str(tmp_path)]) == 0
    for backend in ("keras", "torch"):
        folder = tmp_path / f"digits_cnn-{backend}"
        assert config.read_config(folder / "config.json").backend == backend
        assert (folder / "train.py").is_file() and (folder / f"digits_cnn_{backend}.py").is_file()
    assert cli.main(["emit", str(DIGITS), "-b", "torch", "--train"]) == 2
    assert "--train writes a run folder: give it with -o DIR" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("batch", "samples", "replicas", "expected"),
    [(32, 15, 2, 14), (32, 100, 2, 32), (32, 15, 1, 32), (7, 100, 2, 6), (32, 9, 4, 8)],
)
def test_an_evaluation_batch_splits_evenly_between_replicas(batch, samples, replicas, expected):
    keras_loop = pytest.importorskip("specc.harness.keras_loop")
    got = keras_loop.evaluation_batch(batch, samples, replicas)
    assert got == expected and min(got, samples) % replicas == 0


def test_too_few_samples_for_the_replicas_is_a_run_error():
    keras_loop = pytest.importorskip("specc.harness.keras_loop")
    with pytest.raises(RunError, match=r"1 sample.*2 replicas"):
        keras_loop.evaluation_batch(32, 1, 2)
