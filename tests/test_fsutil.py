"""``atomic_write``: files keep their mode, owner and symlinks; new files get the umask's mode."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from specc.fsutil import atomic_write, current_umask
from tests.golden_diagnostics import ROOT, run_check

SPEC = ROOT / "specs" / "cifar10_cnn.spec"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield lambda mask: os.umask(mask)
    os.umask(saved)


def test_current_umask_reads_without_changing(umask):
    for mask in (0o022, 0o077, 0o002):
        umask(mask)
        assert current_umask() == mask
        assert current_umask() == mask


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_a_new_file_gets_the_umask_mode(tmp_path: Path, umask, mask):
    umask(mask)
    path = tmp_path / "new" / "model.py"
    atomic_write(path, "x = 1\n")
    assert path.read_text() == "x = 1\n"
    assert mode(path) == 0o666 & ~mask
    # the same as open() gives a file
    plain = tmp_path / "plain.py"
    plain.write_text("")
    assert mode(path) == mode(plain)


@pytest.mark.parametrize("old_mode", [0o644, 0o755, 0o600, 0o640, 0o444, 0o700])
def test_an_existing_file_keeps_its_mode(tmp_path: Path, umask, old_mode):
    umask(0o077)  # the umask does not apply to a file that exists
    path = tmp_path / "model.py"
    path.write_text("old\n")
    path.chmod(old_mode)
    atomic_write(path, "new\n")
    assert path.read_text() == "new\n" and mode(path) == old_mode


def test_a_symlink_stays_and_its_target_is_written(tmp_path: Path):
    (tmp_path / "a").mkdir()
    target = tmp_path / "a" / "real.py"
    target.write_text("old\n")
    target.chmod(0o750)
    middle = tmp_path / "a" / "middle.py"
    middle.symlink_to("real.py")
    link = tmp_path / "link.py"
    link.symlink_to(Path("a") / "middle.py")  # a chain of two relative links
    atomic_write(link, "new\n")
    assert link.is_symlink() and middle.is_symlink()
    assert os.readlink(link) == str(Path("a") / "middle.py")
    assert target.read_text() == "new\n" and mode(target) == 0o750
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["middle.py", "real.py"]


def test_a_dangling_symlink_creates_its_target(tmp_path: Path, umask):
    umask(0o022)
    link = tmp_path / "link.py"
    link.symlink_to(tmp_path / "out" / "model.py")
    atomic_write(link, "x\n")
    assert link.is_symlink() and (tmp_path / "out" / "model.py").read_text() == "x\n"
    assert mode(tmp_path / "out" / "model.py") == 0o644


def test_a_symlink_loop_is_refused_and_left_alone(tmp_path: Path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(OSError) as info:
        atomic_write(a, "x\n")
    assert info.value.errno == errno.ELOOP and info.value.filename == str(a)
    assert a.is_symlink() and b.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "b.py"]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may give a file to another user")
def test_owner_and_group_are_kept_when_permitted(tmp_path: Path):
    path = tmp_path / "model.py"
    path.write_text("old\n")
    os.chown(path, 12345, 23456)
    path.chmod(0o2755)  # set-group-ID: chown clears it, so it must be set again afterwards
    atomic_write(path, "new\n")
    info = path.stat()
    assert (info.st_uid, info.st_gid) == (12345, 23456)
    assert stat.S_IMODE(info.st_mode) == 0o2755


@pytest.mark.skipif(
    os.geteuid() == 0 or len(set(os.getgroups()) - {os.getegid()}) == 0,
    reason="needs a user (not root) with a second group",
)
def test_a_group_we_belong_to_is_kept(tmp_path: Path):
    group = sorted(set(os.getgroups()) - {os.getegid()})[0]
    path = tmp_path / "model.py"
    path.write_text("old\n")
    os.chown(path, -1, group)
    atomic_write(path, "new\n")
    assert path.stat().st_gid == group


def test_emit_output_gets_the_umask_mode_and_keeps_an_existing_one(tmp_path: Path, umask):
    umask(0o022)
    out = tmp_path / "model_torch.py"
    assert run_check(["emit", str(SPEC), "--backend", "torch", "-o", str(out)])[0] == 0
    assert mode(out) == 0o644
    out.chmod(0o755)
    assert run_check(["emit", str(SPEC), "--backend", "torch", "-o", str(out)])[0] == 0
    assert mode(out) == 0o755
    folder = tmp_path / "both"
    assert run_check(["emit", str(SPEC), "--backend", "all", "-o", str(folder)])[0] == 0
    assert {mode(p) for p in folder.iterdir()} == {0o644}


def test_emit_through_a_symlink_writes_its_target(tmp_path: Path):
    target = tmp_path / "real.py"
    target.write_text("")
    link = tmp_path / "model.py"
    link.symlink_to(target)
    assert run_check(["emit", str(SPEC), "--backend", "keras", "-o", str(link)])[0] == 0
    assert link.is_symlink() and "import keras" in target.read_text()
