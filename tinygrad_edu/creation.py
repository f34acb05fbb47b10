"""Creating tensors: constants, ranges and random numbers.

Every function takes ``dtype`` (float64 unless said otherwise, the source documents' precision)
and ``requires_grad``. Random numbers come from the library's own generator, which
``tg.manual_seed(n)`` seeds, so runs are reproducible without touching NumPy's global state.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def _make(data: np.ndarray, dtype: Any, requires_grad: bool) -> Tensor:
    return Tensor(data, requires_grad=requires_grad, dtype=np.float64 if dtype is None else dtype)


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """``tg.zeros(2, 3)`` or ``tg.zeros((2, 3))``."""
    return _make(np.zeros(_shape_arg(shape)), dtype, requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(_shape_arg(shape)), dtype, requires_grad)


def full(
    shape: Sequence[int] | int, fill_value: float, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    return _make(np.full(shape, fill_value), dtype, requires_grad)


def empty(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.empty(_shape_arg(shape)), dtype, requires_grad)


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
    return _make(np.linspace(start, end, steps), dtype, requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.eye(n, m), dtype, requires_grad)


def rand(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1)."""
    return _make(_generator.random(_shape_arg(shape)), dtype, requires_grad)


def randn(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal."""
    return _make(_generator.standard_normal(_shape_arg(shape)), dtype, requires_grad)


def uniform(
    low: float = 0.0,
    high: float = 1.0,
    size: Any = None,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform on [low, high), NumPy's argument order."""
    return _make(_generator.uniform(low, high, size), dtype, requires_grad)


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
    return _make(_generator.normal(mean, std, size), dtype, requires_grad)
