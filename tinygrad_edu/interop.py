"""Graduating to PyTorch: carry a model, its weights and its optimizer over, both ways.

tinygrad_edu's layers are PyTorch's: the same class names, arguments, parameter layout and
``state_dict`` keys. So a model built from them has an exact PyTorch twin, and a PyTorch model
made of the mirrored layers has one here::

    torch_model = tg.to_torch(model)        # the same layers, weights and dtype, in PyTorch
    model = tg.from_torch(torch_model)      # and back

For a model of your own (a Module subclass with its own ``forward``) no twin can be built, but
its weights still move, because their names and layout are PyTorch's: write the same class
with ``torch.nn`` and::

    torch_model.load_state_dict(tg.interop.state_dict_to_torch(model.state_dict()))
    model.load_state_dict(torch_model.state_dict())     # PyTorch tensors are taken as they are

An optimizer's state (SGD's momentum buffers, Adam's running averages and step counts) moves
with ``optimizer_to_torch`` / ``optimizer_from_torch``, so that training continues on the
other side as it would have here: N steps here and then N steps in PyTorch give the weights of
2N steps here (to rounding).

PyTorch is imported only when one of these functions is called; tinygrad_edu never needs it.
"""

from __future__ import annotations

import copy
import numbers
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import creation
from . import nn as tg_nn
from . import optim as tg_optim
from .tensor import Tensor

__all__ = [
    "UntranslatableError",
    "from_torch",
    "optimizer_from_torch",
    "optimizer_state_dict_from_torch",
    "optimizer_state_dict_to_torch",
    "optimizer_to_torch",
    "state_dict_from_torch",
    "state_dict_to_torch",
    "to_torch",
]


class UntranslatableError(TypeError):
    """A module or optimizer has no counterpart on the other side; the message names it (its
    path in the model and its class) and says what to do instead."""


def _torch(where: str) -> Any:
    """The torch package, or an ImportError saying how to get it."""
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"{where} needs PyTorch, which is not installed: pip install torch "
            "(or pip install 'tinygrad_edu[torch]')"
        ) from None
    return torch


# ---- state dicts ----------------------------------------------------------------------------


def _array(value: Any, key: str, where: str) -> np.ndarray:
    """A state_dict value (array, NumPy scalar, Tensor, PyTorch tensor) as a NumPy array."""
    if isinstance(value, Tensor):
        return np.asarray(value.data)
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a PyTorch tensor
        return value.detach().cpu().numpy()
    if isinstance(value, (np.ndarray, np.generic, numbers.Number)):
        return np.asarray(value)
    raise TypeError(
        f"{where}: the value of {key!r} is a {type(value).__name__}; a state_dict maps names "
        "to arrays or tensors (an optimizer's state_dict has its own helpers: "
        "optimizer_state_dict_to_torch / optimizer_state_dict_from_torch)"
    )


def state_dict_to_torch(state_dict: Mapping[str, Any]) -> OrderedDict[str, Any]:
    """``model.state_dict()`` (names -> NumPy arrays) as PyTorch tensors, in the same order,
    with the same dtypes and values (copies), ready for
    ``torch_model.load_state_dict(..., strict=True)``::

        torch_model.load_state_dict(tg.interop.state_dict_to_torch(model.state_dict()))
    """
    torch = _torch("state_dict_to_torch")
    where = "state_dict_to_torch"
    return OrderedDict(
        (key, torch.from_numpy(np.array(_array(value, key, where), copy=True, order="C")))
        for key, value in _state_items(state_dict, where)
    )


def state_dict_from_torch(state_dict: Mapping[str, Any]) -> OrderedDict[str, np.ndarray]:
    """``torch_model.state_dict()`` as NumPy arrays (copies, same order and dtypes), as
    ``model.state_dict()`` holds them: for ``tg.save`` or NumPy. (``model.load_state_dict``
    takes PyTorch's state_dict directly too.)"""
    where = "state_dict_from_torch"
    return OrderedDict(
        (key, np.array(_array(value, key, where), copy=True))
        for key, value in _state_items(state_dict, where)
    )


