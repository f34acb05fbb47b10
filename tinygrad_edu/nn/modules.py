"""`Parameter` and `Module`: how a network keeps track of its weights.

A `Module` is a class whose attributes are its parameters and its sub-modules. Assigning one
registers it (``self.weight = Parameter(...)``, ``self.hidden = Linear(2, 64)``), so that
``model.parameters()`` finds every weight of the network, however deeply nested, and
``model.named_parameters()`` names each one by its path, as PyTorch does::

    model = Sequential(Linear(2, 64), ReLU(), Linear(64, 1))
    [name for name, _ in model.named_parameters()]
    # ['0.weight', '0.bias', '2.weight', '2.bias']

A *buffer* is a Tensor that belongs to the module's state without being a weight, such as
BatchNorm's running mean: ``self.register_buffer("running_mean", tg.zeros(4))``. It is saved in
``state_dict()`` (unless ``persistent=False``) but not updated by an optimizer.

Calling a module runs its ``forward``. While it runs, every operation records the module as its
scope, so a drawing of the graph can group operations by the layer that made them. Hooks
registered with ``register_forward_pre_hook`` / ``register_forward_hook`` run just before and
just after ``forward``, and may replace its arguments or its output.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple
from collections.abc import (
    Callable,
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    ValuesView,
)
from typing import Any

import numpy as np

from ..autograd import set_scope
from ..dtypes import to_dtype
from ..grad_mode import no_grad
from ..tensor import Tensor, to_arguments


class Parameter(Tensor):
    """A Tensor that is a weight of a model: it requires grad, and assigning it to an attribute
    of a `Module` registers it with that module.

    >>> w = Parameter(tg.zeros(3, 2))
    >>> w.requires_grad
    True
    """

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        prefix = "Parameter("
        body = np.array2string(np.asarray(self.data), separator=", ", prefix=prefix)
        extras = f"dtype={self.dtype}" + (", requires_grad=True" if self.requires_grad else "")
        return f"{prefix}{body}, {extras})"


# What load_state_dict returns (PyTorch's names): keys the model wanted but the state lacked,
# and keys the state had but the model does not know. Both empty after a strict load.
IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class RemovableHandle:
    """What ``register_forward_hook`` and ``register_forward_pre_hook`` return: ``.remove()``
    unregisters the hook (a second call does nothing). Also a context manager that removes the
    hook on leaving the ``with`` block."""

    _ids = itertools.count()

    def __init__(self, hooks: dict[int, Callable]) -> None:
        self.hooks_dict = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        self.hooks_dict.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.remove()


class Module:
    """Base class of every layer and model. Subclass it, call ``super().__init__()`` first,
    assign parameters and sub-modules as attributes, and write ``forward``::

        class TwoLayer(nn.Module):
            def __init__(self):
                super().__init__()
                self.hidden = nn.Linear(2, 64)
                self.out = nn.Linear(64, 1)

            def forward(self, x):
                return self.out(self.hidden(x).relu())

    ``model(x)`` runs ``forward(x)``. ``.training`` is True until ``eval()`` is called.
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_forward_pre_hooks", {})
        object.__setattr__(self, "_forward_hooks", {})
        object.__setattr__(self, "training", True)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        previous = set_scope(self)  # nodes made inside are drawn in this module's box
        try:
            attributes = self.__dict__  # (a module whose __init__ skipped super() has no hooks)
            if attributes.get("_forward_pre_hooks") or attributes.get("_forward_hooks"):
                return self._call_with_hooks(args, kwargs)
            return self.forward(*args, **kwargs)
        finally:
            set_scope(previous)

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        """forward between its hooks: each pre-hook may replace the positional arguments (a
        result that is not a tuple becomes a 1-tuple), each forward hook the output."""
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, args)`` before every ``forward``; ``args`` is the tuple of
        positional arguments. If it returns something other than None, that replaces ``args``
        (a single value is wrapped in a tuple). Returns a handle whose ``.remove()`` undoes this.
        """
        return self._add_hook(self._forward_pre_hooks, hook, "register_forward_pre_hook")

    def register_forward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after every ``forward``; if it returns something
        other than None, that replaces the output. Hooks run in the order they were registered.
        Returns a handle whose ``.remove()`` undoes this::

            handle = model[0].register_forward_hook(lambda m, args, out: print(out.shape))
            model(x)          # prints the shape of the first layer's output
            handle.remove()
        """
        return self._add_hook(self._forward_hooks, hook, "register_forward_hook")

    @staticmethod
    def _add_hook(hooks: dict, hook: Any, where: str) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"{where}: the hook must be callable, got {type(hook).__name__}")
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    # ---- registration --------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        # Parameters, buffers and sub-modules are kept in the instance dict as well (so reading
        # self.weight is an ordinary, fast attribute access) and in the ordered registries.
        registries = self.__dict__.get("_parameters"), self.__dict__.get("_modules")
        if isinstance(value, (Parameter, Module)):
            if registries[0] is None:
                raise AttributeError(
                    f"cannot assign {type(value).__name__} {name!r} before "
                    "Module.__init__() ran: call super().__init__() first in your __init__"
                )
            params, modules = registries
            self._forget_buffer(name)
            if isinstance(value, Parameter):
                modules.pop(name, None)
                params[name] = value
            else:
                params.pop(name, None)
                modules[name] = value
        elif registries[0] is not None:
            self._check_replacement(name, value)
        object.__setattr__(self, name, value)

    def _check_replacement(self, name: str, value: Any) -> None:
        """Only None (or another Parameter / Module) may replace a registered parameter or
        module; a buffer takes any Tensor, or None."""
        buffers = self.__dict__.get("_buffers", {})
        if name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign a {type(value).__name__} to {name!r}, which is a registered "
                    "buffer (assign a Tensor or None; wrap an array as tg.Tensor(array))"
                )
            buffers[name] = value
            return
        for registry, kind in ((self._parameters, "Parameter"), (self._modules, "Module")):
            if name in registry:
                if value is not None:
                    hint = (
                        "; to change a weight's values, update it in place under tg.no_grad()"
                        if kind == "Parameter"
                        else ""
                    )
                    raise TypeError(
                        f"cannot assign a {type(value).__name__} to {name!r}, which is a "
                        f"registered {kind} (assign an nn.{kind} or None){hint}"
                    )
                registry[name] = None

    def _forget_buffer(self, name: str) -> None:
        buffers = self.__dict__.get("_buffers")
        if buffers is not None:
            buffers.pop(name, None)
            self._non_persistent_buffers_set.discard(name)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._forget_buffer(name)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """``setattr(self, name, param)`` for a name known only at run time."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be an nn.Parameter or None")
        self._modules.pop(name, None)
        self._forget_buffer(name)
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register ``tensor`` as a buffer: state of the module that is not a weight, such as
        BatchNorm's running statistics. It is then ``self.<name>``, listed by
        ``named_buffers()`` and, if ``persistent`` (the default), saved by ``state_dict()`` and
        restored by ``load_state_dict()``. It is not in ``parameters()``, so no optimizer
        changes it. ``None`` registers the name without a value (left out of the state dict).
        Assigning a Tensor to ``self.<name>`` later replaces the buffer."""
        if "_buffers" not in self.__dict__:
            raise AttributeError(
                f"cannot register buffer {name!r} before Module.__init__() ran: call "
                "super().__init__() first in your __init__"
            )
        if not isinstance(name, str):
            raise TypeError(f"register_buffer: the name must be a str, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f"register_buffer: the name must be non-empty without '.', got {name!r}")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"register_buffer: attribute {name!r} already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"register_buffer: cannot register a {type(tensor).__name__} as buffer {name!r} "
                "(a Tensor or None is required; wrap an array as tg.Tensor(array))"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module: Module | None) -> None:
        """``setattr(self, name, module)`` for a name known only at run time."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be an nn.Module or None")
        self._parameters.pop(name, None)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    # ---- walking the tree ----------------------------------------------------------------

    def named_modules(
        self, prefix: str = "", remove_duplicate: bool = True, _memo: set | None = None
    ) -> Iterator[tuple[str, Module]]:
        """(path, module) for this module (path ``prefix``, "" by default) and every module
        inside it, depth first in registration order; a module used twice is listed once.

        This is the walk that ``parameters()``, ``state_dict()``, ``train()``, ``zero_grad()``
        and the rest share. A module may appear twice (a shared layer), but a module inside
        itself (``child.parent = model``) would make the walk endless: it is a RuntimeError
        naming the path that closes the loop."""
        memo = set() if _memo is None else _memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        # Depth first with an explicit stack rather than one nested generator per module: for
        # each module on the way down from self, its path, itself and an iterator over its
        # children. on_path holds the ids of the modules on the stack, to catch a cycle.
        stack = [(prefix, self, iter(self._modules.items()))]
        on_path = {id(self)}
        while stack:
            path, _, children = stack[-1]
            for name, module in children:
                if module is None:
                    continue
                child_path = f"{path}.{name}" if path else name
                if id(module) in on_path:
                    raise _cycle_error(child_path, module, stack)
                if remove_duplicate:
                    if id(module) in memo:
                        continue
                    memo.add(id(module))
                yield child_path, module
                stack.append((child_path, module, iter(module._modules.items())))
                on_path.add(id(module))
                break  # go down into this module's children first
            else:  # every child of the module on top of the stack has been visited
                on_path.discard(id(stack.pop()[1]))

    def modules(self) -> Iterator[Module]:
        """This module and every module inside it, in the order of ``named_modules()``."""
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) for the direct sub-modules."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted path, parameter) for every parameter: ``"0.weight"``, ``"layers.2.bias"``.
        A parameter shared by two layers is listed once (unless ``remove_duplicate=False``)."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter, in the order of ``named_parameters()``: what an optimizer updates."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """(dotted path, buffer) for every buffer that is not None, persistent or not:
        ``"1.running_mean"``. A buffer shared by two modules is listed once (unless
        ``remove_duplicate=False``)."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def _named_members(
        self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool
    ) -> Iterator[tuple[str, Tensor]]:
        """(dotted path, tensor) for the tensors of one registry (``_parameters`` or
        ``_buffers``) of every module (or of this one only without ``recurse``)."""
        memo: set[int] = set()
        if recurse:
            owners = self.named_modules(prefix, remove_duplicate=remove_duplicate)
        else:
            owners = iter([(prefix, self)])
        for path, module in owners:
            for name, tensor in getattr(module, registry).items():
                if tensor is None or (remove_duplicate and id(tensor) in memo):
                    continue
                memo.add(id(tensor))
                yield (f"{path}.{name}" if path else name), tensor

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer, in the order of ``named_buffers()``."""
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every sub-module and then on this one (e.g. to initialise weights).
        A module inside itself is the RuntimeError of ``named_modules()``, not endless."""
        for _ in self.named_modules():  # raises on a cycle before fn is ever called
            pass
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients ---------------------------------------------------------------

    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> Module:
        """``model.to('cpu')``, ``model.to(dtype)``, ``model.to(tensor)`` (its dtype) or
        ``model.to(device, dtype)``, in place, as in PyTorch: floating parameters and buffers
        take ``dtype``; the CPU is the only device (another one is an error)."""
        dtype = to_arguments(args, dtype, device)
        if dtype is not None:
            dtype = to_dtype(dtype, "Module.to")
            with no_grad():
                for tensor in itertools.chain(self.parameters(), self.buffers()):
                    if tensor.dtype.kind == "f" and tensor.dtype != dtype:
                        tensor.data = tensor.data.astype(dtype)
                        tensor.grad = None
        return self

    def cpu(self) -> Module:
        return self

    def float(self) -> Module:
        """Floating parameters and buffers to float32."""
        return self.to(np.float32)

    def double(self) -> Module:
        """Floating parameters and buffers to float64."""
        return self.to(np.float64)

    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode on this module and every module
        inside it. Dropout is active only in training mode. Returns the module."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode): mode must be True or False, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """``train(False)``: evaluation mode everywhere (Dropout becomes the identity)."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of every parameter (they accumulate otherwise): ``.grad``
        becomes None (or zeros with ``set_to_none=False``)."""
        for param in self.parameters():
            if set_to_none:
                param.grad = None
            elif param.grad is not None:
                param.grad = Tensor(np.zeros(param.shape, dtype=param.dtype))

    # ---- saving and loading ----------------------------------------------------------------

    def _state_tensors(self) -> OrderedDict[str, tuple[Tensor, str]]:
        """path -> (tensor, "parameter" or "buffer") for what ``state_dict`` holds, in
        PyTorch's order: for each module (depth first), its parameters, then its persistent
        buffers. A module or tensor used twice is listed under each of its paths."""
        state: OrderedDict[str, tuple[Tensor, str]] = OrderedDict()
        for path, module in self.named_modules(remove_duplicate=False):
            prefix = f"{path}." if path else ""
            for name, param in module._parameters.items():
                if param is not None:
                    state[prefix + name] = (param, "parameter")
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent_buffers_set:
                    state[prefix + name] = (buffer, "buffer")
        return state

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """An ordered dict from path to a copy of the values (a NumPy array) of every parameter
        and every persistent buffer: for each module, its parameters, then its buffers
        (``"1.weight"``, ``"1.bias"``, ``"1.running_mean"``, ...), the keys PyTorch uses."""
        return OrderedDict(
            (name, np.array(tensor.data, copy=True))
            for name, (tensor, _) in self._state_tensors().items()
        )

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy values from ``state_dict`` into the parameters and persistent buffers (each
        keeps its dtype).

        Everything is checked first: keys the model has and the state lacks (missing), keys
        the state has and the model lacks (unexpected; both only when ``strict``), values of the
        wrong shape, values that are not floating point for a parameter, and values that are not
        numbers (or floats for an integer buffer, such as ``num_batches_tracked``). If anything
        is wrong, a RuntimeError names every offending key and nothing is changed.
        """
        own = self._state_tensors()
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(map(repr, missing)))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(map(repr, unexpected)))
        values = {}
        for key, (tensor, kind) in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            value = np.asarray(value.data if isinstance(value, Tensor) else value)
            problem = _load_problem(key, value, tensor, kind)
            if problem:
                problems.append(problem)
            values[key] = value
        if problems:
            raise RuntimeError(
                f"load_state_dict for {type(self).__name__}: nothing was loaded, because of\n  "
                + "\n  ".join(problems)
            )
        with no_grad():
            for key, value in values.items():
                own[key][0][...] = value
        return IncompatibleKeys(missing, unexpected)

    # ---- printing --------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (its settings)."""
        return ""

    def __repr__(self) -> str:
        # A module inside itself is shown as such rather than printed until the recursion
        # limit: repr is what a debugger or an error message shows, so it must not fail.
        if id(self) in _IN_REPR:
            return f"<cycle: {type(self).__name__} inside itself>"
        _IN_REPR.add(id(self))
        try:
            extra = self.extra_repr()
            if not self._modules:
                return f"{type(self).__name__}({extra})"
            lines = extra.split("\n") if extra else []
            for name, module in self._modules.items():
                text = repr(module).replace("\n", "\n  ")
                lines.append(f"({name}): {text}")
            return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"
        finally:
            _IN_REPR.discard(id(self))


