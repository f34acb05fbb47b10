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
arrays in the archive's order. Tensors are saved as their arrays and load as NumPy arrays,
the same as a ``state_dict()`` holds them.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .tensor import Tensor

STRUCTURE = "__structure__"


def save(obj: Any, path: str | os.PathLike) -> Path:
    """Write ``obj`` (a state_dict, or a nesting of dicts/lists/tuples of arrays and numbers)
    to ``path`` as an ``.npz`` archive, without pickle.

    As with ``np.savez``, ``".npz"`` is appended to a path that does not end with it:
    ``tg.save(sd, "model")`` writes ``model.npz``. Returns the path written.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    arrays: dict[str, np.ndarray] = {}
    structure = _encode(obj, "", arrays)
    text = json.dumps(structure, allow_nan=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in [*arrays.items(), (STRUCTURE, np.array(text))]:
            with archive.open(name + ".npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, array, allow_pickle=False)
    return path


def load(path: str | os.PathLike) -> Any:
    """Read what ``tg.save`` wrote (``path`` with or without the ``.npz`` that save adds).
    Model weights come back as a dict of NumPy arrays in the saved order, ready for
    ``model.load_state_dict``. A file holding Python objects (which would need pickle) is
    refused with a ValueError."""
    path = Path(path)
    if not path.exists() and path.suffix != ".npz":
        with_suffix = path.with_name(path.name + ".npz")
        if with_suffix.exists():
            path = with_suffix
    if not path.exists():
        raise FileNotFoundError(f"tg.load: no such file: {str(path)!r}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError(f"tg.load: {str(path)!r} is a single .npy array, not an .npz")
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as error:
        if "pickle" in str(error):
            raise ValueError(
                f"tg.load: {str(path)!r} holds Python objects (object arrays), which can only "
                "be read with pickle; tg.load never unpickles, because unpickling can run "
                "arbitrary code. Save plain numeric arrays instead."
            ) from None
        raise
    if STRUCTURE not in arrays:
        return arrays
    structure = json.loads(str(arrays.pop(STRUCTURE)))
    return _decode(structure, arrays)


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


def _decode(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Rebuild what ``_encode`` described."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(value, arrays) for value in node]
    if not isinstance(node, dict) or len(node) != 1:
        raise ValueError(f"tg.load: the file's structure is damaged near {node!r}")
    ((kind, content),) = node.items()
    if kind == "dict":
        return {key: _decode(value, arrays) for key, value in content}
    if kind == "tuple":
        return tuple(_decode(value, arrays) for value in content)
    if kind == "array":
        return arrays[content]
    if kind == "scalar":
        return arrays[content][()]
    raise ValueError(f"tg.load: the file's structure has an unknown entry {kind!r}")