def _state_items(state_dict: Any, where: str) -> Iterable[tuple[str, Any]]:
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"{where}: expected a state_dict (a dict of names to arrays or tensors), got "
            f"{type(state_dict).__name__}"
        )
    return state_dict.items()


# ---- the layers both libraries have -----------------------------------------------------------


@dataclass(frozen=True)
class _Layer:
    """How one layer is rebuilt on the other side.

    ``settings`` are constructor arguments that both libraries keep as attributes of the same
    name (``"bias"`` stands for whether there is a bias). ``torch_only`` are PyTorch's
    settings that tinygrad_edu lacks, with the one value that means what this library does.
    ``weights``: the constructor takes ``dtype`` (the layer has parameters or buffers)."""

    settings: tuple[str, ...] = ()
    torch_only: dict[str, Any] = field(default_factory=dict)
    weights: bool = False


_CONV = (
    "in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
    "bias", "padding_mode",
)  # fmt: skip
_NORM = ("num_features", "eps", "momentum", "affine", "track_running_stats")
_POOL = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")

# PyTorch's ``inplace=True`` on a layer that has no ``inplace`` here (ReLU, Dropout, ...) is
# not carried back: the outputs are the same, only PyTorch's overwriting of the input is not.
_LAYERS: dict[str, _Layer] = {
    "Linear": _Layer(("in_features", "out_features", "bias"), weights=True),
    "Conv1d": _Layer(_CONV, weights=True),
    "Conv2d": _Layer(_CONV, weights=True),
    "ConvTranspose2d": _Layer(_CONV + ("output_padding",), weights=True),
    "BatchNorm1d": _Layer(_NORM, weights=True),
    "BatchNorm2d": _Layer(_NORM, weights=True),
    "LayerNorm": _Layer(("normalized_shape", "eps", "elementwise_affine", "bias"), weights=True),
    "Embedding": _Layer(
        ("num_embeddings", "embedding_dim", "padding_idx"),
        {"max_norm": None, "norm_type": 2.0, "scale_grad_by_freq": False, "sparse": False},
        weights=True,
    ),
    "MultiheadAttention": _Layer(
        ("embed_dim", "num_heads", "dropout", "bias", "batch_first", "kdim", "vdim"),
        {"bias_k": None, "bias_v": None, "add_zero_attn": False},
        weights=True,
    ),
    "ReLU": _Layer(),
    "Sigmoid": _Layer(),
    "Tanh": _Layer(),
    "LeakyReLU": _Layer(("negative_slope",)),
    "ELU": _Layer(("alpha",)),
    "Softmax": _Layer(("dim",)),
    "LogSoftmax": _Layer(("dim",)),
    "GELU": _Layer(("approximate",)),
    "SiLU": _Layer(("inplace",)),
    "Mish": _Layer(("inplace",)),
    "Hardswish": _Layer(("inplace",)),
    "Softplus": _Layer(("beta", "threshold")),
    "Hardtanh": _Layer(("min_val", "max_val", "inplace")),
    "ReLU6": _Layer(("inplace",)),
    "CELU": _Layer(("alpha", "inplace")),
    "Softsign": _Layer(),
    "Identity": _Layer(),
    "Dropout": _Layer(("p",)),
    "Flatten": _Layer(("start_dim", "end_dim")),
    "Unflatten": _Layer(("dim", "unflattened_size")),
    "MaxPool1d": _Layer(
        ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode")
    ),
    "MaxPool2d": _Layer(
        ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode")
    ),
    "AvgPool1d": _Layer(_POOL),
    "AvgPool2d": _Layer(_POOL + ("divisor_override",)),
    "AdaptiveAvgPool2d": _Layer(("output_size",)),
    "MSELoss": _Layer(("reduction",)),
    "BCELoss": _Layer(("reduction",), {"weight": None}),
    "BCEWithLogitsLoss": _Layer(("reduction",), {"weight": None, "pos_weight": None}),
    "CrossEntropyLoss": _Layer(
        ("reduction", "ignore_index"), {"weight": None, "label_smoothing": 0.0}
    ),
    "NLLLoss": _Layer(("reduction", "ignore_index"), {"weight": None}),
}

