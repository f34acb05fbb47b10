"""nn.Module and nn.Parameter: registration, paths, modes, gradients, state dicts, repr."""

from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(tg.ones(4))
        self.buffer = tg.zeros(4)  # a plain Tensor: not a parameter
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.fc(x) * self.scale).relu()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.layers = nn.ModuleList([nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2)])
        self.head = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid())

    def forward(self, x):
        x = self.block(x)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


# a module's own parameters come before those of its sub-modules (as in PyTorch)
NET_PATHS = [
    "block.scale",
    "block.fc.weight",
    "block.fc.bias",
    "layers.0.weight",
    "layers.0.bias",
    "layers.2.weight",
    "layers.2.bias",
    "head.0.weight",
    "head.0.bias",
]


def test_parameter_is_a_tensor_that_requires_grad():
    p = nn.Parameter(tg.zeros(2, 3))
    assert isinstance(p, tg.Tensor)
    assert p.requires_grad and p.is_leaf and p.shape == (2, 3)
    assert repr(p).startswith("Parameter(")
    assert not nn.Parameter(tg.zeros(2), requires_grad=False).requires_grad
    assert nn.Parameter(np.zeros(2, dtype=np.float32)).dtype == np.float32
    with pytest.raises(TypeError):
        nn.Parameter(np.arange(3))  # integers cannot require grad
    # results of operations on parameters are ordinary tensors
    assert type(p * 2) is tg.Tensor


def test_named_parameters_paths_in_assignment_order():
    net = Net()
    names = [name for name, _ in net.named_parameters()]
    assert names == NET_PATHS
    assert [p for p in net.parameters()] == [p for _, p in net.named_parameters()]
    assert all(isinstance(p, nn.Parameter) for p in net.parameters())
    assert "block.buffer" not in names


def test_children_and_modules():
    net = Net()
    assert [name for name, _ in net.named_children()] == ["block", "layers", "head"]
    assert list(net.children()) == [net.block, net.layers, net.head]
    paths = [path for path, _ in net.named_modules()]
    assert paths == [
        "",
        "block",
        "block.fc",
        "block.drop",
        "layers",
        "layers.0",
        "layers.1",
        "layers.2",
        "head",
        "head.0",
        "head.1",
    ]
    assert next(net.modules()) is net
    assert len(list(net.modules())) == len(paths)


def test_shared_parameters_and_modules_are_listed_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert len(list(model.modules())) == 3
    # a state dict names every path, as PyTorch's does
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_walks_agree_on_order_and_sharing_in_nested_models():
    # a module shared at two depths, a parameter shared by two modules, unset (None) entries
    shared = nn.Linear(2, 2)
    inner = nn.Sequential(nn.Linear(2, 2), shared)
    model = nn.Sequential(shared, inner, nn.Sequential(inner, nn.ReLU()))
    model.register_parameter("tied", inner[0].weight)
    model.add_module("unset", None)
    model[2].register_parameter("extra", None)
    paths = [path for path, _ in model.named_modules()]
    assert paths == ["", "0", "1", "1.0", "2", "2.1"]
    assert [m for m in model.modules()] == [m for _, m in model.named_modules()]
    every = [path for path, _ in model.named_modules(prefix="m", remove_duplicate=False)]
    assert every == [
        "m",
        "m.0",
        "m.1",
        "m.1.0",
        "m.1.1",
        "m.2",
        "m.2.0",
        "m.2.0.0",
        "m.2.0.1",
        "m.2.1",
    ]
    names = [name for name, _ in model.named_parameters()]
    assert names == ["tied", "0.weight", "0.bias", "1.0.bias"]
    assert [p for p in model.parameters()] == [p for _, p in model.named_parameters()]
    assert [p for p in model.parameters(recurse=False)] == [inner[0].weight]
    every = [name for name, _ in model.named_parameters(remove_duplicate=False)]
    assert len(every) == 11 and every[:3] == ["tied", "0.weight", "0.bias"]


def test_reassignment_and_deletion():
    m = nn.Module()
    m.a = nn.Parameter(tg.zeros(1))
    m.b = nn.Linear(1, 1)
    m.a = nn.Linear(1, 1)  # a module replaces a parameter
    assert list(m._parameters) == [] and list(m._modules) == ["b", "a"]
    with pytest.raises(TypeError, match="registered Module"):
        m.b = tg.zeros(1)
    m.w = nn.Parameter(tg.zeros(2))
    with pytest.raises(TypeError, match="no_grad"):
        m.w = m.w * 2  # a plain tensor would silently drop the weight from the model
    m.w = None
    assert "w" not in dict(m.named_parameters())
    del m.b
    assert list(m._modules) == ["a"]
    assert not hasattr(m, "b")