def _load_problem(key: str, value: np.ndarray, tensor: Tensor, kind: str) -> str | None:
    """What is wrong with loading ``value`` into the ``kind`` ("parameter" or "buffer")
    ``tensor`` at ``key``, or None."""
    if value.shape != tensor.shape:
        return f"wrong shape for {key!r}: the state has {value.shape}, the model has {tensor.shape}"
    wrong = f"wrong dtype for {key!r}: the state has {value.dtype}, the model has {tensor.dtype}"
    if kind == "parameter" and value.dtype.kind != "f":
        return f"{wrong} (a parameter takes floating-point values)"
    if value.dtype.kind not in "biuf":
        return f"{wrong} (a buffer takes numbers)"
    if tensor.dtype.kind in "biu" and value.dtype.kind == "f":
        return f"{wrong} (an integer buffer takes integer values)"
    return None


# The ids of the modules whose repr is being built, to show a cycle instead of recursing.
_IN_REPR: set[int] = set()


def _cycle_error(path: str, module: Module, stack: list[tuple[str, Module, Any]]) -> RuntimeError:
    """The error for a walk that reached, at ``path``, ``module``, which is already on the
    ``stack`` of (path, module, children) from the root down: the tree contains a loop."""
    ancestor_path = next(where for where, ancestor, _ in stack if ancestor is module)
    return RuntimeError(
        f"module cycle: {path!r} is the module at {ancestor_path!r} ({type(module).__name__}) "
        "again; a module cannot contain itself; keep references to parents out of the module "
        "tree, e.g. with object.__setattr__ or a weakref"
    )