# Containers: rebuilt empty, then their children are translated one by one under the same
# names. MLP (a Sequential of Linear layers and activations) becomes PyTorch's Sequential.
_CONTAINERS = {
    "Sequential": "Sequential",
    "ModuleList": "ModuleList",
    "ModuleDict": "ModuleDict",
    "MLP": "Sequential",
}
_CONTAINERS_FROM_TORCH = {
    "Sequential": "Sequential",
    "ModuleList": "ModuleList",
    "ModuleDict": "ModuleDict",
}

# What a subclass of a library layer may define and still be that layer: it may build it
# differently (its own __init__, initialisation or printing), not compute differently.
_HARMLESS = {"__init__", "reset_parameters", "_reset_parameters", "extra_repr", "__repr__"}


def _setting(module: Any, name: str) -> Any:
    """The value of constructor argument ``name`` as the layer keeps it."""
    if name == "bias":  # the argument is a flag, the attribute a parameter or None
        attribute = "in_proj_bias" if hasattr(module, "in_proj_bias") else "bias"
        return getattr(module, attribute) is not None
    return getattr(module, name)


def _where(path: str) -> str:
    return "the model itself" if path == "" else repr(path)


def _class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _own_methods(cls: type, base: type) -> list[str]:
    """Names of the methods that ``cls`` (a subclass of ``base``) and the classes between
    them define, other than harmless ones."""
    names = []
    for klass in cls.__mro__:
        if klass is base:
            break
        for name, value in vars(klass).items():
            method = callable(value) or isinstance(value, (property, staticmethod, classmethod))
            if method and name not in _HARMLESS and name not in names:
                names.append(name)
    return names


def _library_class(module: Any, library: Any, names: Iterable[str]) -> tuple[type | None, list]:
    """The first class in ``type(module).__mro__`` that is ``library.<name>`` for one of
    ``names``, and the methods the classes before it add (nothing for the class itself)."""
    cls = type(module)
    for klass in cls.__mro__:
        if klass.__name__ in names and getattr(library, klass.__name__, None) is klass:
            return klass, _own_methods(cls, klass)
    return None, []


@dataclass
class _Translation:
    """One direction of the translation: the names of the two sides, the libraries, how to
    find a module's hooks, and how the error message's advice reads."""

    source: str
    library: str
    source_nn: Any
    target_nn: Any
    containers: dict[str, str]
    advice: str
    memo: dict[int, Any] = field(default_factory=dict)

    def error(self, path: str, module: Any, reason: str) -> UntranslatableError:
        return UntranslatableError(
            f"{self.source}: cannot translate {_where(path)} ({_class_name(type(module))}): "
            f"{reason}. {self.advice}"
        )

    def module(self, module: Any, path: str) -> Any:
        """The target-side twin of ``module`` (the same object for a module used twice)."""
        if id(module) in self.memo:
            return self.memo[id(module)]
        hooks = [name for name in _HOOKS if getattr(module, name, None)]
        if hooks:
            raise self.error(
                path,
                module,
                f"it has hooks ({', '.join(hooks)}), functions written for {self.library}'s "
                "tensors that cannot be carried over; remove them (handle.remove()) and "
                "register their equivalents on the translated module",
            )
        names = [*_LAYERS, *self.containers, "Module"]
        klass, own = _library_class(module, self.source_nn, names)
        if klass is None or own or (klass.__name__ == "Module" and type(module) is not klass):
            raise self.error(path, module, self.reason(module, klass, own))
        name = klass.__name__
        if name in _LAYERS:
            twin = self.layer(module, name, path)
        else:
            twin = self.container(module, self.containers.get(name, "Module"), path)
        twin.training = bool(module.training)  # this module's flag only, not its children's
        self.memo[id(module)] = twin
        return twin

    def reason(self, module: Any, klass: type | None, own: list[str]) -> str:
        """Why ``module`` (whose nearest library class is ``klass``, which ``own`` methods
        change) has no twin."""
        cls = type(module)
        if getattr(self.source_nn, cls.__name__, None) is cls and klass is not cls:
            other = "PyTorch" if self.library == "tinygrad_edu" else "tinygrad_edu"
            return f"{self.library}'s {cls.__name__} has no counterpart in {other}"
        if own:
            methods = ", ".join(own[:3]) + (", ..." if len(own) > 3 else "")
            if klass is not None and klass.__name__ == "Module":
                return f"it is a Module subclass of your own, with its own {methods}"
            return f"it is a subclass of {klass.__name__} with its own {methods}"
        return "it is a Module subclass of your own, not one of the library's layers"

    def container(self, module: Any, name: str, path: str) -> Any:
        twin = getattr(self.target_nn, name)()
        for child_name, child in module._modules.items():
            child_path = f"{path}.{child_name}" if path else child_name
            twin.add_module(child_name, None if child is None else self.module(child, child_path))
        return twin

    def layer(self, module: Any, name: str, path: str) -> Any:
        raise NotImplementedError


