"""tg.save never destroys the previous checkpoint (the write is atomic), and tg.load refuses,
with a CheckpointError naming the file, anything tg.save did not write."""

import io
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.serialization import CheckpointError

REPO = Path(__file__).resolve().parents[1]
OLD = {"model": {"w": np.arange(6.0).reshape(2, 3), "b": np.ones(3)}, "step": 7}


@pytest.fixture
def checkpoint(tmp_path):
    """A complete checkpoint of OLD at tmp_path / "ckpt.npz", and its bytes."""
    path = tg.save(OLD, tmp_path / "ckpt.npz")
    return path, path.read_bytes()


def assert_old_checkpoint_intact(path, old_bytes):
    assert path.read_bytes() == old_bytes
    loaded = tg.load(path)
    assert loaded["step"] == 7
    assert np.array_equal(loaded["model"]["w"], OLD["model"]["w"])
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no stray .tmp


# ---- a failed save leaves the old checkpoint ------------------------------------------------


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_save_failing_half_way_keeps_the_old_checkpoint(checkpoint, monkeypatch, error):
    path, old_bytes = checkpoint
    real_write_array = np.lib.format.write_array
    calls = []

    def write_then_fail(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise error
        return real_write_array(*args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_fail)
    new = {"model": {"w": np.zeros((2, 3)), "b": np.zeros(3)}, "step": 8}
    with pytest.raises(type(error)):
        tg.save(new, path)
    assert len(calls) == 2  # it did fail half-way, after writing one array
    monkeypatch.undo()
    assert_old_checkpoint_intact(path, old_bytes)


def test_an_unsaveable_value_is_refused_before_touching_the_disk(checkpoint, monkeypatch):
    path, old_bytes = checkpoint
    opened = []
    monkeypatch.setattr(zipfile, "ZipFile", lambda *a, **k: opened.append(a))
    with pytest.raises(TypeError, match="cannot save a set"):
        tg.save({"w": np.zeros(3), "later": {1, 2}}, path)
    assert opened == []
    monkeypatch.undo()
    assert_old_checkpoint_intact(path, old_bytes)


def test_a_save_that_cannot_replace_the_target_removes_its_temporary_file(tmp_path):
    (tmp_path / "dir.npz").mkdir()  # a folder where the file should go
    with pytest.raises(OSError):
        tg.save({"a": np.ones(2)}, tmp_path / "dir.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["dir.npz"]


def test_a_successful_save_replaces_the_file_and_keeps_its_permissions(checkpoint):
    path, _ = checkpoint
    os.chmod(path, 0o640)
    tg.save({"a": np.ones(2)}, path)
    assert list(tg.load(path)) == ["a"]
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_new_file_gets_the_usual_permissions_not_the_temporary_files(tmp_path):
    umask = os.umask(0o022)
    try:
        path = tg.save({"a": np.ones(2)}, tmp_path / "new")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_saving_through_a_symlink_updates_the_file_it_points_to(tmp_path):
    real = tg.save({"a": np.ones(1)}, tmp_path / "real.npz")
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    tg.save({"b": np.zeros(1)}, link)
    assert link.is_symlink() and list(tg.load(real)) == ["b"]


# ---- a killed save leaves the old or the new checkpoint, whole ------------------------------

SAVER = textwrap.dedent(
    """
    import sys
    import numpy as np
    import tinygrad_edu as tg

    path, first = sys.argv[1], int(sys.argv[2])
    print("ready", flush=True)
    for version in range(first, first + 1000):
        # 3 x 100 MB, every value the version number: a torn file could not pass for whole
        tg.save({"version": version, "arrays": [np.full(12_500_000, float(version))] * 3}, path)
    """
)


def assert_whole(loaded, versions):
    assert loaded["version"] in versions
    assert len(loaded["arrays"]) == 3
    for array in loaded["arrays"]:
        assert array.shape == (12_500_000,)
        assert array[0] == array[-1] == loaded["version"]
        assert (array == loaded["version"]).all()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_save_killed_at_a_random_moment_leaves_a_whole_checkpoint(tmp_path):
    """A killed process cannot remove its temporary file, so a hidden ``.ckpt.npz*.tmp`` may
    remain; the checkpoint itself must always load, whole, as the old or a newer version."""
    path = tmp_path / "ckpt.npz"
    tg.save({"version": 0, "arrays": [np.zeros(12_500_000)] * 3}, path)
    rng = random.Random(0)
    started = time.monotonic()
    for attempt in range(1, 4):
        saver = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(path), str(attempt * 1000)],
            cwd=REPO,
            stdout=subprocess.PIPE,
        )
        try:
            assert saver.stdout.readline() == b"ready\n"
            time.sleep(rng.uniform(0.05, 0.8))
            assert saver.poll() is None, "the saver stopped before it was killed"
            saver.send_signal(signal.SIGKILL)
        finally:
            saver.kill()
            saver.wait(timeout=10)
            saver.stdout.close()
        assert saver.returncode == -signal.SIGKILL
        assert_whole(tg.load(path), {0, *range(1000, attempt * 1000 + 1000)})
        leftovers = [p for p in tmp_path.iterdir() if p != path]
        assert all(p.name.startswith(".ckpt.npz") and p.suffix == ".tmp" for p in leftovers)
    assert time.monotonic() - started < 30


