"""Layers: `Linear`, the activations, `Dropout`, `Flatten`, `Identity`, `MLP` and the losses
as modules. Each forward is a line or two of Tensor operations (see ``functional.py``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import functional as F
from . import init
from .modules import Module, Parameter, Sequential


class Linear(Module):
    """A fully connected layer, y = x @ weight.T + bias.

    x (..., in_features) -> y (..., out_features). ``weight`` has shape
    (out_features, in_features) and ``bias`` (out_features,), PyTorch's layout and default
    initialisation: both drawn from U(-1/sqrt(in_features), 1/sqrt(in_features)).
    ``dtype`` is float64 unless given (float32 for a float32 model); an input of another
    dtype (integers, or float64 data for a float32 layer) is converted to it.
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__()
        for name, n in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {n!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        dtype = np.dtype(np.float64 if dtype is None else dtype)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_ with a = sqrt(5), i.e. U(-1/sqrt(fan_in),
        1/sqrt(fan_in)) for the weight, and the same bound for the bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Any) -> Any:
        shape = x.shape
        if not shape or shape[-1] != self.in_features:
            raise ValueError(
                f"Linear(in_features={self.in_features}): the input's last dimension must be "
                f"{self.in_features}, got input of shape {shape}"
            )
        if x.dtype != self.weight.dtype:  # a float32 model stays float32 for any input
            x = x.astype(self.weight.dtype)
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


# ---- activations ------------------------------------------------------------------------------


class ReLU(Module):
    """max(x, 0), elementwise."""

    def forward(self, x: Any) -> Any:
        return F.relu(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise."""

    def forward(self, x: Any) -> Any:
        return F.sigmoid(x)


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, x: Any) -> Any:
        return F.tanh(x)


class LeakyReLU(Module):
    """x where x > 0, else negative_slope * x."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Any) -> Any:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x where x > 0, else alpha * (exp(x) - 1)."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, x: Any) -> Any:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Softmax(Module):
    """exp(x) / sum(exp(x)) along ``dim`` (the last by default)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Any:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """x - logsumexp(x) along ``dim`` (the last by default)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Any:
        return F.log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


# ---- other layers -----------------------------------------------------------------------------


class Dropout(Module):
    """In training mode, zero each element with probability ``p`` and scale the rest by
    1 / (1 - p); after ``eval()``, the identity."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        F._check_p(p)
        self.p = p

    def forward(self, x: Any) -> Any:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Flatten(Module):
    """Merge dimensions ``start_dim..end_dim`` into one: (N, 8, 8) -> (N, 64) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Any) -> Any:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input unchanged (a placeholder layer)."""

    def forward(self, x: Any) -> Any:
        return x


_ACTIVATIONS: dict[str, type[Module]] = {
    "relu": ReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "softmax": Softmax,
    "log_softmax": LogSoftmax,
    "identity": Identity,
}


def _activation(spec: str | Callable[[], Module], what: str) -> Module:
    if isinstance(spec, str):
        cls = _ACTIVATIONS.get(spec.lower())
        if cls is None:
            raise ValueError(
                f"MLP: unknown {what} {spec!r}; choose one of {', '.join(_ACTIVATIONS)} "
                "or pass a Module class such as nn.Tanh"
            )
        return cls()
    if isinstance(spec, Module):
        raise TypeError(
            f"MLP: {what} must be a name or a Module class (nn.{type(spec).__name__}), "
            f"not an instance ({spec!r}): each layer gets its own"
        )
    module = spec() if callable(spec) else spec
    if not isinstance(module, Module):
        raise TypeError(f"MLP: {what} must be a name or an nn.Module class, got {spec!r}")
    return module


class MLP(Sequential):
    """A multilayer perceptron: Linear layers of the given sizes with an activation between
    them, e.g. ``MLP([2, 64, 64, 64, 1])`` is the 000 article's network::

        Linear(2, 64), ReLU(), Linear(64, 64), ReLU(), Linear(64, 64), ReLU(), Linear(64, 1)

    ``activation`` and ``output_activation`` (after the last layer; none by default) are names
    ("relu", "sigmoid", "tanh", "leaky_relu", "elu", "softmax", "log_softmax", "identity") or
    Module classes. It is a `Sequential`, so parameters are named "0.weight", "2.bias", ...
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str | Callable[[], Module] = "relu",
        output_activation: str | Callable[[], Module] | None = None,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(
                f"MLP needs at least 2 sizes (inputs and outputs), got {sizes}; "
                "e.g. MLP([2, 64, 1])"
            )
        layers: list[Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(n_in, n_out, bias=bias, dtype=dtype))
            if i < len(sizes) - 2:
                layers.append(_activation(activation, "activation"))
        if output_activation is not None:
            layers.append(_activation(output_activation, "output_activation"))
        super().__init__(*layers)


# ---- losses as modules ------------------------------------------------------------------------


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        F._check_reduction(type(self).__name__, reduction)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """``F.mse_loss`` as a module: ``MSELoss()(prediction, target)``."""

    def forward(self, input: Any, target: Any) -> Any:
        return F.mse_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    """``F.binary_cross_entropy`` (on probabilities) as a module."""

    def forward(self, input: Any, target: Any) -> Any:
        return F.binary_cross_entropy(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """``F.binary_cross_entropy_with_logits`` as a module."""

    def forward(self, input: Any, target: Any) -> Any:
        return F.binary_cross_entropy_with_logits(input, target, reduction=self.reduction)


class CrossEntropyLoss(_Loss):
    """``F.cross_entropy`` (on logits) as a module."""

    def forward(self, input: Any, target: Any) -> Any:
        return F.cross_entropy(input, target, reduction=self.reduction)


class NLLLoss(_Loss):
    """``F.nll_loss`` (on log-probabilities) as a module."""

    def forward(self, input: Any, target: Any) -> Any:
        return F.nll_loss(input, target, reduction=self.reduction)