_HOOKS = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks")


def _dtype_of(module: Any) -> np.dtype | None:
    """The floating dtype of the layer's first parameter or buffer (None without any)."""
    tensors = [*module._parameters.values(), *module._buffers.values()]
    for tensor in tensors:
        if tensor is not None and np.dtype(_numpy_dtype(tensor)).kind == "f":
            return np.dtype(_numpy_dtype(tensor))
    return None


def _numpy_dtype(tensor: Any) -> np.dtype:
    if isinstance(tensor, Tensor):
        return tensor.dtype
    return _numpy_dtype_of_torch(tensor.dtype)


def _numpy_dtype_of_torch(dtype: Any) -> np.dtype:
    name = str(dtype).removeprefix("torch.")
    try:
        return np.dtype(name)
    except TypeError:
        raise TypeError(f"PyTorch dtype {dtype} has no NumPy counterpart") from None


class _ToTorch(_Translation):
    def layer(self, module: Any, name: str, path: str) -> Any:
        torch = _torch("to_torch")
        spec = _LAYERS[name]
        if name.startswith("BatchNorm") and module.affine and module.bias is None:
            raise self.error(
                path,
                module,
                "it is a BatchNorm with a weight but no bias (bias=False), which PyTorch's "
                "BatchNorm cannot be (it has both or neither)",
            )
        kwargs = {setting: _setting(module, setting) for setting in spec.settings}
        if spec.weights:
            dtype = _dtype_of(module)
            if dtype is not None:
                kwargs["dtype"] = getattr(torch, dtype.name)
            # Built on the meta device, so that building draws no random numbers; every
            # parameter and buffer is overwritten with the model's values afterwards.
            return getattr(torch.nn, name)(**kwargs, device="meta").to_empty(device="cpu")
        return getattr(torch.nn, name)(**kwargs)


class _FromTorch(_Translation):
    def layer(self, module: Any, name: str, path: str) -> Any:
        spec = _LAYERS[name]
        for setting, expected in spec.torch_only.items():
            value = getattr(module, setting, expected)
            if not _same_setting(value, expected):
                raise self.error(
                    path,
                    module,
                    f"{setting}={_short(value)} has no counterpart in tinygrad_edu (only "
                    f"{setting}={expected!r} does)",
                )
        if name in ("Softmax", "LogSoftmax") and module.dim is None:
            raise self.error(
                path, module, "dim=None (PyTorch's implicit choice of dim) is not supported"
            )
        kwargs = {setting: _setting(module, setting) for setting in spec.settings}
        if spec.weights:
            dtype = _dtype_of(module)
            if dtype is not None:
                kwargs["dtype"] = dtype
        try:
            return getattr(tg_nn, name)(**kwargs)
        except (ValueError, TypeError, NotImplementedError) as error:
            raise self.error(path, module, str(error)) from None