# ---- load refuses what save did not write ---------------------------------------------------


def refused(path, *words):
    """Load ``path`` expecting a CheckpointError naming the file and saying ``words``."""
    with pytest.raises(CheckpointError) as caught:
        tg.load(path)
    message = str(caught.value)
    assert str(path) in message, message
    for word in words:
        assert word in message, message
    return message


def write_zip(path, members, compression=zipfile.ZIP_STORED):
    """A zip of ``members`` (name to bytes or array; an array is written as .npy bytes)."""
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, content in members.items():
            if isinstance(content, np.ndarray):
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, content, allow_pickle=True)
                content = buffer.getvalue()
            archive.writestr(name, content)
    return path


def with_structure(tmp_path, structure, arrays=None):
    """A checkpoint whose __structure__ entry is ``structure`` (a JSON-able value or text)."""
    text = structure if isinstance(structure, str) else json.dumps(structure)
    members = {f"{name}.npy": array for name, array in (arrays or {}).items()}
    members["__structure__.npy"] = np.array(text)
    return write_zip(tmp_path / "bad.npz", members)


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)


def test_random_bytes_are_refused(tmp_path):
    path = tmp_path / "random.npz"
    path.write_bytes(np.random.default_rng(0).bytes(1000))
    refused(path, "not an .npz (zip) archive")


