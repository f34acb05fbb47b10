"""Creating tensors: from data, constants, ranges and random numbers, with PyTorch's names,
signatures and dtypes.

- ``tg.tensor(data)`` infers the dtype as PyTorch does: Python floats give the default dtype
  (float64 here, ``tg.set_default_dtype`` changes it), Python ints int64, bools bool, and
  NumPy arrays and tensors keep theirs.
- ``zeros ones empty rand randn`` take sizes as ``f(2, 3)`` or ``f((2, 3))``; ``full``,
  ``arange`` and ``randint`` infer their dtype from their numbers as PyTorch does.
- Every function takes ``dtype``, ``requires_grad`` and ``device`` (only the CPU exists here).
- Random numbers come from a ``Generator``: the one given as ``generator=``, else the library's
  default one, which ``tg.manual_seed(n)`` seeds. The streams are NumPy's, not PyTorch's: a
  seed reproduces this library's numbers, not PyTorch's.

Arrays are built in their dtype directly: a float32 tensor never needs a float64 array of its
size on the way (random numbers are drawn a chunk at a time).
"""

from __future__ import annotations

import math
import numbers
import operator
import secrets
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .dtypes import (
    bool_,
    double,
    float32,
    float64,
    float_or_default,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    short,
    to_dtype,
    uint8,
)
from .tensor import Tensor, _to_array, where

__all__ = [  # the dtypes are here too, so that tg.creation.float32 works (tg.float is in dtypes)
    "CreationError",
    "DtypeError",
    "Generator",
    "arange",
    "as_tensor",
    "bernoulli",
    "default_generator",
    "device",
    "double",
    "empty",
    "empty_like",
    "eye",
    "float32",
    "float64",
    "from_numpy",
    "full",
    "full_like",
    "get_default_dtype",
    "get_rng_state",
    "initial_seed",
    "int8",
    "int16",
    "int32",
    "int64",
    "linspace",
    "long",
    "manual_seed",
    "multinomial",
    "normal",
    "ones",
    "ones_like",
    "rand",
    "rand_like",
    "randint",
    "randint_like",
    "randn",
    "randn_like",
    "randperm",
    "seed",
    "set_default_dtype",
    "set_rng_state",
    "short",
    "tensor",
    "tril",
    "triu",
    "uint8",
    "uniform",
    "zeros",
    "zeros_like",
]


class CreationError(ValueError, RuntimeError):
    """A value a creation function cannot use (a negative size, an empty range, a negative
    probability...). PyTorch raises RuntimeError for these and NumPy ValueError: this error is
    both, so ``except RuntimeError`` and ``except ValueError`` catch it."""


class DtypeError(TypeError, RuntimeError):
    """A dtype an operation does not support (``rand_like`` of an int64 tensor): a TypeError,
    and a RuntimeError as PyTorch's."""


# ---- devices ---------------------------------------------------------------------------------

_DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "meta")


class device:  # noqa: N801  (PyTorch's name)
    """Where a tensor lives, PyTorch's ``torch.device``: ``tg.device('cpu')``,
    ``tg.device('cuda:0')`` or ``tg.device('cuda', 0)``. Any device can be named (code that
    picks ``'cuda' if tg.cuda.is_available() else 'cpu'`` runs), but only the CPU can hold
    tensors: creating one elsewhere is a RuntimeError."""

    __slots__ = ("type", "index")

    def __init__(self, type: str | device, index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise RuntimeError(
                f"device: expected a device string such as 'cpu' or 'cuda:0', got {type!r} "
                "(only the CPU is available here)"
            )
        name, _, number = type.partition(":")
        if name not in _DEVICE_TYPES:
            raise RuntimeError(
                f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start of device "
                f"string: {type}"
            )
        if number:
            if index is not None or not number.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(number)
        if index is not None and (isinstance(index, bool) or not _is_int(index) or index < 0):
            raise RuntimeError(f"Device index must be a non-negative int, got {index!r}")
        self.type = name
        self.index = None if index is None else operator.index(index)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, device) and (self.type, self.index) == (other.type, other.index)
        )

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"