def _same_setting(value: Any, expected: Any) -> bool:
    if expected is None:
        return value is None
    return value is not None and not hasattr(value, "shape") and value == expected


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_TO_TORCH_ADVICE = (
    "Only tinygrad_edu's own layers and containers (nn.Linear, nn.Sequential, nn.MLP, ...) "
    "have a PyTorch twin that can be built. What works for any model: write the same model "
    "with torch.nn (the same layers under the same attribute names) and load the weights, "
    "whose names and layout are PyTorch's: torch_model.load_state_dict("
    "tg.interop.state_dict_to_torch(model.state_dict()), strict=True)"
)
_FROM_TORCH_ADVICE = (
    "Only PyTorch's layers that tinygrad_edu mirrors (nn.Linear, nn.Conv2d, nn.Sequential, "
    "...) can be rebuilt here. What works for any model: write the same model with "
    "tinygrad_edu.nn (the same layers under the same attribute names) and load the weights: "
    "model.load_state_dict(torch_model.state_dict())"
)


def to_torch(model: tg_nn.Module) -> Any:
    """The ``torch.nn.Module`` twin of ``model``: the same layers (containers translated
    child by child, an ``nn.MLP`` as ``torch.nn.Sequential``), the same parameters and
    buffers under the same names, with the same values and dtypes (a float64 model gives a
    float64 PyTorch model), the same ``training`` flags and ``requires_grad``, and the same
    sharing (a layer or weight used twice is one object in PyTorch too)::

        torch_model = tg.to_torch(model)
        torch_model(torch.from_numpy(x))        # == model(tg.Tensor(x)), to rounding

    A module that is not one of the library's layers or containers (your own subclass with
    its own ``forward``), or that has hooks, raises ``UntranslatableError`` naming its path
    and class; its weights still load into a PyTorch model of the same structure with
    ``torch_model.load_state_dict(tg.interop.state_dict_to_torch(model.state_dict()))``."""
    torch = _torch("to_torch")
    if not isinstance(model, tg_nn.Module):
        raise TypeError(f"to_torch: expected a tinygrad_edu nn.Module, got {type(model).__name__}")
    translation = _ToTorch(
        "to_torch", "tinygrad_edu", tg_nn, torch.nn, _CONTAINERS, _TO_TORCH_ADVICE
    )
    twin = translation.module(model, "")
    _tie_like(model.named_parameters(remove_duplicate=False), twin)
    with torch.no_grad():
        for tensor, target in _pair_state(model, twin, "to_torch"):
            target.data = torch.from_numpy(np.array(tensor.data, copy=True, order="C"))
    theirs = dict(twin.named_parameters())
    for name, ours in model.named_parameters():
        theirs[name].requires_grad_(ours.requires_grad)
    return twin


