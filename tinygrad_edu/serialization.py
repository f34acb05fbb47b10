"""Saving and loading: ``tg.save(obj, path)`` and ``tg.load(path)``.

The file is an ordinary NumPy ``.npz`` archive (a zip of ``.npy`` arrays) written and read
without pickle, so loading a file can never run code. ``np.load(path)`` opens it too.

What can be saved: a model's ``state_dict()`` (names to arrays), an optimizer's
``state_dict()``, or any nesting of dicts (str or int keys), lists and tuples whose leaves are
arrays, Tensors, NumPy scalars, Python numbers, bools, strings or ``None``.

The encoding, readable with NumPy alone:

* every array is one entry of the archive, named by its path of keys joined with ``/``:
  a model's ``"0.weight"`` stays ``"0.weight"``, an optimizer's ``state[0]["exp_avg"]``
  becomes ``"state/0/exp_avg"``;
* one more entry, ``"__structure__"``, holds a JSON text describing the nesting and its order.
  Python numbers, bools, strings, ``None`` and lists are written as JSON; a dict is
  ``{"dict": [[key, value], ...]}`` (keeping its order and int keys), a tuple
  ``{"tuple": [...]}``, an array ``{"array": "<entry name>"}`` and a NumPy scalar
  ``{"scalar": "<entry name>"}``. A model's state_dict reads
  ``{"dict": [["0.weight", {"array": "0.weight"}], ["0.bias", {"array": "0.bias"}]]}``, so
  what is loaded equals what was saved, in the same order.

An ``.npz`` without ``"__structure__"`` (written by ``np.savez``) loads as a dict of its
arrays in the archive's order, as long as every member is a plain ``.npy`` array. Tensors are
saved as their arrays and load as NumPy arrays, the same as a ``state_dict()`` holds them.

A path ending in ``.safetensors`` is written and read with the ``safetensors`` package
(``pip install safetensors``, an optional extra) through its NumPy interface: the format of
the Hugging Face Hub, which ``safetensors.torch.load_file`` reads into PyTorch tensors (and
whose files from PyTorch ``tg.load`` reads). It holds one flat dict of names to arrays, a
model's ``state_dict()``; nested checkpoints (model and optimizer together) stay ``.npz``.
The order of the names is kept in the file's metadata; the write is atomic as for ``.npz``.

Nothing silently wrong, nothing lost:

* ``save`` checks and encodes everything before touching the disk, writes a hidden temporary
  file next to the target (``.<name>.npz<random>.tmp``), flushes it to disk and only then
  renames it onto the target in one step. A save that fails or is interrupted (an unsaveable
  value, a full disk, Ctrl-C) leaves the previous checkpoint exactly as it was and removes
  its temporary file. A process killed outright (SIGKILL, power loss) cannot clean up, so it
  may leave that hidden ``.tmp`` file behind (delete it at will); the target itself is always
  the old or the new checkpoint, whole, and ``load`` never reads a ``.tmp`` file.
* ``load`` refuses, with a ``CheckpointError`` naming the file and what is wrong, anything
  ``save`` (or ``np.savez``) did not write: an empty, truncated or non-zip file, a member
  whose bytes fail their checksum, a member that is not an ``.npy`` array, a pickled
  (object) array, and a ``"__structure__"`` that is not JSON, has the wrong form, or
  disagrees with the arrays in the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from .tensor import Tensor

STRUCTURE = "__structure__"
_NPY_MAGIC = b"\x93NUMPY"
SAFETENSORS = ".safetensors"
# The metadata entry of a .safetensors file that keeps the order of the names (safetensors
# itself stores them in an order of its own: by dtype, then by name).
SAFETENSORS_ORDER = "tinygrad_edu.order"


class CheckpointError(ValueError):
    """``tg.load`` was given a file that ``tg.save`` did not write, or one that was damaged
    since: the message names the file and what is wrong with it."""


# ---- saving ---------------------------------------------------------------------------------


def save(obj: Any, path: str | os.PathLike) -> Path:
    """Write ``obj`` (a state_dict, or a nesting of dicts/lists/tuples of arrays and numbers)
    to ``path`` as an ``.npz`` archive, without pickle.

    As with ``np.savez``, ``".npz"`` is appended to a path that does not end with it:
    ``tg.save(sd, "model")`` writes ``model.npz``. Returns the path written.

    A path ending in ``.safetensors`` writes a safetensors file instead (needs the
    ``safetensors`` package): a flat dict of names to arrays, such as a ``state_dict()``.

    The write is atomic: the old file at ``path`` is replaced only once the new one is
    complete on disk, so a failed or interrupted save never destroys the previous checkpoint.
    """
    path = Path(path)
    if path.suffix == SAFETENSORS:
        return _save_safetensors(obj, path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    arrays: dict[str, np.ndarray] = {}
    structure = _encode(obj, "", arrays)  # raises on anything unsaveable, before any writing
    text = json.dumps(structure, allow_nan=True)
    entries = [*arrays.items(), (STRUCTURE, np.array(text))]
    # Write through a symlink, as opening the path would, rather than replacing the link.
    target = Path(os.path.realpath(path))
    _write_atomically(target, lambda file: _write_archive(file, entries))
    return path


def _write_archive(file: IO[bytes], entries: list[tuple[str, np.ndarray]]) -> None:
    """Write each (name, array) as the member ``name + ".npy"`` of an uncompressed zip."""
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in entries:
            with archive.open(name + ".npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, array, allow_pickle=False)


def _write_atomically(target: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(file)`` on a new temporary file in ``target``'s folder, make it durable,
    and rename it onto ``target``. On any failure, even KeyboardInterrupt, the temporary file
    is removed and ``target`` is left untouched."""
    mode = _file_mode(target)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix="." + target.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, mode)  # mkstemp makes the file private (0600)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(target.parent)