def _check_device(op: str, place: Any) -> None:
    """Accept None, ``'cpu'``, ``'cpu:0'`` or ``tg.device('cpu')``; refuse every other device
    with an error that says the CPU is the only one."""
    if place is None:
        return
    if not isinstance(place, (str, device)) and isinstance(getattr(place, "type", None), str):
        place = device(place.type, getattr(place, "index", None))  # torch.device("cpu") too
    if not isinstance(place, (str, device)):
        raise RuntimeError(
            f"{op}: device {place!r} is not available: tinygrad_edu runs on the CPU only "
            "(use device='cpu' or leave device out; tg.cuda.is_available() is False)"
        )
    if device(place).type != "cpu":
        raise RuntimeError(
            f"{op}: device '{place}' is not available: tinygrad_edu runs on the CPU only "
            "(use device='cpu' or leave device out; tg.cuda.is_available() is False)"
        )


# ---- random generators -----------------------------------------------------------------------

_DEFAULT_SEED = 67280421310721  # PyTorch's initial seed of a new Generator
_STATE_BYTES = 8 + 16 + 16 + 1 + 4  # seed, PCG64 state and increment, the cached 32 bits


class Generator:
    """A source of random numbers, PyTorch's ``torch.Generator``: give it as ``generator=`` to
    the random functions to draw from it instead of from the library's default generator.

        g = tg.Generator().manual_seed(2147483647)
        C = tg.randn((27, 2), generator=g)

    A new Generator starts from PyTorch's initial seed (67280421310721), so two new ones give
    the same numbers; two seeded differently are independent, and drawing from one never
    moves another. It wraps a NumPy ``np.random.Generator`` (PCG64), in ``.numpy_generator``.
    """

    def __init__(self, device: Any = "cpu") -> None:
        _check_device("Generator", device)
        self.device = _CPU
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from ``seed`` (an int in [-2**63, 2**64); a negative one counts
        from 2**64, as in PyTorch). Returns the generator, so that
        ``g = tg.Generator().manual_seed(42)`` works."""
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"manual_seed expected an int, but got {_kind(seed)}")
        seed = operator.index(seed)
        if not -(2**63) <= seed < 2**64:
            raise CreationError(f"manual_seed: seed {seed} does not fit in 64 bits")
        self._seed = seed % 2**64
        self.numpy_generator = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Seed from the operating system's randomness (different every run); returns the
        seed, which ``initial_seed()`` also gives."""
        seed = secrets.randbits(64)
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        """The seed the stream started from."""
        return self._seed

    def get_state(self) -> Tensor:
        """The generator's whole state as a uint8 tensor: ``set_state`` of it later draws the
        same numbers again."""
        state = self.numpy_generator.bit_generator.state
        parts = [
            (self._seed, 8),
            (state["state"]["state"], 16),
            (state["state"]["inc"], 16),
            (state["has_uint32"], 1),
            (state["uinteger"], 4),
        ]
        data = b"".join(value.to_bytes(size, "little") for value, size in parts)
        return Tensor._from_op(np.frombuffer(data, dtype=np.uint8).copy(), None)

    def set_state(self, new_state: Tensor) -> Generator:
        """Go back to a state ``get_state()`` returned."""
        if not isinstance(new_state, Tensor) or new_state.dtype != uint8:
            raise TypeError("set_state: the RNG state must be a uint8 Tensor from get_state()")
        data = np.asarray(new_state.data).tobytes()
        if len(data) != _STATE_BYTES:
            raise CreationError(
                f"set_state: expected a state of {_STATE_BYTES} bytes (from get_state()), got "
                f"{len(data)}"
            )
        offsets = np.cumsum([0, 8, 16, 16, 1, 4])
        seed, pcg_state, inc, has_uint32, uinteger = (
            int.from_bytes(data[a:b], "little") for a, b in zip(offsets[:-1], offsets[1:])
        )
        self.manual_seed(seed)
        self.numpy_generator.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": pcg_state, "inc": inc},
            "has_uint32": has_uint32,
            "uinteger": uinteger,
        }
        return self

    def __repr__(self) -> str:
        return f"Generator(initial_seed={self._seed})"


_CPU = device("cpu")
default_generator = Generator()
default_generator.seed()  # the library's generator starts differently on every run


def manual_seed(seed: int) -> Generator:
    """Seed the library's default generator (used by the random functions, nn.init, dropout
    and shuffling DataLoaders when they are given no generator of their own). Returns it."""
    if isinstance(seed, numbers.Real):
        seed = int(seed)  # PyTorch's manual_seed converts with int()
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the operating system's randomness; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The seed the default generator started from."""
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The default generator's state (a uint8 tensor for ``set_rng_state``)."""
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    """Restore the default generator's state from ``get_rng_state()``."""
    default_generator.set_state(new_state)


