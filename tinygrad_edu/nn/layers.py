"""Layers: `Linear`, `Embedding`, the normalisations (`BatchNorm1d`, `BatchNorm2d`,
`LayerNorm`), the activations, `Dropout`, `Flatten`, `Identity`, `MLP` and the losses as
modules. Each forward is a line or two of Tensor operations (see ``functional.py``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..dtypes import dtype_or_default
from ..grad_mode import no_grad
from ..tensor import Tensor, to_tensor
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
        dtype = dtype_or_default(dtype)
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


class GELU(Module):
    """x * Phi(x), Phi the standard normal CDF (``approximate="none"``, with erf), or its tanh
    approximation (``approximate="tanh"``), elementwise."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Any) -> Any:
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class _InplaceActivation(Module):
    """An activation with PyTorch's ``inplace`` argument, accepted for compatibility: the
    result is always a new tensor (the engine records no in-place operations)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class SiLU(_InplaceActivation):
    """x * sigmoid(x) (swish), elementwise."""

    def forward(self, x: Any) -> Any:
        return F.silu(x)


class Mish(_InplaceActivation):
    """x * tanh(softplus(x)), elementwise."""

    def forward(self, x: Any) -> Any:
        return F.mish(x)


class Hardswish(_InplaceActivation):
    """x * relu6(x + 3) / 6: 0 below -3, x above 3, x (x + 3) / 6 between."""

    def forward(self, x: Any) -> Any:
        return F.hardswish(x)

    def extra_repr(self) -> str:
        return ""  # PyTorch prints Hardswish() even with inplace=True


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta, elementwise; x where beta * x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, x: Any) -> Any:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """x clipped to [min_val, max_val]; gradient 1 strictly inside, 0 elsewhere (also at the
    ends, as in PyTorch)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if max_val <= min_val:
            raise ValueError(
                f"{type(self).__name__}: max_val ({max_val}) must be greater than "
                f"min_val ({min_val})"
            )
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, x: Any) -> Any:
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        inplace = ", inplace=True" if self.inplace else ""
        return f"min_val={self.min_val}, max_val={self.max_val}{inplace}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6), elementwise: Hardtanh(0, 6)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class CELU(Module):
    """x where x > 0, else alpha * (exp(x / alpha) - 1), elementwise."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if alpha == 0:
            raise ValueError("CELU: alpha must not be 0 (x / alpha is taken)")
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, x: Any) -> Any:
        return F.celu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Softsign(Module):
    """x / (1 + |x|), elementwise."""

    def forward(self, x: Any) -> Any:
        return F.softsign(x)


# ---- embedding and normalisation --------------------------------------------------------------


def _check_count(layer: str, name: str, n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"{layer}: {name} must be a non-negative int, got {n!r}")
    return int(n)


class Embedding(Module):
    """A lookup table: integer indices of any shape (...) -> rows of ``weight``,
    (..., embedding_dim). ``weight`` (num_embeddings, embedding_dim) starts as N(0, 1), as in
    PyTorch. Row ``padding_idx`` (if given; negative counts from the end) starts at zero and
    receives no gradient, so it stays a fixed "pad". An index used several times gets the
    sum of its gradients. Indices outside [0, num_embeddings) are an IndexError, non-integer
    indices a TypeError, both naming the layer."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        *,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.num_embeddings = _check_count("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = _check_count("Embedding", "embedding_dim", embedding_dim)
        self.padding_idx = F._padding_index(padding_idx, self.num_embeddings, "Embedding")
        dtype = dtype_or_default(dtype)
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """N(0, 1) for every row, then zeros for the padding row."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0

    @classmethod
    def from_pretrained(
        cls, embeddings: Any, freeze: bool = True, padding_idx: int | None = None
    ) -> Embedding:
        """An Embedding whose table is a copy of ``embeddings`` (2-D), not updated by training
        unless ``freeze=False``. The padding row is kept as given."""
        table = np.asarray(embeddings.data if isinstance(embeddings, Tensor) else embeddings)
        if table.ndim != 2:
            raise ValueError(
                f"Embedding.from_pretrained: embeddings must be 2-D, got shape {table.shape}"
            )
        layer = cls(table.shape[0], table.shape[1], padding_idx, dtype=table.dtype)
        layer.weight = Parameter(table, requires_grad=not freeze)
        return layer

    def forward(self, input: Any) -> Any:
        # (the layer itself for the errors: its repr, "Embedding(65, 64)", is built only then)
        return F._embedding(input, self.weight, self.padding_idx, self)

    def extra_repr(self) -> str:
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"


def _layer_input(x: Any, like: Tensor | None) -> Tensor:
    """``x`` as a Tensor of the dtype of the layer's tensor ``like`` (when it has one)."""
    x = to_tensor(x)
    if like is not None and x.dtype != like.dtype:
        x = x.astype(like.dtype)
    return x


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share; they differ only in the input ranks."""

    _ranks: tuple[int, ...] = ()
    _layout = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = n = _check_count(name, "num_features", num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dtype = dtype_or_default(dtype)
        weight = Parameter(np.ones(n, dtype=dtype)) if affine else None
        bias_ = Parameter(np.zeros(n, dtype=dtype)) if affine and bias else None
        self.register_parameter("weight", weight)
        self.register_parameter("bias", bias_)
        tracked = {
            "running_mean": Tensor(np.zeros(n, dtype=dtype)),
            "running_var": Tensor(np.ones(n, dtype=dtype)),
            "num_batches_tracked": Tensor(np.int64(0)),
        }
        for buffer, value in tracked.items():
            self.register_buffer(buffer, value if track_running_stats else None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """running_mean = 0, running_var = 1, num_batches_tracked = 0."""
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def reset_parameters(self) -> None:
        """Reset the running statistics; weight = 1 and bias = 0 (PyTorch's initialisation)."""
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _check_input(self, shape: tuple, batch_statistics: bool) -> None:
        name = f"{type(self).__name__}({self.num_features})"
        if len(shape) not in self._ranks:
            raise ValueError(
                f"{name}: expected input of shape {self._layout}, got shape {shape} "
                f"({len(shape)}-D)"
            )
        if shape[1] != self.num_features:
            raise ValueError(
                f"{name}: the input of shape {shape} has {shape[1]} channels (dimension 1), "
                f"expected num_features={self.num_features}"
            )
        F._check_batch_norm_input(name, shape, batch_statistics)

    def forward(self, input: Any) -> Any:
        like = self.weight if self.weight is not None else self.running_mean
        x = _layer_input(input, like)
        # batch statistics in training, and in evaluation when there are no running ones
        batch_statistics = self.training or (self.running_mean is None and self.running_var is None)
        self._check_input(x.shape, batch_statistics)
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked += 1
            if self.momentum is None:  # the cumulative average: batch k weighs 1/k
                momentum = 1.0 / float(self.num_batches_tracked)
        use_running = not self.training or self.track_running_stats
        return F.batch_norm(
            x,
            self.running_mean if use_running else None,
            self.running_var if use_running else None,
            self.weight,
            self.bias,
            batch_statistics,
            momentum,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, per channel C:
    y = (x - mean) / sqrt(var + eps) * weight + bias.

    In training, mean and the biased variance are the batch's (over N, and L), and the buffers
    running_mean and running_var move toward them: running = (1 - momentum) * running +
    momentum * batch, with the *unbiased* batch variance, as PyTorch; ``momentum=None`` takes
    the plain average of all batches so far. ``num_batches_tracked`` counts the batches. In
    evaluation (``eval()``) the running statistics are used. weight (C,) starts at 1, bias (C,)
    at 0; ``affine=False`` leaves both out, ``track_running_stats=False`` the buffers (batch
    statistics are then used in evaluation too)."""

    _ranks = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs, per channel C, over N, H and W: the same
    statistics, buffers and parameters as `BatchNorm1d`."""

    _ranks = (4,)
    _layout = "(N, C, H, W)"


class LayerNorm(Module):
    """Normalise each sample over its last dimensions, those of ``normalized_shape`` (an int
    for the last one): y = (x - mean) / sqrt(var + eps) * weight + bias, with the biased
    variance. Input (*, *normalized_shape). weight (normalized_shape) starts at 1 and bias at
    0; ``elementwise_affine=False`` leaves both out, ``bias=False`` the bias."""

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        *,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = F._normalized_shape(normalized_shape, "LayerNorm")
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dtype = dtype_or_default(dtype)
        shape = self.normalized_shape
        weight = Parameter(np.empty(shape, dtype=dtype)) if elementwise_affine else None
        self.register_parameter("weight", weight)
        bias_ = Parameter(np.empty(shape, dtype=dtype)) if elementwise_affine and bias else None
        self.register_parameter("bias", bias_)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """weight = 1, bias = 0."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Any) -> Any:
        x = _layer_input(input, self.weight)
        if not F._fits_normalized(x.shape, self.normalized_shape):
            name = f"LayerNorm({self.normalized_shape})"  # (the error names the layer)
            F._check_normalized_input(name, x.shape, self.normalized_shape)
        return F._layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


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
    "gelu": GELU,
    "silu": SiLU,
    "mish": Mish,
    "softplus": Softplus,
    "softsign": Softsign,
    "hardtanh": Hardtanh,
    "relu6": ReLU6,
    "hardswish": Hardswish,
    "celu": CELU,
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
    ("relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu", "silu", "mish", "softplus",
    "softsign", "hardtanh", "relu6", "hardswish", "celu", "softmax", "log_softmax",
    "identity") or Module classes. It is a `Sequential`, so parameters are named
    "0.weight", "2.bias", ...
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


class _ClassIndexLoss(_Loss):
    """A loss on class indices, which may leave out the rows whose target is ``ignore_index``
    (keyword-only here; PyTorch's ``weight``, ``size_average`` and ``reduce`` come first)."""

    def __init__(self, reduction: str = "mean", *, ignore_index: int = -100) -> None:
        super().__init__(reduction)
        F._check_ignore_index(type(self).__name__, ignore_index)
        self.ignore_index = int(ignore_index)

    def extra_repr(self) -> str:
        ignoring = "" if self.ignore_index == -100 else f", ignore_index={self.ignore_index}"
        return super().extra_repr() + ignoring


class CrossEntropyLoss(_ClassIndexLoss):
    """``F.cross_entropy`` (on logits) as a module; ``ignore_index`` as there."""

    def forward(self, input: Any, target: Any) -> Any:
        return F.cross_entropy(
            input, target, reduction=self.reduction, ignore_index=self.ignore_index
        )


class NLLLoss(_ClassIndexLoss):
    """``F.nll_loss`` (on log-probabilities) as a module; ``ignore_index`` as there."""

    def forward(self, input: Any, target: Any) -> Any:
        return F.nll_loss(input, target, reduction=self.reduction, ignore_index=self.ignore_index)