def _check_module(module: Any, where: str) -> Module:
    if not isinstance(module, Module):
        raise TypeError(f"{where}: expected an nn.Module, got {type(module).__name__}")
    return module


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: numbered sub-modules, ``append``, ``len`` and
    iteration in order."""

    def append(self, module: Module) -> Any:
        where = f"{type(self).__name__}.append"
        self.add_module(str(len(self._modules)), _check_module(module, where))
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class Sequential(_ModuleSequence):
    """Modules applied one after the other: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    The modules are registered as ``"0"``, ``"1"``, ... (or under the keys of an OrderedDict),
    so their parameters are named ``"0.weight"``, ``"0.bias"``, ... as in PyTorch.
    Supports ``len``, iteration, ``model[i]``, ``model[1:]`` and ``append``.
    """

    def __init__(self, *modules: Module | OrderedDict) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, _check_module(module, "Sequential"))
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), _check_module(module, "Sequential"))

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[_position(index, len(items), "Sequential")][1]


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters are registered (a plain Python list would hide them
    from ``parameters()``). Indexing, ``len``, iteration, ``append`` and ``extend`` as for a list;
    the parameters of ``layers[2]`` are named ``"layers.2.weight"``, ... . It has no forward:
    loop over it in your own."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index: int | slice) -> Any:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[_position(index, len(modules), "ModuleList")]

    def __setitem__(self, index: int, module: Module) -> None:
        position = _position(index, len(self._modules), "ModuleList")
        self.add_module(str(position), _check_module(module, "ModuleList"))


class ModuleDict(Module):
    """A dict of modules whose parameters are registered under their keys (a plain Python
    dict would hide them from ``parameters()``): the parameters of ``blocks["wte"]`` are named
    ``"blocks.wte.weight"``, and each module is also the attribute ``blocks.wte``. Keys are
    strings, kept in insertion order; ``[]``, ``in``, ``len``, iteration over the keys,
    ``keys()``, ``values()``, ``items()``, ``update``, ``pop`` and ``clear`` as for a dict.
    It has no forward: call its modules in your own::

        self.transformer = nn.ModuleDict(dict(wte=nn.Embedding(65, 32), ln_f=nn.LayerNorm(32)))
        x = self.transformer.ln_f(self.transformer.wte(idx))
    """

    def __init__(
        self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None
    ) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(_missing_key(key, self._modules))
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        _check_key(self, key)
        self.add_module(key, _check_module(module, f"ModuleDict[{key!r}]"))

    def __delitem__(self, key: str) -> None:
        if key not in self._modules:
            raise KeyError(_missing_key(key, self._modules))
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> KeysView[str]:
        return self._modules.keys()

    def items(self) -> ItemsView[str, Module]:
        return self._modules.items()

    def values(self) -> ValuesView[Module]:
        return self._modules.values()

    def pop(self, key: str) -> Module:
        """Remove the module under ``key`` and return it."""
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        """Remove every module."""
        for key in list(self._modules):
            del self[key]

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add (or replace) modules from a mapping (a dict, OrderedDict or ModuleDict, in its
        order) or from an iterable of (key, module) pairs. A replaced key keeps its place."""
        if isinstance(modules, (Mapping, ModuleDict)):
            pairs = list(modules.items())
        elif isinstance(modules, Iterable) and not isinstance(modules, (str, bytes, Module)):
            pairs = [_pair(i, element) for i, element in enumerate(modules)]
        else:
            raise TypeError(
                "ModuleDict.update needs a mapping or an iterable of (key, module) pairs, "
                f"got {type(modules).__name__}"
            )
        for key, module in pairs:
            self[key] = module