def test_assigning_before_init_is_a_clear_error():
    class Forgot(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Forgot()


def test_plain_list_of_modules_is_not_registered_but_modulelist_is():
    class Lists(nn.Module):
        def __init__(self):
            super().__init__()
            self.plain = [nn.Linear(1, 1)]
            self.registered = nn.ModuleList([nn.Linear(1, 1)])

    names = [name for name, _ in Lists().named_parameters()]
    assert names == ["registered.0.weight", "registered.0.bias"]


def test_modulelist_behaves_like_a_list():
    layers = nn.ModuleList()
    layers.append(nn.Linear(1, 2)).extend([nn.ReLU(), nn.Linear(2, 1)])
    assert len(layers) == 3
    assert isinstance(layers[-1], nn.Linear) and layers[-1] is layers[2]
    assert isinstance(layers[1:], nn.ModuleList) and len(layers[1:]) == 2
    new = nn.Linear(2, 3)
    layers[2] = new
    assert layers[2] is new and dict(layers.named_parameters())["2.weight"] is new.weight
    with pytest.raises(IndexError):
        layers[3]
    with pytest.raises(TypeError, match=r"ModuleList.append: expected an nn.Module, got Tensor"):
        layers.append(tg.zeros(1))
    with pytest.raises(TypeError, match=r"Sequential.append: expected an nn.Module, got int"):
        nn.Sequential().append(3)
    with pytest.raises(NotImplementedError):
        layers(tg.zeros(1))


def test_sequential_indexing_len_iteration_and_forward():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    model = nn.Sequential(a, b, c)
    assert len(model) == 3 and list(model) == [a, b, c]
    assert model[0] is a and model[-1] is c
    assert list(model[1:]) == [b, c]
    x = tg.randn(5, 2)
    assert np.allclose(model(x).data, c(b(a(x))).data)
    named = nn.Sequential(OrderedDict([("hidden", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert [name for name, _ in named.named_parameters()] == ["hidden.weight", "hidden.bias"]
    assert model.append(nn.Sigmoid()) is model and len(model) == 4
    with pytest.raises(TypeError, match="nn.Module"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_train_and_eval_reach_every_submodule():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.train(False)
    assert not net.block.drop.training
    with pytest.raises(TypeError):
        net.train("yes")


def test_eval_makes_dropout_the_identity_inside_a_model():
    net = Net()
    x = tg.randn(8, 3)
    net.eval()
    first, second = net(x).data, net(x).data
    assert np.array_equal(first, second)


def test_zero_grad_sets_none_and_backward_reaches_every_parameter():
    net = Net().eval()
    net(tg.randn(5, 3)).sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.data == 0) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_call_records_the_module_as_scope_of_each_node():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    out = model(tg.randn(4, 2))
    assert out.grad_fn.scope is model[1]  # the ReLU node
    add = out.grad_fn.parents[0].grad_fn  # x @ W.T + b
    assert add.scope is model[0]
    assert tg.autograd.hooks.scope is None  # restored after the call

    class Fails(nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        Fails()(tg.zeros(1))
    assert tg.autograd.hooks.scope is None


def test_forward_missing_is_a_clear_error():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(tg.zeros(1))


def test_apply_visits_every_module():
    seen = []
    net = Net()
    assert net.apply(lambda m: seen.append(m)) is net
    assert len(seen) == len(list(net.modules())) and seen[-1] is net


# ---- state dicts ----------------------------------------------------------------------------


def test_state_dict_is_an_ordered_copy():
    net = Net()
    state = net.state_dict()
    assert isinstance(state, OrderedDict) and list(state) == NET_PATHS
    assert all(isinstance(v, np.ndarray) for v in state.values())
    state["block.scale"][...] = 7.0
    assert np.all(net.block.scale.data == 1.0)  # a copy, not a view


def test_load_state_dict_round_trip_keeps_identity_and_dtype():
    tg.manual_seed(0)
    source, target = Net(), Net()
    weight = target.block.fc.weight
    result = target.load_state_dict(source.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert target.block.fc.weight is weight  # values copied in, parameters kept
    for (name, a), (_, b) in zip(source.named_parameters(), target.named_parameters()):
        assert np.array_equal(a.data, b.data), name
    # float32 values into a float64 model: the parameter stays float64
    state = {k: v.astype(np.float32) for k, v in source.state_dict().items()}
    target.load_state_dict(state)
    assert target.block.fc.weight.dtype == np.float64
    # tensors are accepted as values too
    target.load_state_dict({k: tg.Tensor(v) for k, v in source.state_dict().items()})


def test_load_state_dict_names_every_problem_and_changes_nothing():
    tg.manual_seed(1)
    net = Net()
    before = {k: v.copy() for k, v in net.state_dict().items()}
    bad = {k: v + 1 for k, v in net.state_dict().items()}
    del bad["block.fc.bias"]
    del bad["head.0.weight"]
    bad["extra.weight"] = np.zeros(3)
    bad["surplus"] = np.zeros(1)
    bad["layers.0.weight"] = np.zeros((3, 4))
    bad["layers.2.bias"] = np.zeros(2, dtype=np.int64)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(bad)
    message = str(info.value)
    for key in [
        "block.fc.bias",
        "head.0.weight",
        "extra.weight",
        "surplus",
        "layers.0.weight",
        "layers.2.bias",
    ]:
        assert repr(key) in message, key
    assert "(3, 4)" in message and "int64" in message
    for key, value in net.state_dict().items():
        assert np.array_equal(value, before[key]), key  # bit-identical


def test_load_state_dict_not_strict_skips_missing_and_unexpected_but_not_shapes():
    net = nn.Sequential(nn.Linear(2, 2))
    state = {"0.weight": np.ones((2, 2)), "other": np.zeros(1)}
    result = net.load_state_dict(state, strict=False)
    assert result.missing_keys == ["0.bias"] and result.unexpected_keys == ["other"]
    assert np.all(net[0].weight.data == 1)
    with pytest.raises(RuntimeError, match="0.weight"):
        net.load_state_dict({"0.weight": np.ones((3, 2))}, strict=False)


def test_repr_is_a_nested_listing():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Dropout(0.2)))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Dropout(p=0.2)\n"
        "  )\n"
        ")"
    )


def test_module_to_a_tensor_takes_its_dtype_as_tensor_to_does():
    model = nn.Linear(2, 3)
    assert model.to(tg.zeros(1, dtype=tg.float32)) is model
    assert model.weight.dtype == np.float32 and model.bias.dtype == np.float32
    x = tg.zeros(2, dtype=tg.float64)
    assert x.to(model.weight).dtype == np.float32
    with pytest.raises(Exception, match="cuda"):
        model.to("cuda")