def _file_mode(target: Path) -> int:
    """The permissions the checkpoint should have: those of the file it replaces, or those
    a newly created file gets (0666 less the process's umask)."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)  # the only portable way to read the umask is to set it
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable, where the system allows opening a folder (not on
    Windows)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ---- loading --------------------------------------------------------------------------------


def load(path: str | os.PathLike) -> Any:
    """Read what ``tg.save`` wrote (``path`` with or without the ``.npz`` that save adds).
    Model weights come back as a dict of NumPy arrays in the saved order, ready for
    ``model.load_state_dict``.

    A file that ``tg.save`` did not write (or damaged since) is refused with a
    ``CheckpointError`` (a ValueError) naming the file and what is wrong; so is a file holding
    Python objects, which would need pickle. A plain ``np.savez`` archive (no
    ``"__structure__"`` entry) loads as a dict of its arrays. A ``.safetensors`` file (from
    here, PyTorch or the Hub) loads as a dict of its arrays (needs ``safetensors``)."""
    path = Path(path)
    if path.suffix == SAFETENSORS:
        return _load_safetensors(path)
    if not path.exists() and path.suffix != ".npz":
        with_suffix = path.with_name(path.name + ".npz")
        if with_suffix.exists():
            path = with_suffix
    if not path.exists():
        raise FileNotFoundError(f"tg.load: no such file: {str(path)!r}")
    _check_is_zip(path)
    try:
        with zipfile.ZipFile(path) as archive:
            arrays = _read_arrays(archive, path)
    except zipfile.BadZipFile as error:
        raise _refuse(path, f"is a damaged zip archive ({error})") from None
    if STRUCTURE not in arrays:
        return arrays
    return _decode_structure(arrays, path)


def _refuse(path: Path, problem: str) -> CheckpointError:
    """The error for a file that is not a checkpoint; ``problem`` completes "the file ..."."""
    return CheckpointError(f"tg.load: cannot load {str(path)!r}: it {problem}")


def _check_is_zip(path: Path) -> None:
    """Refuse, with a message saying what the file looks like, a file that is no zip."""
    with open(path, "rb") as file:
        start = file.read(8)
    if not start:
        raise _refuse(path, "is empty (0 bytes)")
    if start.startswith(_NPY_MAGIC):
        raise _refuse(path, "is a single .npy array (np.save), not an .npz archive")
    if zipfile.is_zipfile(path):
        return
    if start.startswith(b"PK\x03\x04"):
        raise _refuse(
            path,
            "is truncated: it begins like a zip archive but its end (the zip directory) is "
            "missing, as when a copy or a write was cut short",
        )
    raise _refuse(path, f"is not an .npz (zip) archive: it begins with {start!r}")


def _read_arrays(archive: zipfile.ZipFile, path: Path) -> dict[str, np.ndarray]:
    """Every member of the archive as an array, in the archive's order, under its name
    without ``.npy``. Each member must be an ``.npy`` array whose bytes match their CRC."""
    arrays: dict[str, np.ndarray] = {}
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            raise _refuse(path, f"has a member {info.filename!r} that is not an .npy array")
        name = info.filename[: -len(".npy")]
        if name in arrays:
            raise _refuse(path, f"has the member {info.filename!r} twice")
        arrays[name] = _read_member(archive, info, path)
    return arrays


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """One ``.npy`` member, read to its very end so that zipfile checks its CRC."""
    member = repr(info.filename)
    try:
        with archive.open(info) as entry:
            array = np.lib.format.read_array(entry, allow_pickle=False)
            extra = entry.read()  # reaching the end is what makes zipfile check the CRC
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise CheckpointError(
                f"tg.load: {str(path)!r} holds Python objects (an object array in {member}), "
                "which can only be read with pickle; tg.load never unpickles, because "
                "unpickling can run arbitrary code. Save plain numeric arrays instead."
            ) from None
        raise _refuse(path, f"has a damaged member {member} ({error})") from None
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as error:
        raise _refuse(path, f"has a damaged member {member} ({error})") from None
    if extra:
        raise _refuse(path, f"has {len(extra)} stray bytes after the array in {member}")
    return array


# ---- safetensors -----------------------------------------------------------------------------


def _safetensors_numpy(where: str) -> Any:
    """The ``safetensors.numpy`` module, or an ImportError saying how to install it."""
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError(
            f"{where}: .safetensors files need the safetensors package, which is not "
            "installed: pip install safetensors (or save to .npz, which needs nothing more)"
        ) from None
    return safetensors.numpy


def _save_safetensors(obj: Any, path: Path) -> Path:
    """``save`` of a flat dict of arrays to a .safetensors file, atomically."""
    st = _safetensors_numpy("tg.save")
    arrays = _flat_arrays(obj, path)  # raises on anything unsaveable, before any writing
    metadata = {SAFETENSORS_ORDER: json.dumps(list(arrays))}
    try:
        data = st.save(arrays, metadata=metadata)
    except Exception as error:  # safetensors' own errors (e.g. a dtype it lacks)
        raise TypeError(f"tg.save: safetensors cannot write {str(path)!r}: {error}") from None
    target = Path(os.path.realpath(path))
    _write_atomically(target, lambda file: file.write(data))
    return path


def _flat_arrays(obj: Any, path: Path) -> dict[str, np.ndarray]:
    """``obj`` (names -> arrays, Tensors, NumPy scalars or PyTorch tensors) as a dict of
    contiguous NumPy arrays; anything else is a TypeError saying to use .npz."""
    use_npz = (
        "a .safetensors file holds one flat dict of names to arrays (a model's state_dict); "
        "save nested checkpoints (model and optimizer together, an optimizer's state_dict) "
        "to .npz, or flatten the dict to names such as 'model.0.weight'"
    )
    if not isinstance(obj, dict):
        raise TypeError(f"tg.save: cannot save a {type(obj).__name__} to {path.name!r}: {use_npz}")
    arrays: dict[str, np.ndarray] = {}
    for key, value in obj.items():
        if not isinstance(key, str) or key == "__metadata__":
            raise TypeError(
                f"tg.save: {path.name!r}: the names must be strings other than "
                f"'__metadata__', got {key!r}"
            )
        if isinstance(value, Tensor):
            value = value.data
        elif hasattr(value, "detach") and hasattr(value, "numpy"):  # a PyTorch tensor
            value = value.detach().cpu().numpy()
        if not isinstance(value, (np.ndarray, np.generic)):
            raise TypeError(
                f"tg.save: the value of {key!r} is of type {type(value).__name__}, not an "
                f"array: {use_npz}"
            )
        array = np.asarray(value)  # (np.ascontiguousarray would make a 0-d array 1-d)
        if not array.flags.c_contiguous:
            array = array.copy(order="C")
        if array.dtype.kind not in "biuf":
            raise TypeError(
                f"tg.save: {key!r} has dtype {array.dtype}; a .safetensors file holds "
                "numbers and bools only"
            )
        arrays[key] = array
    return arrays


def _load_safetensors(path: Path) -> dict[str, np.ndarray]:
    """``load`` of a .safetensors file: its arrays, in the order they were saved in."""
    st = _safetensors_numpy("tg.load")
    if not path.exists():
        raise FileNotFoundError(f"tg.load: no such file: {str(path)!r}")
    from safetensors import safe_open

    try:
        arrays = st.load_file(path)
        with safe_open(path, framework="np") as file:
            metadata = file.metadata() or {}
    except Exception as error:  # safetensors' errors for a damaged or foreign file
        raise _refuse(path, f"is not a readable safetensors file ({error})") from None
    try:
        order = json.loads(metadata.get(SAFETENSORS_ORDER, "null"))
    except json.JSONDecodeError:
        order = None
    if isinstance(order, list) and sorted(map(str, order)) == sorted(arrays):
        arrays = {key: arrays[key] for key in order}
    return {key: np.array(value, copy=True) for key, value in arrays.items()}


# ---- the structure --------------------------------------------------------------------------


class _Damaged(Exception):
    """Raised inside the decoding of ``__structure__``; load turns it into CheckpointError."""


def _decode_structure(arrays: dict[str, np.ndarray], path: Path) -> Any:
    """Rebuild the saved object from the ``__structure__`` entry and the arrays, checking
    that the structure is well formed and uses every array exactly once."""
    text = arrays.pop(STRUCTURE)
    problem = f"has a damaged {STRUCTURE!r} entry"
    if text.dtype.kind != "U" or text.shape != ():
        raise _refuse(path, f"{problem}: an array of dtype {text.dtype}, not text")
    used: set[str] = set()
    try:
        obj = _decode(json.loads(str(text)), arrays, used)
    except json.JSONDecodeError as error:
        raise _refuse(path, f"{problem}: it is not JSON ({error})") from None
    except _Damaged as error:
        raise _refuse(path, f"{problem}: {error}") from None
    except RecursionError:
        raise _refuse(path, f"{problem}: it is nested too deeply") from None
    unused = [name for name in arrays if name not in used]
    if unused:
        raise _refuse(
            path, f"{problem}: it does not mention the arrays {', '.join(map(repr, unused))}"
        )
    return obj


def _encode(obj: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """Describe ``obj`` as JSON, moving its arrays into ``arrays`` under path-like names."""
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int, np.integer)):
                raise TypeError(f"tg.save: dict keys must be str or int, got {key!r}")
            key = key if isinstance(key, str) else int(key)
            items.append([key, _encode(value, _join(path, key), arrays)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, _join(path, i), arrays) for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else {"tuple": items}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, Tensor):
        obj = np.asarray(obj.data)
    if isinstance(obj, np.generic):
        return {"scalar": _store(np.asarray(obj), path, arrays)}
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise TypeError(
                f"tg.save: the array at {path!r} has dtype object; only numeric, bool and "
                "string arrays can be saved without pickle"
            )
        return {"array": _store(obj, path, arrays)}
    raise TypeError(
        f"tg.save: cannot save a {type(obj).__name__} at {path or 'the top level'!r}; "
        "save arrays, numbers, strings, None, and dicts/lists/tuples of them"
    )


def _join(path: str, key: Any) -> str:
    return str(key) if not path else f"{path}/{key}"


def _store(array: np.ndarray, path: str, arrays: dict[str, np.ndarray]) -> str:
    """Add ``array`` under the name ``path`` (made unique if two keys spell the same)."""
    name = path or "array"
    count = 1
    while name in arrays or name == STRUCTURE:
        count += 1
        name = f"{path or 'array'}~{count}"
    arrays[name] = array
    return name


def _decode(node: Any, arrays: dict[str, np.ndarray], used: set[str]) -> Any:
    """Rebuild what ``_encode`` described, raising _Damaged at anything it cannot have
    written. ``used`` collects the names of the arrays taken."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(value, arrays, used) for value in node]
    if not isinstance(node, dict) or len(node) != 1:
        raise _Damaged(f"an element of the wrong form, {_short(node)}")
    ((kind, content),) = node.items()
    if kind == "dict":
        return _decode_dict(content, arrays, used)
    if kind == "tuple":
        if not isinstance(content, list):
            raise _Damaged(f"a tuple that is not a list, {_short(content)}")
        return tuple(_decode(value, arrays, used) for value in content)
    if kind in ("array", "scalar"):
        array = _take(content, arrays, used)
        if kind == "scalar":
            if array.shape != ():
                raise _Damaged(f"a scalar {content!r} that is an array of shape {array.shape}")
            return array[()]
        return array
    raise _Damaged(f"an element of unknown kind {kind!r}")