def test_a_text_file_is_refused(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("weights: 1, 2, 3\n")
    refused(path, "not an .npz (zip) archive", "b'weights:")


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.npz"
    path.touch()
    refused(path, "is empty (0 bytes)")


def test_the_first_half_of_a_checkpoint_is_refused(checkpoint):
    path, data = checkpoint
    path.write_bytes(data[: len(data) // 2])
    refused(path, "is truncated")


def test_a_checkpoint_cut_before_its_last_bytes_is_refused(checkpoint):
    path, data = checkpoint
    path.write_bytes(data[:-1])
    refused(path)


def test_a_single_npy_file_is_refused(tmp_path):
    np.save(tmp_path / "one.npy", np.ones(3))
    refused(tmp_path / "one.npy", "single .npy array")


def test_a_flipped_bit_in_an_array_fails_its_crc(tmp_path):
    values = np.full(64, 0.123456789)
    path = tg.save({"w": values}, tmp_path / "c.npz")
    data = bytearray(path.read_bytes())
    where = bytes(data).index(values.tobytes())
    data[where + 100] ^= 0x01
    path.write_bytes(bytes(data))
    refused(path, "damaged member 'w.npy'", "CRC")


def test_a_member_that_is_not_npy_is_refused(tmp_path):
    path = write_zip(tmp_path / "extra.npz", {"a.npy": np.ones(2), "run.py": b"print(1)"})
    refused(path, "'run.py' that is not an .npy array")


def test_a_member_with_a_damaged_npy_header_is_refused(tmp_path):
    path = write_zip(tmp_path / "header.npz", {"a.npy": b"\x93NUMPY\x01\x00garbage"})
    refused(path, "damaged member 'a.npy'")


def test_a_member_with_missing_array_bytes_is_refused(tmp_path):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ones(100))
    path = write_zip(tmp_path / "short.npz", {"a.npy": buffer.getvalue()[:-8]})
    refused(path, "damaged member 'a.npy'")


def test_a_member_with_bytes_after_its_array_is_refused(tmp_path):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ones(3))
    path = write_zip(tmp_path / "long.npz", {"a.npy": buffer.getvalue() + b"hidden"})
    refused(path, "6 stray bytes", "'a.npy'")


@pytest.mark.parametrize("with_structure_entry", [False, True])
def test_a_pickled_member_is_refused(tmp_path, with_structure_entry):
    members = {"payload.npy": np.array([{"x": 1}], dtype=object)}
    if with_structure_entry:
        members["__structure__.npy"] = np.array('{"dict": [["p", {"array": "payload"}]]}')
    path = write_zip(tmp_path / "evil.npz", members)
    refused(path, "Python objects", "pickle", "'payload.npy'")


def test_a_compressed_np_savez_archive_still_loads(tmp_path):
    np.savez_compressed(tmp_path / "plain.npz", b=np.ones(2), a=np.arange(3))
    loaded = tg.load(tmp_path / "plain.npz")
    assert list(loaded) == ["b", "a"] and np.array_equal(loaded["a"], np.arange(3))


def test_a_structure_that_is_not_json_is_refused(tmp_path):
    path = with_structure(tmp_path, '{"dict": [["w", {"array": "w"}]', {"w": np.ones(1)})
    refused(path, "'__structure__' entry", "not JSON")


def test_a_structure_that_is_not_text_is_refused(tmp_path):
    path = write_zip(tmp_path / "bad.npz", {"__structure__.npy": np.arange(3)})
    refused(path, "'__structure__' entry", "not text")


@pytest.mark.parametrize(
    "structure, words",
    [
        ({"dict": [["w", {"array": "w"}]], "extra": 1}, ["wrong form"]),
        ({"list": [1, 2]}, ["unknown kind 'list'"]),
        ({"dict": {"w": {"array": "w"}}}, ["not a list of [key, value] pairs"]),
        ({"dict": [["w"]]}, ["not a [key, value] pair"]),
        ({"dict": [[["w"], {"array": "w"}]]}, ["neither str nor int"]),
        ({"dict": [["w", {"array": "w"}], ["w", 1]]}, ["key 'w' twice"]),
        ({"tuple": {"a": 1}}, ["tuple that is not a list"]),
        ({"array": 3}, ["array name that is not a string"]),
        ({"dict": [["w", {"array": "w"}], ["v", {"array": "w"}]]}, ["two references"]),
        ({"scalar": "w"}, ["scalar 'w'", "shape (2,)"]),
    ],
    ids=lambda value: None if isinstance(value, list) else json.dumps(value)[:40],
)
def test_a_structure_of_the_wrong_form_is_refused(tmp_path, structure, words):
    path = with_structure(tmp_path, structure, {"w": np.ones(2)})
    refused(path, "'__structure__' entry", *words)


def test_a_structure_naming_an_array_the_file_lacks_is_refused(tmp_path):
    path = with_structure(
        tmp_path, {"dict": [["w", {"array": "w"}], ["b", {"array": "b"}]]}, {"w": np.ones(2)}
    )
    refused(path, "the array 'b', which the file does not hold")


def test_an_array_the_structure_does_not_mention_is_refused(tmp_path):
    path = with_structure(tmp_path, {"dict": [["w", {"array": "w"}]]}, {"w": np.ones(2)})
    with zipfile.ZipFile(path, "a") as archive:
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.zeros(1))
        archive.writestr("lost.npy", buffer.getvalue())
    refused(path, "does not mention the arrays 'lost'")


def test_a_structure_nested_too_deeply_is_refused(tmp_path):
    path = with_structure(tmp_path, "[" * 100_000 + "]" * 100_000)
    refused(path, "'__structure__' entry")


def test_a_checkpoint_still_loads_and_np_load_still_reads_it(checkpoint):
    path, _ = checkpoint
    loaded = tg.load(path)
    assert loaded["step"] == 7 and np.array_equal(loaded["model"]["b"], np.ones(3))
    with np.load(path, allow_pickle=False) as archive:
        assert np.array_equal(archive["model/w"], OLD["model"]["w"])