def generator() -> np.random.Generator:
    """The NumPy generator behind the library's default Generator (for modules that draw
    NumPy arrays: nn.init, dropout, DataLoader)."""
    return default_generator.numpy_generator


def _rng(source: Any) -> np.random.Generator:
    """The NumPy generator to draw from: the given Generator's, or the default one's."""
    if source is None:
        return default_generator.numpy_generator
    if isinstance(source, Generator):
        return source.numpy_generator
    if isinstance(source, np.random.Generator):
        return source
    raise TypeError(f"generator must be a tg.Generator, got {type(source).__name__}")


# ---- helpers ---------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    """An integer (Python's or NumPy's, not a bool) or an integer 0-d tensor."""
    if isinstance(value, Tensor):
        return value.ndim == 0 and value.dtype.kind in "iu"
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _int(op: str, name: str, value: Any) -> int:
    if not _is_int(value):
        raise TypeError(f"{op}(): argument '{name}' must be an int, not {_kind(value)}")
    return operator.index(value.item() if isinstance(value, Tensor) else value)


def _number(op: str, name: str, value: Any) -> Any:
    """A Python or NumPy real number, or the value of a 0-d tensor."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise TypeError(
                f"{op}(): argument '{name}' must be a number or a 0-d tensor, got a tensor "
                f"of shape {value.shape}"
            )
        value = value.item()
    if isinstance(value, np.bool_):
        value = bool(value)
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{op}(): argument '{name}' must be a number, not {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    return type(value).__name__


def _size(op: str, shape: tuple, size: Any = None) -> tuple[int, ...]:
    """The sizes of ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` or ``f(size=(2, 3))``, checked:
    ints (or integer 0-d tensors), none negative."""
    if size is not None:
        if shape:
            raise TypeError(f"{op}(): the size was given twice (positionally and as size=)")
        shape = (size,)
    if not shape:
        raise TypeError(f'{op}() missing 1 required positional argument: "size"')
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if not all(_is_int(n) for n in shape):
        raise TypeError(f"{op}(): argument 'size' must be a tuple of ints, got {shape!r}")
    sizes = tuple(_int(op, "size", n) for n in shape)
    if any(n < 0 for n in sizes):
        raise CreationError(
            f"{op}(): Trying to create tensor with negative dimension: size {sizes}"
        )
    return sizes


def _wrap(array: np.ndarray, requires_grad: bool) -> Tensor:
    """A Tensor of an array built here (no copy: a float32 tensor never needs a float64
    array of its size on the way)."""
    tensor = Tensor._from_op(array[()] if array.ndim == 0 else array, None)
    return tensor.requires_grad_(True) if requires_grad else tensor


def _floating(op: str, dtype: np.dtype) -> np.dtype:
    if dtype.kind != "f":
        raise DtypeError(
            f"{op}: random floating-point numbers cannot be made in {dtype}; give a "
            "floating dtype (tg.float32 or tg.float64)"
        )
    return dtype


CHUNK = 1 << 20  # random numbers drawn at a time for a dtype other than float64


def _draw(draw: Callable[[Any], np.ndarray], shape: Any, dtype: np.dtype) -> np.ndarray:
    """``draw(size)`` float64 random numbers as an array of ``dtype``. Other dtypes are
    filled a chunk at a time from the same stream, so a seed gives the same numbers (up to
    rounding) in any dtype, without a float64 array of the full size."""
    if dtype == float64:
        return np.asarray(draw(shape), dtype=np.float64)
    out = np.empty(() if shape is None else shape, dtype=dtype)
    flat = out.reshape(-1)
    for start in range(0, flat.size, CHUNK):
        stop = min(start + CHUNK, flat.size)
        flat[start:stop] = draw(stop - start)
    return out


def _below(out: np.ndarray, high: float, low: float) -> np.ndarray:
    """Keep numbers drawn in [low, high) below ``high`` where rounding to the dtype (or
    ``low + (high - low) * u``) reached it."""
    if high > low:
        np.minimum(out, np.nextafter(out.dtype.type(high), out.dtype.type(low)), out=out)
    return out


# ---- from data -------------------------------------------------------------------------------


def tensor(
    data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A new tensor holding a copy of ``data``: a number, nested lists or tuples, a NumPy
    array or a tensor.

    The dtype, unless given, is PyTorch's: Python floats give the default dtype (float64 here;
    see ``tg.set_default_dtype``), Python ints int64, bools bool (ints and floats together
    give the float dtype); a NumPy array, a NumPy number or a tensor keeps its dtype. A tensor
    is copied off the graph (with PyTorch's warning: ``t.detach().clone()`` says so).
    Ragged lists and strings are errors.
    """
    _check_device("tensor", device)
    if isinstance(data, Tensor):
        warnings.warn(
            "To copy construct from a tensor, it is recommended to use "
            "sourceTensor.detach().clone() or sourceTensor.detach().clone().requires_grad_(True), "
            "rather than tg.tensor(sourceTensor).",
            UserWarning,
            stacklevel=2,
        )
    array = _to_array(data, None if dtype is None else to_dtype(dtype, "tensor"))  # a copy
    if dtype is None and not isinstance(data, (Tensor, np.ndarray, np.generic)):
        array = _python_dtype(array)
    return _wrap(np.asarray(array), requires_grad)


def _python_dtype(array: Any) -> Any:
    """PyTorch's dtype for numbers from Python: its float dtype for floats (NumPy gives
    float64), int64 for ints (NumPy may give uint64 for ints beyond int64, an overflow)."""
    if array.dtype == float64 and get_default_dtype() != float64:
        return array.astype(get_default_dtype())
    if array.dtype == np.uint64:
        raise CreationError("tensor: Overflow: an integer does not fit in int64")
    return array


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` as a tensor, sharing memory where it can: a tensor of the dtype is returned
    as it is, a NumPy array of the dtype is wrapped without a copy; anything else is
    ``tg.tensor(data, dtype)``."""
    _check_device("as_tensor", device)
    wanted = None if dtype is None else to_dtype(dtype, "as_tensor")
    if isinstance(data, Tensor):
        return data if wanted in (None, data.dtype) else data.astype(wanted)
    if isinstance(data, np.ndarray) and wanted in (None, data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=wanted)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory: changing one changes the other, as in PyTorch."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {_kind(array)})")
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"from_numpy: can't convert np.ndarray of type {array.dtype}; the supported types "
            "are bool, integers and floats"
        )
    return Tensor._from_op(array[()] if array.ndim == 0 else array, None)


# ---- constants -------------------------------------------------------------------------------


def zeros(
    *shape: Any, size: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """``tg.zeros(2, 3)`` or ``tg.zeros((2, 3))``: zeros of the default dtype unless given."""
    return _constant("zeros", np.zeros, shape, size, dtype, device, requires_grad)


def ones(
    *shape: Any, size: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """``tg.ones(2, 3)`` or ``tg.ones((2, 3))``: ones of the default dtype unless given."""
    return _constant("ones", np.ones, shape, size, dtype, device, requires_grad)


def empty(
    *shape: Any, size: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """A tensor whose values are whatever was in memory (fill it before reading it)."""
    return _constant("empty", np.empty, shape, size, dtype, device, requires_grad)


def _constant(
    op: str, make: Any, shape: tuple, size: Any, dtype: Any, device: Any, requires_grad: bool
) -> Tensor:
    _check_device(op, device)
    return _wrap(make(_size(op, shape, size), float_or_default(dtype)), requires_grad)


def full(
    size: Any,
    fill_value: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``size`` filled with ``fill_value``. Without a dtype, PyTorch's: bool for a bool, int64
    for an int, the default dtype for a float."""
    _check_device("full", device)
    value = _number("full", "fill_value", fill_value)
    dtype = _scalar_dtype(value) if dtype is None else to_dtype(dtype, "full")
    return _wrap(np.full(_size("full", (size,)), value, dtype), requires_grad)