def from_torch(torch_model: Any) -> tg_nn.Module:
    """The tinygrad_edu twin of a PyTorch model made of the layers this library mirrors
    (``torch.nn.Linear``, ``Conv2d``, ``BatchNorm1d``, ``Sequential``, ... ): the same
    structure, names, values, dtypes, ``training`` flags, ``requires_grad`` and sharing.
    Building it draws no numbers from tinygrad_edu's random generator.

    A module without a counterpart here (your own subclass with its own ``forward``, a layer
    this library lacks, a setting it lacks such as ``Embedding(max_norm=...)``, hooks) raises
    ``UntranslatableError`` naming its path and class; the weights of a model of your own
    still load into the same model written with tinygrad_edu.nn:
    ``model.load_state_dict(torch_model.state_dict())``."""
    torch = _torch("from_torch")
    if not isinstance(torch_model, torch.nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Module, got {type(torch_model).__name__}")
    translation = _FromTorch(
        "from_torch", "PyTorch", torch.nn, tg_nn, _CONTAINERS_FROM_TORCH, _FROM_TORCH_ADVICE
    )
    rng_state = creation.get_rng_state()  # the new layers' initialisation is overwritten
    try:
        twin = translation.module(torch_model, "")
    finally:
        creation.set_rng_state(rng_state)
    _tie_like(torch_model.named_parameters(remove_duplicate=False), twin)
    for tensor, target in _pair_state(twin, torch_model, "from_torch"):
        target.data = np.array(tensor.detach().cpu().numpy(), copy=True)
    ours = dict(twin.named_parameters())
    for name, theirs in torch_model.named_parameters():
        ours[name].requires_grad = theirs.requires_grad
    return twin


def _pair_state(model: tg_nn.Module, torch_model: Any, where: str) -> list[tuple[Any, Any]]:
    """(source tensor, target tensor) for every key of both state dicts, which must have the
    same keys and shapes (they do when the translation is right)."""
    ours = {key: tensor for key, (tensor, _) in model._state_tensors().items()}
    theirs = torch_model.state_dict(keep_vars=True)
    if set(ours) != set(theirs):
        raise RuntimeError(
            f"{where}: the translated model's state_dict keys differ: {list(ours)} here, "
            f"{list(theirs)} in PyTorch"
        )
    for key in ours:
        if tuple(ours[key].shape) != tuple(theirs[key].shape):
            raise RuntimeError(
                f"{where}: {key!r} has shape {tuple(ours[key].shape)} here but "
                f"{tuple(theirs[key].shape)} in PyTorch"
            )
    if where == "to_torch":
        return [(ours[key], theirs[key]) for key in ours]
    return [(theirs[key], ours[key]) for key in ours]


def _tie_like(named_parameters: Iterable[tuple[str, Any]], twin: Any) -> None:
    """Where the source model uses one parameter under several paths (tied weights), make
    the twin use one parameter too: the one at the first path."""
    first: dict[int, str] = {}
    for path, param in named_parameters:
        if id(param) not in first:
            first[id(param)] = path
            continue
        owner_path, _, name = path.rpartition(".")
        owner = _submodule(twin, owner_path)
        shared = _submodule_attribute(twin, first[id(param)])
        if getattr(owner, name) is not shared:
            owner.register_parameter(name, shared)  # the same call in both libraries


def _submodule(module: Any, path: str) -> Any:
    for name in path.split(".") if path else []:
        module = module._modules[name]
    return module


def _submodule_attribute(module: Any, path: str) -> Any:
    owner_path, _, name = path.rpartition(".")
    return getattr(_submodule(module, owner_path), name)


# ---- optimizers -------------------------------------------------------------------------------

# The optimizers both libraries have, with PyTorch's options that tinygrad_edu lacks and the
# values that give tinygrad_edu's update.
_PLAIN = {"maximize": False, "differentiable": False}
_OPTIMIZERS: dict[str, dict[str, Any]] = {
    "SGD": _PLAIN,
    "Adam": {**_PLAIN, "capturable": False, "decoupled_weight_decay": False},
    "AdamW": {**_PLAIN, "capturable": False, "decoupled_weight_decay": True},
    "RMSprop": {**_PLAIN, "capturable": False},
    "Adagrad": _PLAIN,
}
# PyTorch's options that choose an implementation, not the numbers, and a list of names.
_TORCH_ONLY = ("foreach", "fused", "param_names")


def _optimizer_name(optimizer: Any, library: Any, where: str) -> str:
    name = type(optimizer).__name__
    if name not in _OPTIMIZERS or getattr(library, name, None) is not type(optimizer):
        raise UntranslatableError(
            f"{where}: cannot translate a {_class_name(type(optimizer))}: only "
            f"{', '.join(_OPTIMIZERS)} (the classes themselves, not subclasses) exist in both "
            "libraries"
        )
    return name


def _torch_name_of(torch_optimizer: Any, where: str) -> str:
    """tinygrad_edu's class for a PyTorch optimizer: Adam with decoupled_weight_decay=True
    is AdamW."""
    torch = _torch(where)
    name = _optimizer_name(torch_optimizer, torch.optim, where)
    if name == "Adam" and any(
        g.get("decoupled_weight_decay") for g in torch_optimizer.param_groups
    ):
        return "AdamW"
    return name


def _parameters(params: Any) -> list:
    if hasattr(params, "parameters") and callable(params.parameters):
        params = params.parameters()  # a model: its parameters, in their order
    return list(params)


def _split_like(groups: list[dict], params: list, where: str, side: str) -> list[list]:
    """``params`` split into lists as long as the groups' parameter lists, each parameter
    of the shape of the one it stands for."""
    ours = [p for group in groups for p in group["params"]]
    if len(params) != len(ours):
        raise ValueError(
            f"{where}: the optimizer has {len(ours)} parameters, but {len(params)} {side} "
            "parameters were given; give them in the optimizer's order (model.parameters() of "
            "the translated model is in that order)"
        )
    for i, (p, q) in enumerate(zip(ours, params)):
        if tuple(p.shape) != tuple(q.shape):
            raise ValueError(
                f"{where}: parameter {i} has shape {tuple(p.shape)} in the optimizer, but the "
                f"{side} parameter given for it has shape {tuple(q.shape)}"
            )
    split, start = [], 0
    for group in groups:
        split.append(params[start : start + len(group["params"])])
        start += len(group["params"])
    return split


def _number(value: Any) -> Any:
    """A PyTorch option (a float, a 0-d tensor, a tuple of them) as plain Python values."""
    if isinstance(value, tuple):
        return tuple(_number(v) for v in value)
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


def _scalar_dtype(torch: Any) -> Any:
    """The dtype PyTorch gives an optimizer's ``step`` (float32 unless float64 is default)."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def optimizer_state_dict_to_torch(state_dict: dict[str, Any], torch_optimizer: Any) -> dict:
    """A tinygrad_edu optimizer's ``state_dict()`` (perhaps from ``tg.load``) as the
    ``state_dict`` that ``torch_optimizer`` (of the same kind, with as many parameters in
    each group) loads: arrays become tensors, ``step`` a float tensor, the options are the
    saved ones and PyTorch's own options (``foreach``, ...) stay ``torch_optimizer``'s::

        torch_opt.load_state_dict(tg.interop.optimizer_state_dict_to_torch(sd, torch_opt))

    (Loading the tinygrad_edu state_dict into PyTorch as it is would be wrong for AdamW:
    PyTorch fills in its missing ``decoupled_weight_decay`` as False, which turns the
    decoupled decay into an L2 penalty.)"""
    where = "optimizer_state_dict_to_torch"
    torch = _torch(where)
    name = _torch_name_of(torch_optimizer, where)
    base = torch_optimizer.state_dict()
    _check_layout(state_dict, where)
    if len(base["param_groups"]) != len(state_dict["param_groups"]):
        raise ValueError(
            f"{where}: the state has {len(state_dict['param_groups'])} parameter groups, the "
            f"PyTorch optimizer {len(base['param_groups'])}"
        )
    groups = []
    for theirs, saved in zip(base["param_groups"], state_dict["param_groups"]):
        group = {key: value for key, value in theirs.items() if key != "params"}
        for key, value in saved.items():
            if key != "params":
                group[key] = tuple(value) if key == "betas" else copy.deepcopy(value)
        group.update(_OPTIMIZERS[name])
        group["params"] = [int(i) for i in saved["params"]]
        groups.append(group)
    state = {}
    for index, buffers in state_dict["state"].items():
        state[int(index)] = {
            key: (
                torch.tensor(float(value), dtype=_scalar_dtype(torch))
                if key == "step"
                else torch.from_numpy(np.array(value, copy=True))
            )
            for key, value in buffers.items()
        }
    if name == "Adagrad":
        # PyTorch's Adagrad keeps a state for every parameter from the start (step 0, the
        # sum at its initial value); this library makes it at the parameter's first step.
        for index, buffers in base["state"].items():
            state.setdefault(int(index), copy.deepcopy(buffers))
    return {"state": state, "param_groups": groups}


def optimizer_state_dict_from_torch(state_dict: dict[str, Any], optimizer: Any) -> dict:
    """A PyTorch optimizer's ``state_dict()`` as the one ``optimizer`` (tinygrad_edu's, of
    the same kind, with as many parameters in each group) loads: tensors become arrays,
    ``step`` an int, and PyTorch's own options are checked (``maximize=True`` has no
    counterpart here) and left out::

        opt.load_state_dict(tg.interop.optimizer_state_dict_from_torch(torch_sd, opt))
    """
    where = "optimizer_state_dict_from_torch"
    return _state_from_torch(state_dict, _optimizer_name(optimizer, tg_optim, where), where)


def _check_layout(state_dict: Any, where: str) -> None:
    if not isinstance(state_dict, Mapping) or set(state_dict) != {"state", "param_groups"}:
        raise ValueError(
            f'{where}: expected an optimizer\'s state_dict, a dict with keys "state" and '
            '"param_groups"'
        )


def _state_from_torch(state_dict: dict[str, Any], name: str, where: str) -> dict:
    """The conversion of `optimizer_state_dict_from_torch`, for tinygrad_edu's ``name``."""
    _check_layout(state_dict, where)
    fixed = _OPTIMIZERS[name]
    groups = []
    for i, saved in enumerate(state_dict["param_groups"]):
        if name.startswith("Adam"):
            decoupled = bool(saved.get("decoupled_weight_decay", name == "AdamW"))
            if decoupled != (name == "AdamW"):
                raise UntranslatableError(
                    f"{where}: group {i} has decoupled_weight_decay={decoupled}, which is "
                    f"{'AdamW' if decoupled else 'Adam'}, but the optimizer is {name}"
                )
        group = {}
        for key, value in saved.items():
            if key in fixed and _number(value) != fixed[key]:
                raise UntranslatableError(
                    f"{where}: group {i} has {key}={value!r}; tinygrad_edu's {name} has no "
                    f"such option (it always does what {key}={fixed[key]!r} does)"
                )
            if key not in fixed and key not in _TORCH_ONLY:
                group[key] = [int(i) for i in value] if key == "params" else _number(value)
        groups.append(group)
    state = {}
    for index, buffers in state_dict["state"].items():
        state[int(index)] = {
            key: int(_number(value)) if key == "step" else _array(value, key, where).copy()
            for key, value in buffers.items()
            if value is not None  # PyTorch's SGD may keep momentum_buffer = None
        }
    return {"state": state, "param_groups": groups}


