"""Creating tensors: constants, ranges and random numbers.

Every function takes ``dtype`` (float64 unless said otherwise, the source documents' precision)
and ``requires_grad``. Random numbers come from the library's own generator, which
``tg.manual_seed(n)`` seeds, so runs are reproducible without touching NumPy's global state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .tensor import Tensor, _shape_arg

_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the library's random generator (used by rand, randn, uniform, normal, nn.init,
    dropout and shuffling DataLoaders without a seed of their own)."""
    global _generator
    _generator = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    """The library's random generator."""
    return _generator


def _dtype(dtype: Any) -> np.dtype:
    return np.dtype(np.float64 if dtype is None else dtype)


def _wrap(array: np.ndarray, requires_grad: bool) -> Tensor:
    """A Tensor of an array built here (no copy: a float32 tensor never needs a float64
    array of its size on the way)."""
    tensor = Tensor._from_op(array[()] if array.ndim == 0 else array, None)
    return tensor.requires_grad_(True) if requires_grad else tensor


CHUNK = 1 << 20  # random numbers drawn at a time for a dtype other than float64


def _random(draw: Callable[[Any], np.ndarray], shape: Any, dtype: Any, requires_grad: bool):
    """``draw(size)`` float64 random numbers into a tensor of ``dtype``. Other dtypes are
    filled a chunk at a time from the same stream, so a seed gives the same numbers (up to
    rounding) in any dtype, without a float64 array of the full size."""
    dtype = _dtype(dtype)
    if dtype == np.float64:
        return _wrap(np.asarray(draw(shape), dtype=np.float64), requires_grad)
    out = np.empty(() if shape is None else shape, dtype=dtype)
    flat = out.reshape(-1)
    for start in range(0, flat.size, CHUNK):
        stop = min(start + CHUNK, flat.size)
        flat[start:stop] = draw(stop - start)
    return _wrap(out, requires_grad)


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """``tg.zeros(2, 3)`` or ``tg.zeros((2, 3))``."""
    return _wrap(np.zeros(_shape_arg(shape), dtype=_dtype(dtype)), requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _wrap(np.ones(_shape_arg(shape), dtype=_dtype(dtype)), requires_grad)


def full(
    shape: Sequence[int] | int, fill_value: float, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    return _wrap(np.full(shape, fill_value, dtype=_dtype(dtype)), requires_grad)


def empty(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _wrap(np.empty(_shape_arg(shape), dtype=_dtype(dtype)), requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(t.shape), dtype=dtype or t.dtype, requires_grad=requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(t.shape), dtype=dtype or t.dtype, requires_grad=requires_grad)


def arange(
    start: float,
    end: float | None = None,
    step: float = 1,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Like ``np.arange``: integers give int64 unless ``dtype`` says otherwise."""
    values = np.arange(start, step=step) if end is None else np.arange(start, end, step)
    return Tensor(values, dtype=dtype, requires_grad=requires_grad)


def linspace(
    start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    return _wrap(np.linspace(start, end, steps, dtype=_dtype(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _wrap(np.eye(n, m, dtype=_dtype(dtype)), requires_grad)


def rand(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1)."""
    return _random(_generator.random, _shape_arg(shape), dtype, requires_grad)


def randn(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal."""
    return _random(_generator.standard_normal, _shape_arg(shape), dtype, requires_grad)


def uniform(
    low: float = 0.0,
    high: float = 1.0,
    size: Any = None,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform on [low, high), NumPy's argument order."""
    return _random(lambda n: _generator.uniform(low, high, n), size, dtype, requires_grad)


def normal(
    mean: float = 0.0,
    std: float = 1.0,
    size: Any = None,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Normal with the given mean and standard deviation."""
    if std < 0:
        raise ValueError(f"normal: std must be non-negative, got {std}")
    return _random(lambda n: _generator.normal(mean, std, n), size, dtype, requires_grad)