def _scalar_dtype(value: Any) -> np.dtype:
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, numbers.Integral):
        return int64
    return get_default_dtype()


# ---- like another tensor ---------------------------------------------------------------------


def _like(op: str, input: Any, dtype: Any, device: Any) -> tuple[tuple, np.dtype]:  # noqa: A002
    """The shape and dtype of a ``*_like`` result."""
    if not isinstance(input, (Tensor, np.ndarray)):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {_kind(input)}")
    _check_device(op, device)
    return input.shape, input.dtype if dtype is None else to_dtype(dtype, op)


def _constant_like(
    op: str, make: Any, input: Any, dtype: Any, device: Any, requires_grad: bool  # noqa: A002
) -> Tensor:
    """``make(shape, dtype)`` in ``input``'s shape and dtype (or ``dtype``)."""
    shape, dtype = _like(op, input, dtype, device)
    return _wrap(make(shape, dtype), requires_grad)


def _random_like(
    op: str, draw: Any, input: Any, generator: Any, dtype: Any, device: Any,  # noqa: A002
    requires_grad: bool,
) -> Tensor:
    """``draw`` (rand or randn) in ``input``'s shape and floating dtype (or ``dtype``)."""
    shape, dtype = _like(op, input, dtype, device)
    return draw(shape, generator=generator, dtype=_floating(op, dtype), requires_grad=requires_grad)


