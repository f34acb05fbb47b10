"""tinygrad_edu: an autograd engine to learn deep learning with, on NumPy.

    import tinygrad_edu as tg
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad  # Tensor([2., 4.], dtype=float64)

The engine (``autograd``, ``tensor``, ``ops``) comes first; ``nn``, ``optim``, ``data`` and
``train`` are built on it; ``gradcheck`` and the graph drawing are tools around it.
"""

from . import cuda, data, debug, nn, optim, train, utils
from .autograd import Context, Function, Node, grad
from .creation import (
    CreationError,
    DtypeError,
    Generator,
    arange,
    as_tensor,
    bernoulli,
    default_generator,
    device,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    get_rng_state,
    initial_seed,
    linspace,
    manual_seed,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    seed,
    set_rng_state,
    tensor,
    tril,
    triu,
    uniform,
    zeros,
    zeros_like,
)
from .debug import AnomalyError, detect_anomaly, gradcheck_graph, trace_backward
from .dtypes import bool as bool  # PyTorch's tg.bool; not in __all__ (keeps Python's bool)
from .dtypes import (
    double,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    short,
    uint8,
)
from .dtypes import float as float  # PyTorch's tg.float, float32; not in __all__
from .dtypes import int as int  # PyTorch's tg.int, int32; not in __all__
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .graph import draw_graph
from .optim import lr_scheduler  # noqa: F401  (tg.optim.lr_scheduler, as torch.optim.lr_scheduler)
from .serialization import CheckpointError, load, save
from .tensor import Tensor, cat, matmul, maximum, minimum, stack, where

__version__ = "0.1.0"

__all__ = [
    "AnomalyError",
    "arange",
    "as_tensor",
    "bernoulli",
    "cat",
    "CheckpointError",
    "Context",
    "CreationError",
    "cuda",
    "data",
    "debug",
    "default_generator",
    "detect_anomaly",
    "device",
    "double",
    "draw_graph",
    "DtypeError",
    "empty",
    "empty_like",
    "enable_grad",
    "eye",
    "float32",
    "float64",
    "from_numpy",
    "full",
    "full_like",
    "Function",
    "Generator",
    "get_default_dtype",
    "get_rng_state",
    "grad",
    "gradcheck",
    "gradcheck_graph",
    "GradcheckError",
    "gradgradcheck",
    "inference_mode",
    "initial_seed",
    "int16",
    "int32",
    "int64",
    "int8",
    "is_grad_enabled",
    "linspace",
    "load",
    "long",
    "manual_seed",
    "matmul",
    "maximum",
    "minimum",
    "multinomial",
    "nn",
    "no_grad",
    "Node",
    "normal",
    "ones",
    "ones_like",
    "optim",
    "rand",
    "rand_like",
    "randint",
    "randint_like",
    "randn",
    "randn_like",
    "randperm",
    "save",
    "seed",
    "set_default_dtype",
    "set_grad_enabled",
    "set_rng_state",
    "short",
    "stack",
    "Tensor",
    "tensor",
    "trace_backward",
    "train",
    "tril",
    "triu",
    "uint8",
    "uniform",
    "utils",
    "where",
    "zeros",
    "zeros_like",
]