def _decode_dict(content: Any, arrays: dict[str, np.ndarray], used: set[str]) -> dict:
    """A dict from its ``[[key, value], ...]`` list (keys str or int, each once)."""
    if not isinstance(content, list):
        raise _Damaged(f"a dict that is not a list of [key, value] pairs, {_short(content)}")
    result: dict = {}
    for pair in content:
        if not isinstance(pair, list) or len(pair) != 2:
            raise _Damaged(f"a dict item that is not a [key, value] pair, {_short(pair)}")
        key, value = pair
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            raise _Damaged(f"a dict key that is neither str nor int, {_short(key)}")
        if key in result:
            raise _Damaged(f"the dict key {key!r} twice")
        result[key] = _decode(value, arrays, used)
    return result


def _take(name: Any, arrays: dict[str, np.ndarray], used: set[str]) -> np.ndarray:
    """The array called ``name``, which must exist and not have been taken before."""
    if not isinstance(name, str):
        raise _Damaged(f"an array name that is not a string, {_short(name)}")
    if name not in arrays:
        raise _Damaged(f"a reference to the array {name!r}, which the file does not hold")
    if name in used:
        raise _Damaged(f"two references to the array {name!r}")
    used.add(name)
    return arrays[name]


def _short(node: Any, limit: int = 80) -> str:
    """``repr(node)``, cut to ``limit`` characters for an error message."""
    text = repr(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."