def zeros_like(
    input: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False  # noqa: A002
) -> Tensor:
    """Zeros of ``input``'s shape and dtype (or ``dtype``)."""
    return _constant_like("zeros_like", np.zeros, input, dtype, device, requires_grad)


def ones_like(
    input: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False  # noqa: A002
) -> Tensor:
    """Ones of ``input``'s shape and dtype (or ``dtype``)."""
    return _constant_like("ones_like", np.ones, input, dtype, device, requires_grad)


def empty_like(
    input: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False  # noqa: A002
) -> Tensor:
    """An uninitialised tensor of ``input``'s shape and dtype (or ``dtype``)."""
    return _constant_like("empty_like", np.empty, input, dtype, device, requires_grad)


def full_like(
    input: Any,  # noqa: A002
    fill_value: Any,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``fill_value`` in ``input``'s shape and dtype (or ``dtype``): 2.7 in an int64 tensor
    is 2, as in PyTorch."""
    shape, dtype = _like("full_like", input, dtype, device)
    value = _number("full_like", "fill_value", fill_value)
    return _wrap(np.full(shape, value, dtype), requires_grad)


def rand_like(
    input: Any,  # noqa: A002
    *,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform on [0, 1), of ``input``'s shape and floating dtype (or ``dtype``)."""
    return _random_like("rand_like", rand, input, generator, dtype, device, requires_grad)


def randn_like(
    input: Any,  # noqa: A002
    *,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Standard normal, of ``input``'s shape and floating dtype (or ``dtype``)."""
    return _random_like("randn_like", randn, input, generator, dtype, device, requires_grad)


def randint_like(
    input: Any,  # noqa: A002
    low: Any = 0,
    high: Any = None,
    *,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Integers drawn uniformly from [low, high) (``randint_like(x, high)`` or
    ``randint_like(x, low, high)``), in ``input``'s shape and dtype (or ``dtype``)."""
    shape, dtype = _like("randint_like", input, dtype, device)
    if high is None:
        low, high = 0, low
    return randint(low, high, shape, generator=generator, dtype=dtype,
                   requires_grad=requires_grad)


# ---- ranges ----------------------------------------------------------------------------------


def arange(
    start: Any = 0,
    end: Any = None,
    step: Any = 1,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``start, start + step, ...`` up to (not including) ``end``; ``arange(n)`` is 0..n-1.

    int64 when all three are ints, else the default dtype (PyTorch's rule). The number of
    values is ceil((end - start) / step); each is start + i * step (computed in float64, then
    rounded to the dtype). An integer dtype truncates start, end and step first, as PyTorch.
    """
    _check_device("arange", device)
    if end is None:
        start, end = 0, start
    values = [_number("arange", name, v) for name, v in (("start", start), ("end", end),
                                                         ("step", step))]
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in values)
        dtype = int64 if ints else get_default_dtype()
    dtype = to_dtype(dtype, "arange")
    if not all(math.isfinite(v) for v in values):
        raise CreationError(f"arange: unsupported range: {values[0]} -> {values[1]}")
    if dtype.kind in "iub":
        values = [int(v) for v in values]  # int() truncates toward 0
    start, end, step = values
    if step == 0:
        raise CreationError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise CreationError(
            f"arange: upper bound and lower bound inconsistent with step sign (start={start}, "
            f"end={end}, step={step})"
        )
    if dtype.kind in "iub":
        return _wrap(np.arange(start, end, step, dtype=np.int64).astype(dtype, copy=False),
                     requires_grad)
    n = math.ceil((end - start) / step)
    positions = np.arange(n, dtype=np.float64)
    return _wrap((positions * step + start).astype(dtype, copy=False), requires_grad)


def linspace(
    start: Any,
    end: Any,
    steps: int,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included, in the default
    dtype unless given. As PyTorch, the first half counts up from ``start`` and the second
    down from ``end``, so both ends are exact."""
    _check_device("linspace", device)
    start = _number("linspace", "start", start)
    end = _number("linspace", "end", end)
    steps = _int("linspace", "steps", steps)
    if steps < 0:
        raise CreationError(f"linspace: number of steps must be non-negative, got {steps}")
    dtype = float_or_default(dtype, "linspace")
    if steps == 1:
        return _wrap(np.full(1, start, dtype), requires_grad)
    work = dtype if dtype.kind == "f" else float64
    if dtype.kind != "f":  # integers: ends truncated, values computed in float64 and truncated
        start, end = int(start), int(end)  # toward 0
    start, end = work.type(start), work.type(end)
    step = (end - start) / work.type(max(steps - 1, 1))
    i = np.arange(steps, dtype=work)
    values = np.where(i < steps // 2, start + step * i, end - step * (steps - 1 - i))
    return _wrap(values.astype(dtype, copy=False), requires_grad)


def eye(
    n: int,
    m: int | None = None,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """The (n, m) identity matrix (n by n without m), in the default dtype unless given."""
    _check_device("eye", device)
    n = _int("eye", "n", n)
    m = n if m is None else _int("eye", "m", m)
    for name, value in (("n", n), ("m", m)):
        if value < 0:
            raise CreationError(f"eye: {name} must be greater or equal to 0, got {value}")
    return _wrap(np.eye(n, m, dtype=float_or_default(dtype, "eye")), requires_grad)


# ---- triangles: masks that gradients flow through --------------------------------------------


def tril(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The lower triangle of the last two dimensions: element (i, j) is kept where
    j - i <= diagonal and is 0 above. ``input`` (..., n, m) -> (..., n, m); the gradient flows
    to the kept elements (it is ``tg.where`` with a constant mask)."""
    x, diagonal = _triangle_args("tril", input, diagonal)
    keep = np.tri(x.shape[-2], x.shape[-1], k=diagonal, dtype=bool)
    return where(keep, x, x.dtype.type(0))


def triu(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The upper triangle of the last two dimensions: element (i, j) is kept where
    j - i >= diagonal and is 0 below. The gradient flows to the kept elements."""
    x, diagonal = _triangle_args("triu", input, diagonal)
    keep = ~np.tri(x.shape[-2], x.shape[-1], k=diagonal - 1, dtype=bool)
    return where(keep, x, x.dtype.type(0))


def _triangle_args(op: str, x: Any, diagonal: Any) -> tuple[Tensor, int]:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {_kind(x)}")
    if x.ndim < 2:
        raise CreationError(
            f"{op}: input tensor must have at least 2 dimensions, got shape {x.shape}"
        )
    return x, _int(op, "diagonal", diagonal)


# ---- random numbers --------------------------------------------------------------------------


def rand(
    *shape: Any,
    size: Any = None,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform on [0, 1): ``tg.rand(2, 3)`` or ``tg.rand((2, 3), generator=g)``."""
    _check_device("rand", device)
    dtype = _floating("rand", float_or_default(dtype, "rand"))
    out = _draw(_rng(generator).random, _size("rand", shape, size), dtype)
    return _wrap(out if dtype == float64 else _below(out, 1.0, 0.0), requires_grad)


def randn(
    *shape: Any,
    size: Any = None,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Standard normal (mean 0, standard deviation 1): ``tg.randn(2, 3)`` or
    ``tg.randn((2, 3), generator=g)``."""
    _check_device("randn", device)
    dtype = _floating("randn", float_or_default(dtype, "randn"))
    out = _draw(_rng(generator).standard_normal, _size("randn", shape, size), dtype)
    return _wrap(out, requires_grad)


def uniform(
    low: float = 0.0,
    high: float = 1.0,
    size: Any = None,
    *,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform on [low, high), NumPy's argument order (PyTorch writes
    ``tg.empty(size).uniform_(low, high)``). ``size=None`` gives a 0-d tensor."""
    _check_device("uniform", device)
    low, high = _number("uniform", "low", low), _number("uniform", "high", high)
    if not low <= high:
        raise CreationError(f"uniform: expects low <= high, got low={low}, high={high}")
    dtype = _floating("uniform", float_or_default(dtype, "uniform"))
    rng = _rng(generator)
    shape = None if size is None else _size("uniform", (size,))
    out = _draw(lambda n: rng.uniform(low, high, n), shape, dtype)
    return _wrap(_below(np.asarray(out), high, low), requires_grad)


def normal(
    mean: Any = 0.0,
    std: Any = 1.0,
    size: Any = None,
    *,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Normal with the given mean and standard deviation.

    - ``normal(mean, std, size)`` with numbers: ``size`` draws (a 0-d tensor without size).
    - ``normal(mean, std)`` with a tensor mean and/or std: one draw per element of their
      broadcast shape, in their dtype. The result is a constant (no gradient reaches mean or
      std; PyTorch's has a zero gradient).
    """
    _check_device("normal", device)
    rng = _rng(generator)
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        return _normal_of_tensors(mean, std, size, rng, requires_grad)
    mean, std = _number("normal", "mean", mean), _number("normal", "std", std)
    if not std >= 0:
        raise CreationError(f"normal expects std >= 0.0, but found std {std}")
    dtype = _floating("normal", float_or_default(dtype, "normal"))
    shape = None if size is None else _size("normal", (size,))
    out = _draw(lambda n: rng.normal(mean, std, n), shape, dtype)
    return _wrap(np.asarray(out), requires_grad)


def _normal_of_tensors(
    mean: Any, std: Any, size: Any, rng: np.random.Generator, requires_grad: bool
) -> Tensor:
    if size is not None:
        raise TypeError("normal(): size cannot be given with a tensor mean or std")
    arrays = [
        np.asarray(v.data) if isinstance(v, Tensor) else np.asarray(_number("normal", n, v))
        for n, v in (("mean", mean), ("std", std))
    ]
    tensors = [a.dtype for a, v in zip(arrays, (mean, std)) if isinstance(v, Tensor)]
    dtype = _floating("normal", np.result_type(*tensors))
    if np.any(~(arrays[1] >= 0)):
        raise CreationError("normal expects all elements of std >= 0.0")
    shape = np.broadcast_shapes(arrays[0].shape, arrays[1].shape)
    out = _draw(rng.standard_normal, shape, dtype)
    out *= arrays[1].astype(dtype, copy=False)
    out += arrays[0].astype(dtype, copy=False)
    return _wrap(out, requires_grad)


def randint(
    low: Any = 0,
    high: Any = None,
    size: Any = None,
    *,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Integers drawn uniformly from [low, high): ``randint(high, size)`` or
    ``randint(low, high, size)``, ``size`` a tuple. int64 unless ``dtype`` says otherwise
    (a float dtype holds whole numbers)."""
    _check_device("randint", device)
    if size is None and isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:  # randint(high, size=...)
        low, high = 0, low
    if size is None:
        raise TypeError('randint() missing 1 required positional argument: "size"')
    low, high = _int("randint", "low", low), _int("randint", "high", high)
    shape = _size("randint", (size,))
    dtype = int64 if dtype is None else to_dtype(dtype, "randint")
    if low >= high:
        raise CreationError(
            f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )
    if dtype.kind in "iub":
        info = np.iinfo(np.uint8 if dtype.kind == "b" else dtype)
        largest = 1 if dtype.kind == "b" else info.max
        if low < info.min or high - 1 > largest:
            raise CreationError(f"randint: [{low}, {high}) does not fit in {dtype}")
    values = _rng(generator).integers(low, high, shape, dtype=np.int64)
    return _wrap(values.astype(dtype, copy=False), requires_grad)


def randperm(
    n: int,
    *,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A random permutation of 0..n-1 (int64 unless ``dtype`` says otherwise)."""
    _check_device("randperm", device)
    n = _int("randperm", "n", n)
    if n < 0:
        raise CreationError(f"randperm: n must be non-negative, got {n}")
    dtype = int64 if dtype is None else to_dtype(dtype, "randperm")
    return _wrap(_rng(generator).permutation(n).astype(dtype, copy=False), requires_grad)


def bernoulli(
    input: Tensor, p: float | None = None, *, generator: Any = None  # noqa: A002
) -> Tensor:
    """1 with probability ``input`` (elementwise; or ``p`` everywhere when given), else 0, in
    ``input``'s shape and floating dtype. The result carries no gradient."""
    if not isinstance(input, Tensor):
        raise TypeError(f"bernoulli(): argument 'input' must be Tensor, not {_kind(input)}")
    dtype = _floating("bernoulli", input.dtype)
    probs = np.asarray(input.data) if p is None else np.asarray(_number("bernoulli", "p", p))
    if not np.all((probs >= 0) & (probs <= 1)):
        raise CreationError("bernoulli: expected every probability p to be in [0, 1]")
    u = _draw(_rng(generator).random, input.shape, dtype)
    return _wrap((u < probs).astype(dtype), False)


def multinomial(
    input: Tensor,  # noqa: A002
    num_samples: int,
    replacement: bool = False,
    *,
    generator: Any = None,
) -> Tensor:
    """Draw ``num_samples`` category indices from each row of non-negative weights.

    ``input`` (n,) -> (num_samples,) or (rows, n) -> (rows, num_samples), int64. Category j of
    a row is drawn with probability w_j / sum(w) (the weights need not sum to 1).
    Without replacement a category is drawn at most once per row: the draws are the
    categories with the largest w_j / E_j, E_j ~ Exponential(1), in that order (a weighted
    draw without replacement, as PyTorch does it). With replacement (and for a single draw,
    which is the same either way) every draw is independent: the category whose cumulative
    share first exceeds a uniform number.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial(): argument 'input' must be Tensor, not {_kind(input)}")
    num_samples = _int("multinomial", "num_samples", num_samples)
    weights = np.asarray(input.data)
    if weights.ndim not in (1, 2):
        raise CreationError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {input.shape}")
    if weights.dtype.kind != "f":
        raise DtypeError(
            f"multinomial only supports floating-point dtypes for input, got: {weights.dtype}"
        )
    if num_samples <= 0:
        raise CreationError(f"multinomial: cannot sample n_sample <= 0 samples ({num_samples})")
    rows = np.atleast_2d(weights).astype(np.float64)
    categories = rows.shape[1]
    if not replacement and num_samples > categories:
        raise CreationError(
            f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples without "
            f"replacement ({num_samples} > {categories})"
        )
    if not np.all(np.isfinite(rows)) or np.any(rows < 0):
        raise CreationError(
            "multinomial: probability tensor contains either `inf`, `nan` or element < 0"
        )
    if np.any(rows.sum(axis=1) <= 0):
        raise CreationError(
            "multinomial: invalid multinomial distribution (sum of probabilities <= 0)"
        )
    rng = _rng(generator)
    if replacement or num_samples == 1:  # one draw: the same with or without replacement
        drawn = _draw_with_replacement(rows, num_samples, rng)
    else:
        drawn = _draw_without_replacement(rows, num_samples, rng)
    return _wrap(drawn.reshape(weights.shape[:-1] + (num_samples,)), False)


def _draw_with_replacement(rows: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """(rows, n) weights -> (rows, k) indices: the first category whose cumulative share
    exceeds a uniform u. A category of weight 0 adds nothing to the share: never drawn."""
    shares = np.cumsum(rows, axis=1)
    shares /= shares[:, -1:]  # the last share is exactly 1, and u < 1
    u = rng.random((rows.shape[0], k))
    drawn = np.empty((rows.shape[0], k), dtype=np.int64)
    for r in range(rows.shape[0]):  # one binary search per row of the batch
        drawn[r] = np.searchsorted(shares[r], u[r], side="right")
    return drawn


def _draw_without_replacement(rows: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """(rows, n) weights -> (rows, k) distinct indices: the k largest w / E, E ~ Exp(1), in
    decreasing order. Categories of weight 0 come after all the others."""
    with np.errstate(divide="ignore", invalid="ignore"):  # E can be 0 (probability 2**-53)
        keys = -(rows / rng.standard_exponential(rows.shape))  # ascending order = decreasing w/E
    if k < keys.shape[1]:  # only the k smallest need sorting
        candidates = np.argpartition(keys, k - 1, axis=1)[:, :k]
    else:
        candidates = np.broadcast_to(np.arange(keys.shape[1]), keys.shape)
    chosen = np.take_along_axis(keys, candidates, axis=1)
    order = np.argsort(chosen, axis=1, kind="stable")
    return np.take_along_axis(candidates, order, axis=1).astype(np.int64, copy=False)

