"""tinygrad_edu: an autograd engine to learn deep learning with, on NumPy.

    import tinygrad_edu as tg
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad  # Tensor([2., 4.], dtype=float64)

The engine (``autograd``, ``tensor``, ``ops``) comes first; ``nn``, ``optim``, ``data`` and
``train`` are built on it; ``gradcheck`` and the graph drawing are tools around it.
"""

import numpy as np

from . import data, debug, nn, optim, train
from .autograd import Context, Function, Node, grad
from .creation import (
    arange,
    empty,
    eye,
    full,
    linspace,
    manual_seed,
    normal,
    ones,
    ones_like,
    rand,
    randn,
    uniform,
    zeros,
    zeros_like,
)
from .debug import AnomalyError, detect_anomaly, gradcheck_graph, trace_backward
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .graph import draw_graph
from .optim import lr_scheduler  # noqa: F401  (tg.optim.lr_scheduler, as torch.optim.lr_scheduler)
from .serialization import CheckpointError, load, save
from .tensor import Tensor, cat, matmul, maximum, minimum, stack, where

float32 = np.float32
float64 = np.float64
int64 = np.int64

__version__ = "0.1.0"

__all__ = [
    "AnomalyError",
    "CheckpointError",
    "Context",
    "Function",
    "Node",
    "GradcheckError",
    "Tensor",
    "arange",
    "cat",
    "data",
    "debug",
    "detect_anomaly",
    "draw_graph",
    "empty",
    "enable_grad",
    "eye",
    "float32",
    "float64",
    "full",
    "grad",
    "gradcheck",
    "gradcheck_graph",
    "gradgradcheck",
    "inference_mode",
    "int64",
    "is_grad_enabled",
    "linspace",
    "load",
    "manual_seed",
    "matmul",
    "maximum",
    "minimum",
    "nn",
    "no_grad",
    "normal",
    "ones",
    "ones_like",
    "optim",
    "rand",
    "randn",
    "save",
    "set_grad_enabled",
    "stack",
    "trace_backward",
    "train",
    "uniform",
    "where",
    "zeros",
    "zeros_like",
]