def _check_key(modules: ModuleDict, key: Any) -> None:
    """A key of a ModuleDict must be a str that can be an attribute name without hiding one
    the dict already has (such as ``keys`` or ``training``), as in PyTorch."""
    if not isinstance(key, str):
        raise TypeError(
            f"ModuleDict keys must be strings, got {type(key).__name__} {key!r} "
            f"(use str({key!r}) or nn.ModuleList for numbered modules)"
        )
    if key == "" or "." in key:
        raise KeyError(f"ModuleDict key must be non-empty and without '.', got {key!r}")
    if key not in modules._modules and hasattr(modules, key):
        raise KeyError(
            f"ModuleDict key {key!r} is already an attribute of ModuleDict (a method or "
            "setting), so a module cannot be registered under it; choose another key"
        )


def _missing_key(key: Any, modules: dict) -> str:
    kind = "" if isinstance(key, str) else f" (keys are strings, got {type(key).__name__})"
    return f"ModuleDict has no key {key!r}{kind}; its keys are {list(modules)}"


def _pair(position: int, element: Any) -> tuple[Any, Any]:
    """One (key, module) element of the iterable given to ``ModuleDict.update``."""
    if not isinstance(element, Iterable) or isinstance(element, (str, bytes)):
        raise TypeError(
            f"ModuleDict.update: element #{position} must be a (key, module) pair, got "
            f"{type(element).__name__}"
        )
    pair = tuple(element)
    if len(pair) != 2:
        raise ValueError(
            f"ModuleDict.update: element #{position} has length {len(pair)}; a (key, module) "
            "pair has length 2"
        )
    return pair


def _position(index: Any, length: int, what: str) -> int:
    if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
        raise TypeError(f"{what} indices must be integers or slices, got {type(index).__name__}")
    if not -length <= index < length:
        raise IndexError(f"{what} index {index} is out of range for length {length}")
    return int(index) % length
