"""Dtypes with PyTorch's names, and the default floating-point dtype.

Each name is a NumPy dtype, so ``x.dtype == tg.float32`` compares a tensor's dtype with it,
``tg.zeros(2, dtype=tg.long)`` builds an int64 tensor and ``str(tg.float32)`` is
``'float32'``. The names follow PyTorch: ``tg.float`` is float32 and ``tg.int`` is int32, as
``torch.float`` and ``torch.int`` are (Python's ``float`` and ``int`` mean 64 bits).

The default dtype (``get_default_dtype()``) is what Python floats and the creation functions
give when no dtype is said. It is float64 here, the precision gradient checks need; PyTorch's
is float32. ``tg.set_default_dtype(tg.float32)`` gives PyTorch's.

``float``, ``int`` and ``bool`` are defined at the very end of this file, because they hide
Python's built-ins of the same names in it: nothing below them may call ``float(...)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
double = float64
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
short = int16
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
long = int64
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

_default = float64


def to_dtype(dtype: Any, op: str = "dtype") -> np.dtype:
    """``dtype`` as a NumPy dtype: one of the names here, a NumPy dtype or scalar type, or
    Python's ``float`` (float64), ``int`` (int64) or ``bool``. Tensors hold numbers only, so
    anything else (complex, strings, objects) is a TypeError naming ``op``."""
    try:
        result = np.dtype(dtype)
    except TypeError:
        result = None
    if result is None or dtype is None or result.kind not in "biuf":
        raise TypeError(
            f"{op}: {dtype!r} is not a dtype a tensor can hold; use tg.float32, tg.float64, "
            "tg.int64 (tg.long), tg.int32, tg.int16, tg.int8, tg.uint8 or tg.bool"
        )
    return result


def get_default_dtype() -> np.dtype:
    """The dtype of Python floats in ``tg.tensor`` and of the creation functions when no
    dtype is given: float64 unless ``set_default_dtype`` changed it."""
    return _default


def set_default_dtype(dtype: Any) -> None:
    """Make ``dtype`` (tg.float32 or tg.float64, as PyTorch allows) the default."""
    global _default
    result = to_dtype(dtype, "set_default_dtype")
    if result not in (float32, float64):
        raise TypeError(
            "set_default_dtype: only floating-point types are supported as the default type "
            f"(tg.float32 or tg.float64), got {result}"
        )
    _default = result


def float_or_default(dtype: Any, op: str = "dtype") -> np.dtype:
    """``dtype`` as a NumPy dtype, or the default dtype when it is None."""
    return _default if dtype is None else to_dtype(dtype, op)


# PyTorch's names that are also Python built-ins. Kept last: below here in this file,
# ``float`` is a dtype, not Python's float.
float = float32  # noqa: A001
int = int32  # noqa: A001
bool = bool_  # noqa: A001


def dtype_or_default(dtype: Any, op: str = "dtype") -> np.dtype:
    """``dtype`` as a NumPy dtype, or the default float dtype when it is None (layers)."""
    return get_default_dtype() if dtype is None else to_dtype(dtype, op)
