"""The one atomic writer: mode from the umask, nothing half-written, errors that name the file."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from cnnkit.common.files import atomic_path, atomic_write, atomic_write_json


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_bytes_str_and_callable(tmp_path):
    assert atomic_write(tmp_path / "a.bin", b"\x00\x01") == tmp_path / "a.bin"
    atomic_write(tmp_path / "b.txt", "héllo\n")
    atomic_write(tmp_path / "c.bin", lambda f: f.write(b"abc"))
    atomic_write_json(tmp_path / "d.json", {"x": [1, 2]})
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == "héllo\n"
    assert (tmp_path / "c.bin").read_bytes() == b"abc"
    assert (tmp_path / "d.json").read_text() == '{\n  "x": [\n    1,\n    2\n  ]\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.txt", "c.bin", "d.json"]


def test_creates_missing_folders(tmp_path):
    atomic_write(tmp_path / "x" / "y" / "z.txt", "deep")
    assert (tmp_path / "x" / "y" / "z.txt").read_text() == "deep"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_mode_follows_umask(tmp_path, umask_022):
    atomic_write(tmp_path / "model.bin", b"x")
    assert _mode(tmp_path / "model.bin") == 0o644  # not mkstemp's 0600
    with atomic_path(tmp_path / "net.onnx") as tmp:
        tmp.write_bytes(b"y")
    assert _mode(tmp_path / "net.onnx") == 0o644
    os.umask(0o077)
    atomic_write(tmp_path / "private.bin", b"x")
    assert _mode(tmp_path / "private.bin") == 0o600


def test_failure_keeps_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")

    def write(f):
        f.write(b"half of the new file")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        atomic_write(target, write)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]

    with pytest.raises(KeyError), atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
        raise KeyError("stop")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]


def test_os_error_names_the_path(tmp_path):
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")

    def write(f):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError) as info:
        atomic_write(target, write)
    assert info.value.errno == errno.ENOSPC
    assert str(info.value) == (
        f"[Errno {errno.ENOSPC}] Could not write '{target}' ({os.strerror(errno.ENOSPC)}). Expected a writable "
        f"folder with enough free space. Received: path='{target}'. Free some space, fix the folder's permissions, "
        "or choose another path."
    )
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]


def test_library_errors_without_errno_pass_through(tmp_path):
    def write(f):
        raise OSError("cannot write mode RGBA as JPEG")  # what PIL raises: not the operating system's error

    with pytest.raises(OSError, match=r"^cannot write mode RGBA as JPEG$"):
        atomic_write(tmp_path / "x.jpg", write)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permission bits")
def test_unwritable_folder_names_the_path(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match=f"Could not write '{folder / 'm.bin'}'"):
            atomic_write(folder / "m.bin", b"x")
    finally:
        folder.chmod(0o700)


def test_overwrite_false(tmp_path):
    target = tmp_path / "m.bin"
    atomic_write(target, b"first", overwrite=False)
    with pytest.raises(FileExistsError) as info:
        atomic_write(target, b"second", overwrite=False)
    assert str(info.value) == (
        f"The file already exists. Expected a new path because overwrite=False. Received: path='{target}'. "
        "Pass overwrite=True to replace it, or choose another path."
    )
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["m.bin"]


def test_overwrite_false_when_the_file_appears_while_writing(tmp_path):
    target = tmp_path / "m.bin"

    def write(f):
        f.write(b"mine")
        target.write_bytes(b"theirs")  # another process got there first

    with pytest.raises(FileExistsError):
        atomic_write(target, write, overwrite=False)
    assert target.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["m.bin"]


def test_bad_data_type(tmp_path):
    with pytest.raises(TypeError, match="Expected bytes, str or a callable write"):
        atomic_write(tmp_path / "x", 3)  # type: ignore[arg-type]