def optimizer_to_torch(optimizer: Any, torch_params: Any) -> Any:
    """The PyTorch optimizer (SGD, Adam, AdamW, RMSprop or Adagrad, as ``optimizer``) over
    ``torch_params`` with the same parameter groups, options and state (momentum buffers,
    running averages, step counts), so that training continues in PyTorch as it would have
    continued here::

        torch_model = tg.to_torch(model)
        torch_opt = tg.interop.optimizer_to_torch(opt, torch_model.parameters())

    ``torch_params``: PyTorch tensors (or a model, meaning its ``parameters()``) in the
    order of the optimizer's parameters, which ``to_torch(model).parameters()`` has when the
    optimizer was made with ``model.parameters()``. Their number and shapes are checked."""
    where = "optimizer_to_torch"
    torch = _torch(where)
    name = _optimizer_name(optimizer, tg_optim, where)
    split = _split_like(optimizer.param_groups, _parameters(torch_params), where, "PyTorch")
    groups = [
        {**{k: v for k, v in group.items() if k != "params"}, "params": params}
        for group, params in zip(optimizer.param_groups, split)
    ]
    torch_optimizer = getattr(torch.optim, name)(groups)
    torch_optimizer.load_state_dict(
        optimizer_state_dict_to_torch(optimizer.state_dict(), torch_optimizer)
    )
    return torch_optimizer


def optimizer_from_torch(torch_optimizer: Any, params: Any) -> Any:
    """The tinygrad_edu optimizer (SGD, Adam, AdamW, RMSprop or Adagrad; PyTorch's Adam with
    ``decoupled_weight_decay=True`` is AdamW) over ``params`` with ``torch_optimizer``'s
    parameter groups, options and state::

        model = tg.from_torch(torch_model)
        opt = tg.interop.optimizer_from_torch(torch_opt, model.parameters())

    ``params``: tinygrad_edu tensors (or a model) in the PyTorch optimizer's order."""
    where = "optimizer_from_torch"
    name = _torch_name_of(torch_optimizer, where)
    state = _state_from_torch(torch_optimizer.state_dict(), name, where)
    split = _split_like(torch_optimizer.param_groups, _parameters(params), where, "tinygrad_edu")
    groups = [
        {**{k: v for k, v in saved.items() if k != "params"}, "params": params}
        for saved, params in zip(state["param_groups"], split)
    ]
    optimizer = getattr(tg_optim, name)(groups, lr=groups[0]["lr"])
    optimizer.load_state_dict(state)
    return optimizer
