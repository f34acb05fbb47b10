"""Graduating to PyTorch (tinygrad_edu.interop, tg.save/tg.load of .safetensors, the graduate
demo): every layer and container translated both ways computes the same in float64, optimizer
states carry training on exactly (N steps here + N steps in PyTorch = 2N steps here),
safetensors files go both ways, two processes train with DistributedDataParallel, and what
cannot be translated says so. Skipped where PyTorch (or safetensors) is not installed."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F
from tinygrad_edu import interop, nn, optim
from tinygrad_edu.interop import UntranslatableError, from_torch, to_torch

DEMOS = Path(__file__).resolve().parent.parent / "demos"


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def safetensors():
    return pytest.importorskip("safetensors")


# ---- helpers ----------------------------------------------------------------------------------


def scramble_tg(model, seed=0):
    """Random values in every parameter and buffer (a positive variance, a count), so that a
    weight that lands in the wrong place cannot go unnoticed."""
    rng = np.random.default_rng(seed)
    for key, (tensor, _) in model._state_tensors().items():
        tensor.data = _random_like(key, np.asarray(tensor.data), rng)


def scramble_torch(model, torch, seed=0):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for key, tensor in model.state_dict(keep_vars=True).items():
            array = _random_like(key, tensor.detach().numpy(), rng)
            tensor.copy_(torch.from_numpy(array))


def _random_like(key, array, rng):
    if key.endswith("num_batches_tracked"):
        return np.array(7, dtype=array.dtype)
    if key.endswith("running_var"):
        return rng.uniform(0.5, 2.0, array.shape).astype(array.dtype)
    return rng.normal(size=array.shape).astype(array.dtype)


def outputs(result):
    """A module's output as a list of NumPy arrays (MultiheadAttention gives a pair)."""
    items = result if isinstance(result, tuple) else (result,)
    return [np.asarray(r.detach().numpy() if hasattr(r, "detach") else r.numpy()) for r in items]


def assert_same_state(model, torch_model):
    ours, theirs = model.state_dict(), torch_model.state_dict()
    assert list(ours) == list(theirs)
    for key in ours:
        assert str(ours[key].dtype) == str(theirs[key].dtype).removeprefix("torch."), key
        np.testing.assert_array_equal(ours[key], theirs[key].numpy(), err_msg=key)


def max_difference(model, torch_model, inputs, torch):
    ours = outputs(model(*[tg.Tensor(x) for x in inputs]))
    theirs = outputs(torch_model(*[torch.from_numpy(x) for x in inputs]))
    assert [a.shape for a in ours] == [b.shape for b in theirs]
    return max(float(np.max(np.abs(a - b), initial=0.0)) for a, b in zip(ours, theirs))


# ---- every layer, both ways -------------------------------------------------------------------

rng = np.random.default_rng(1)
X2 = rng.normal(size=(6, 4)) * 2
X3 = rng.normal(size=(3, 2, 9))
X4 = rng.normal(size=(2, 2, 7, 6))
SEQ = rng.normal(size=(5, 3, 8))  # (L, N, E)

# name -> (tinygrad_edu layer, the same layer built with PyTorch, the inputs)
LAYERS = {
    "Linear": (lambda: nn.Linear(4, 3), lambda t: t.nn.Linear(4, 3), [X2]),
    "Linear no bias": (
        lambda: nn.Linear(4, 3, bias=False),
        lambda t: t.nn.Linear(4, 3, bias=False),
        [X2],
    ),
    "ReLU": (nn.ReLU, lambda t: t.nn.ReLU(), [X2]),
    "Sigmoid": (nn.Sigmoid, lambda t: t.nn.Sigmoid(), [X2]),
    "Tanh": (nn.Tanh, lambda t: t.nn.Tanh(), [X2]),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2), lambda t: t.nn.LeakyReLU(0.2), [X2]),
    "ELU": (lambda: nn.ELU(0.7), lambda t: t.nn.ELU(0.7), [X2]),
    "Softmax": (lambda: nn.Softmax(dim=0), lambda t: t.nn.Softmax(dim=0), [X2]),
    "LogSoftmax": (lambda: nn.LogSoftmax(dim=1), lambda t: t.nn.LogSoftmax(dim=1), [X2]),
    "GELU": (nn.GELU, lambda t: t.nn.GELU(), [X2]),
    "GELU tanh": (
        lambda: nn.GELU(approximate="tanh"),
        lambda t: t.nn.GELU(approximate="tanh"),
        [X2],
    ),
    "SiLU": (nn.SiLU, lambda t: t.nn.SiLU(), [X2]),
    "Mish": (nn.Mish, lambda t: t.nn.Mish(), [X2]),
    "Hardswish": (nn.Hardswish, lambda t: t.nn.Hardswish(), [X2]),
    "Softplus": (
        lambda: nn.Softplus(beta=2.0, threshold=3.0),
        lambda t: t.nn.Softplus(beta=2.0, threshold=3.0),
        [X2],
    ),
    "Hardtanh": (lambda: nn.Hardtanh(-0.5, 1.5), lambda t: t.nn.Hardtanh(-0.5, 1.5), [X2]),
    "ReLU6": (nn.ReLU6, lambda t: t.nn.ReLU6(), [X2 * 4]),
    "CELU": (lambda: nn.CELU(0.5), lambda t: t.nn.CELU(0.5), [X2]),
    "Softsign": (nn.Softsign, lambda t: t.nn.Softsign(), [X2]),
    "Identity": (nn.Identity, lambda t: t.nn.Identity(), [X2]),
    "Dropout (eval)": (lambda: nn.Dropout(0.3).eval(), lambda t: t.nn.Dropout(0.3).eval(), [X2]),
    "Flatten": (lambda: nn.Flatten(1, 2), lambda t: t.nn.Flatten(1, 2), [X4]),
    "Unflatten": (
        lambda: nn.Unflatten(1, (2, 2)),
        lambda t: t.nn.Unflatten(1, (2, 2)),
        [X2],
    ),
    "Embedding": (
        lambda: nn.Embedding(10, 4, padding_idx=2),
        lambda t: t.nn.Embedding(10, 4, padding_idx=2),
        [np.array([[1, 2, 9], [0, 2, 5]])],
    ),
    "BatchNorm1d (train)": (
        lambda: nn.BatchNorm1d(4),
        lambda t: t.nn.BatchNorm1d(4),
        [X2],
    ),
    "BatchNorm1d (eval)": (
        lambda: nn.BatchNorm1d(2, momentum=None).eval(),
        lambda t: t.nn.BatchNorm1d(2, momentum=None).eval(),
        [X3],
    ),
    "BatchNorm1d no affine": (
        lambda: nn.BatchNorm1d(4, affine=False),
        lambda t: t.nn.BatchNorm1d(4, affine=False),
        [X2],
    ),
    "BatchNorm1d no running stats": (
        lambda: nn.BatchNorm1d(4, track_running_stats=False).eval(),
        lambda t: t.nn.BatchNorm1d(4, track_running_stats=False).eval(),
        [X2],
    ),
    "BatchNorm2d": (
        lambda: nn.BatchNorm2d(2, eps=1e-3).eval(),
        lambda t: t.nn.BatchNorm2d(2, eps=1e-3).eval(),
        [X4],
    ),
    "LayerNorm": (
        lambda: nn.LayerNorm((7, 6)),
        lambda t: t.nn.LayerNorm((7, 6)),
        [X4],
    ),
    "LayerNorm no bias": (
        lambda: nn.LayerNorm(4, bias=False),
        lambda t: t.nn.LayerNorm(4, bias=False),
        [X2],
    ),
    "LayerNorm no affine": (
        lambda: nn.LayerNorm(4, elementwise_affine=False),
        lambda t: t.nn.LayerNorm(4, elementwise_affine=False),
        [X2],
    ),
    "Conv1d": (
        lambda: nn.Conv1d(2, 4, 3, stride=2, padding=1),
        lambda t: t.nn.Conv1d(2, 4, 3, stride=2, padding=1),
        [X3],
    ),
    "Conv2d": (
        lambda: nn.Conv2d(2, 4, (3, 2), padding="same", dilation=2),
        lambda t: t.nn.Conv2d(2, 4, (3, 2), padding="same", dilation=2),
        [X4],
    ),
    "Conv2d groups": (
        lambda: nn.Conv2d(2, 4, 3, stride=(2, 1), groups=2, bias=False),
        lambda t: t.nn.Conv2d(2, 4, 3, stride=(2, 1), groups=2, bias=False),
        [X4],
    ),
    "ConvTranspose2d": (
        lambda: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1),
        lambda t: t.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1),
        [X4],
    ),
    "MaxPool1d": (lambda: nn.MaxPool1d(2), lambda t: t.nn.MaxPool1d(2), [X3]),
    "MaxPool2d": (
        lambda: nn.MaxPool2d(3, stride=2, padding=1),
        lambda t: t.nn.MaxPool2d(3, stride=2, padding=1),
        [X4],
    ),
    "AvgPool1d": (
        lambda: nn.AvgPool1d(3, stride=2, padding=1),
        lambda t: t.nn.AvgPool1d(3, stride=2, padding=1),
        [X3],
    ),
    "AvgPool2d": (
        lambda: nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False),
        lambda t: t.nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False),
        [X4],
    ),
    "AdaptiveAvgPool2d": (
        lambda: nn.AdaptiveAvgPool2d((2, 3)),
        lambda t: t.nn.AdaptiveAvgPool2d((2, 3)),
        [X4],
    ),
    "MultiheadAttention": (
        lambda: nn.MultiheadAttention(8, 2),
        lambda t: t.nn.MultiheadAttention(8, 2),
        [SEQ, SEQ[:4], SEQ[1:]],
    ),
    "MultiheadAttention kdim vdim": (
        lambda: nn.MultiheadAttention(8, 4, batch_first=True, kdim=5, vdim=6, bias=False),
        lambda t: t.nn.MultiheadAttention(8, 4, batch_first=True, kdim=5, vdim=6, bias=False),
        [SEQ, rng.normal(size=(5, 4, 5)), rng.normal(size=(5, 4, 6))],
    ),
    "Sequential": (
        lambda: nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.LayerNorm(5), nn.Linear(5, 2)),
        lambda t: t.nn.Sequential(
            t.nn.Linear(4, 5), t.nn.Tanh(), t.nn.LayerNorm(5), t.nn.Linear(5, 2)
        ),
        [X2],
    ),
    "Sequential of named layers": (
        lambda: nn.Sequential(OrderedDict(hidden=nn.Linear(4, 3), act=nn.ReLU())),
        lambda t: t.nn.Sequential(OrderedDict(hidden=t.nn.Linear(4, 3), act=t.nn.ReLU())),
        [X2],
    ),
    "CNN": (
        lambda: nn.Sequential(
            nn.Conv2d(2, 3, 3, padding=1),
            nn.BatchNorm2d(3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.2),
            nn.Linear(27, 4),
        ).eval(),
        lambda t: t.nn.Sequential(
            t.nn.Conv2d(2, 3, 3, padding=1),
            t.nn.BatchNorm2d(3),
            t.nn.ReLU(),
            t.nn.MaxPool2d(2),
            t.nn.Flatten(),
            t.nn.Dropout(0.2),
            t.nn.Linear(27, 4),
        ).eval(),
        [X4],
    ),
}


def float64_torch_layer(make, torch):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return make(torch)
    finally:
        torch.set_default_dtype(previous)


@pytest.mark.parametrize("name", LAYERS)
def test_a_layer_goes_to_pytorch_and_computes_the_same(name, torch):
    make, _, inputs = LAYERS[name]
    model = make()
    scramble_tg(model)
    twin = to_torch(model)
    assert type(twin).__name__ == type(model).__name__
    assert twin.training == model.training
    assert_same_state(model, twin)
    assert max_difference(model, twin, inputs, torch) <= 1e-12
    assert_same_state(model, twin)  # (batch norm in training: the same running statistics)


@pytest.mark.parametrize("name", LAYERS)
def test_a_layer_comes_from_pytorch_and_computes_the_same(name, torch):
    _, make, inputs = LAYERS[name]
    twin = float64_torch_layer(make, torch)
    scramble_torch(twin, torch)
    model = from_torch(twin)
    assert type(model).__name__ == type(twin).__name__
    assert model.training == twin.training
    assert_same_state(model, twin)
    assert max_difference(model, twin, inputs, torch) <= 1e-12
    assert_same_state(model, twin)


@pytest.mark.parametrize("name", ["Linear", "Conv2d", "BatchNorm1d (train)", "Embedding"])
def test_a_round_trip_gives_the_same_layer_back(name, torch):
    make, _, inputs = LAYERS[name]
    model = make()
    scramble_tg(model)
    back = from_torch(to_torch(model))
    assert repr(back) == repr(model)
    for a, b in zip(model.state_dict().values(), back.state_dict().values()):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_settings_survive_both_ways(torch):
    """The arguments that change no number of a forward in eval mode are carried too."""
    layers = [
        nn.Dropout(0.3),
        nn.BatchNorm1d(3, eps=1e-3, momentum=0.2),
        nn.Embedding(5, 2, padding_idx=-1),
        nn.MultiheadAttention(4, 2, dropout=0.1, batch_first=True),
        nn.Conv1d(2, 2, 3, padding=2, dilation=2),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Unflatten(1, (2, -1)),
    ]
    for layer in layers:
        assert repr(from_torch(to_torch(layer))) == repr(layer)
    assert to_torch(nn.Dropout(0.3)).p == 0.3
    assert to_torch(nn.Embedding(5, 2, padding_idx=-1)).padding_idx == 4
    assert to_torch(layers[3]).batch_first is True


def test_mlp_becomes_a_sequential_with_the_same_keys(torch):
    model = nn.MLP([3, 8, 8, 2], activation="gelu", output_activation="sigmoid")
    twin = to_torch(model)
    assert isinstance(twin, torch.nn.Sequential)
    assert [type(m).__name__ for m in twin] == [type(m).__name__ for m in model]
    assert list(twin.state_dict()) == list(model.state_dict())
    x = rng.normal(size=(4, 3))
    assert max_difference(model, twin, [x], torch) <= 1e-12


@settings(max_examples=15, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    activation=st.sampled_from(["relu", "tanh", "gelu", "silu", "elu", "softplus"]),
    float32=st.booleans(),
    seed=st.integers(0, 1000),
)
@example(sizes=[3, 6, 4, 1, 2], activation="relu", float32=True, seed=887)  # outputs near -98
def test_random_mlps_compute_the_same_both_ways(sizes, activation, float32, seed):
    torch = pytest.importorskip("torch")
    dtype = tg.float32 if float32 else tg.float64
    model = nn.MLP(sizes, activation=activation, dtype=dtype)
    scramble_tg(model, seed)
    x = np.random.default_rng(seed).normal(size=(3, sizes[0])).astype(dtype)
    twin = to_torch(model)
    assert twin[0].weight.dtype == getattr(torch, dtype.name)
    # relative to the outputs' size: float32 keeps about seven digits, so outputs near 100
    # may differ by 1.5e-5 (two units in the last place) when the sums run in another order
    scale = max(1.0, float(np.abs(outputs(twin(torch.from_numpy(x)))[0]).max()))
    tolerance = (1e-5 if float32 else 1e-12) * scale
    assert max_difference(model, twin, [x], torch) <= tolerance
    assert max_difference(from_torch(twin), twin, [x], torch) <= tolerance


def test_module_list_and_nesting(torch):
    model = nn.ModuleList([nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Linear(3, 1))])
    model.append(nn.ModuleList([nn.LayerNorm(1)]))
    twin = to_torch(model)
    assert isinstance(twin, torch.nn.ModuleList) and isinstance(twin[2], torch.nn.ModuleList)
    assert_same_state(model, twin)
    back = from_torch(twin)
    assert isinstance(back, nn.ModuleList) and isinstance(back[1], nn.Sequential)
    assert_same_state(back, twin)


def test_a_plain_module_holding_layers_translates(torch):
    holder = nn.Module()
    holder.encoder = nn.Linear(3, 2)
    twin = to_torch(holder)
    assert type(twin) is torch.nn.Module
    assert list(twin.state_dict()) == ["encoder.weight", "encoder.bias"]


def test_a_subclass_that_only_builds_differently_translates(torch):
    class Net(nn.Sequential):  # the common way to name a model: no forward of its own
        def __init__(self):
            super().__init__(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))

    model = Net()
    twin = to_torch(model)
    assert isinstance(twin, torch.nn.Sequential)
    assert max_difference(model, twin, [X2], torch) <= 1e-12

    class TorchNet(torch.nn.Sequential):
        def __init__(self):
            super().__init__(torch.nn.Linear(4, 3, dtype=torch.float64))

    assert isinstance(from_torch(TorchNet()), nn.Sequential)


def test_dtype_training_flags_and_requires_grad_are_kept(torch):
    model = nn.Sequential(nn.Linear(3, 2, dtype=tg.float32), nn.Dropout(0.5), nn.BatchNorm1d(2))
    model[1].eval()
    model[0].bias.requires_grad = False
    twin = to_torch(model)
    assert twin[0].weight.dtype == torch.float32 and twin[2].weight.dtype == torch.float64
    assert twin[2].num_batches_tracked.dtype == torch.int64
    assert [m.training for m in twin.modules()] == [True, True, False, True]
    assert twin[0].weight.requires_grad and not twin[0].bias.requires_grad
    back = from_torch(twin)
    assert back[0].weight.dtype == np.float32 and back[2].running_mean.dtype == np.float64
    assert [m.training for m in back.modules()] == [True, True, False, True]
    assert not back[0].bias.requires_grad and back[0].weight.requires_grad


def test_shared_layers_and_tied_weights_stay_shared(torch):
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.Tanh(), shared, nn.Linear(3, 3))
    model[3].weight = model[0].weight  # tied: one tensor in two layers
    twin = to_torch(model)
    assert twin[0] is twin[2]
    assert twin[3].weight is twin[0].weight
    assert len(list(twin.parameters())) == len(list(model.parameters())) == 3
    back = from_torch(twin)
    assert back[0] is back[2] and back[3].weight is back[0].weight


def test_translating_draws_no_random_numbers(torch):
    model = nn.Sequential(nn.Linear(3, 4), nn.MultiheadAttention(4, 2), nn.BatchNorm1d(4))
    twin = to_torch(model)
    tg.manual_seed(5)
    torch.manual_seed(5)
    expected_tg, expected_torch = tg.randn(3).numpy(), torch.rand(3)
    tg.manual_seed(5)
    torch.manual_seed(5)
    to_torch(model)
    from_torch(twin)
    np.testing.assert_array_equal(tg.randn(3).numpy(), expected_tg)
    assert torch.equal(torch.rand(3), expected_torch)


# ---- state dicts ------------------------------------------------------------------------------


def test_a_state_dict_loads_into_pytorch_strictly(torch):
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    scramble_tg(model)
    twin = float64_torch_layer(
        lambda t: t.nn.Sequential(t.nn.Linear(4, 3), t.nn.BatchNorm1d(3)), torch
    )
    sd = interop.state_dict_to_torch(model.state_dict())
    assert all(isinstance(v, torch.Tensor) for v in sd.values())
    twin.load_state_dict(sd, strict=True)
    assert_same_state(model, twin)


def test_module_load_state_dict_takes_pytorch_tensors(torch):
    twin = float64_torch_layer(
        lambda t: t.nn.Sequential(t.nn.Linear(4, 3), t.nn.BatchNorm1d(3)), torch
    )
    scramble_torch(twin, torch)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    model.load_state_dict(twin.state_dict())  # PyTorch tensors, as they are
    assert_same_state(model, twin)
    # each tensor keeps its dtype: a float32 model stays float32
    small = nn.Sequential(nn.Linear(4, 3, dtype=tg.float32), nn.BatchNorm1d(3, dtype=tg.float32))
    small.load_state_dict(twin.state_dict())
    assert small[0].weight.dtype == np.float32
    np.testing.assert_allclose(small[0].weight.numpy(), twin[0].weight.detach().numpy(), 1e-6)
    assert list(interop.state_dict_from_torch(twin.state_dict())) == list(model.state_dict())


# ---- optimizer state: N steps here + N steps in PyTorch = 2N steps here --------------------------

STEPS = 5
DATA = np.random.default_rng(3)
XS, YS = DATA.normal(size=(32, 5)), DATA.integers(0, 3, size=32)

OPTIMIZERS = {
    "SGD momentum": ("SGD", {"lr": 0.1, "momentum": 0.9}),
    "SGD nesterov, weight decay": (
        "SGD",
        {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01},
    ),
    "SGD dampening": ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    "Adam": ("Adam", {"lr": 0.02}),
    "Adam amsgrad, L2": ("Adam", {"lr": 0.02, "weight_decay": 0.1, "amsgrad": True}),
    "AdamW": ("AdamW", {"lr": 0.02, "weight_decay": 0.1, "betas": (0.8, 0.99)}),
    "RMSprop centered, momentum": (
        "RMSprop",
        {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.01},
    ),
    "Adagrad": ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1}),
}


def new_model():
    tg.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.LayerNorm(8), nn.Linear(8, 3))


def batch(step):
    rows = np.arange(step * 8, step * 8 + 8) % 32
    return XS[rows], YS[rows]


def steps_here(model, optimizer, steps):
    for step in steps:
        x, y = batch(step)
        optimizer.zero_grad()
        F.cross_entropy(model(tg.Tensor(x)), tg.Tensor(y)).backward()
        optimizer.step()


def steps_torch(model, optimizer, steps, torch):
    for step in steps:
        x, y = batch(step)
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(
            model(torch.from_numpy(x)), torch.from_numpy(y)
        ).backward()
        optimizer.step()


def largest_difference(model, torch_model):
    theirs = torch_model.state_dict()
    return max(float(np.max(np.abs(v - theirs[k].numpy()))) for k, v in model.state_dict().items())


def make_optimizer(params, kind, options, groups, library=optim):
    cls = getattr(library, kind)
    params = list(params)
    if groups:  # two groups, the second with its own learning rate
        lr = options["lr"]
        return cls([{"params": params[:2]}, {"params": params[2:], "lr": lr / 2}], **options)
    return cls(params, **options)


@pytest.mark.parametrize("groups", [False, True], ids=["one group", "two groups"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_training_goes_on_in_pytorch_as_it_would_here(name, groups, torch):
    kind, options = OPTIMIZERS[name]
    reference = new_model()
    steps_here(reference, make_optimizer(reference.parameters(), kind, options, groups),
               range(2 * STEPS))  # fmt: skip

    model = new_model()
    optimizer = make_optimizer(model.parameters(), kind, options, groups)
    steps_here(model, optimizer, range(STEPS))
    twin = to_torch(model)
    torch_optimizer = interop.optimizer_to_torch(optimizer, twin.parameters())
    assert type(torch_optimizer).__name__ == kind
    steps_torch(twin, torch_optimizer, range(STEPS, 2 * STEPS), torch)
    assert largest_difference(reference, twin) < 1e-10


@pytest.mark.parametrize("groups", [False, True], ids=["one group", "two groups"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_training_comes_back_from_pytorch_as_it_would_have_gone_here(name, groups, torch):
    kind, options = OPTIMIZERS[name]
    reference = new_model()
    steps_here(reference, make_optimizer(reference.parameters(), kind, options, groups),
               range(2 * STEPS))  # fmt: skip

    twin = to_torch(new_model())
    torch_optimizer = make_optimizer(twin.parameters(), kind, options, groups, torch.optim)
    steps_torch(twin, torch_optimizer, range(STEPS), torch)
    model = from_torch(twin)
    optimizer = interop.optimizer_from_torch(torch_optimizer, model.parameters())
    assert type(optimizer).__name__ == kind
    assert optimizer.param_groups[-1]["lr"] == torch_optimizer.param_groups[-1]["lr"]
    steps_here(model, optimizer, range(STEPS, 2 * STEPS))
    assert largest_difference(model, to_torch(reference)) < 1e-10


def test_an_optimizer_round_trip_keeps_its_state(torch):
    model = new_model()
    optimizer = optim.AdamW(model.parameters(), lr=0.01, amsgrad=True)
    steps_here(model, optimizer, range(3))
    twin = to_torch(model)
    back = interop.optimizer_from_torch(
        interop.optimizer_to_torch(optimizer, twin), from_torch(twin)
    )
    before, after = optimizer.state_dict(), back.state_dict()
    assert before["param_groups"] == after["param_groups"]
    for index, buffers in before["state"].items():
        assert buffers.keys() == after["state"][index].keys()
        for key, value in buffers.items():
            np.testing.assert_array_equal(value, after["state"][index][key])


def test_an_optimizer_checkpoint_file_resumes_in_pytorch(tmp_path, torch):
    """The checkpoint workflow: tg.save the optimizer's state_dict, tg.load it, convert it for
    a PyTorch optimizer built in a PyTorch script. AdamW stays AdamW."""
    reference = new_model()
    steps_here(reference, optim.AdamW(reference.parameters(), lr=0.02), range(2 * STEPS))
    model = new_model()
    optimizer = optim.AdamW(model.parameters(), lr=0.02)
    steps_here(model, optimizer, range(STEPS))
    tg.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, tmp_path / "c")
    saved = tg.load(tmp_path / "c")
    twin = float64_torch_layer(
        lambda t: t.nn.Sequential(t.nn.Linear(5, 8), t.nn.Tanh(), t.nn.LayerNorm(8),
                                  t.nn.Linear(8, 3)), torch
    )  # fmt: skip
    twin.load_state_dict(interop.state_dict_to_torch(saved["model"]))
    torch_optimizer = torch.optim.AdamW(twin.parameters(), lr=0.02)
    torch_optimizer.load_state_dict(
        interop.optimizer_state_dict_to_torch(saved["optimizer"], torch_optimizer)
    )
    assert torch_optimizer.param_groups[0]["decoupled_weight_decay"] is True
    steps_torch(twin, torch_optimizer, range(STEPS, 2 * STEPS), torch)
    assert largest_difference(reference, twin) < 1e-10
    # and back: PyTorch's state_dict into an optimizer here
    again = optim.AdamW(from_torch(twin).parameters(), lr=0.02)
    again.load_state_dict(
        interop.optimizer_state_dict_from_torch(torch_optimizer.state_dict(), again)
    )
    assert again.state_dict()["state"][0]["step"] == 2 * STEPS


def test_optimizer_errors(torch):
    model = new_model()
    twin = to_torch(model)
    with pytest.raises(ValueError, match="6 parameters, but 3 PyTorch parameters"):
        interop.optimizer_to_torch(
            optim.SGD(model.parameters(), lr=0.1), list(twin.parameters())[:3]
        )
    with pytest.raises(ValueError, match="parameter 0 has shape"):
        interop.optimizer_to_torch(
            optim.SGD(model.parameters(), lr=0.1), list(twin.parameters())[::-1]
        )
    maximizing = torch.optim.Adam(twin.parameters(), maximize=True)
    with pytest.raises(UntranslatableError, match="maximize=True"):
        interop.optimizer_from_torch(maximizing, model.parameters())

    class MySGD(optim.SGD):
        pass

    with pytest.raises(UntranslatableError, match="MySGD"):
        interop.optimizer_to_torch(MySGD(model.parameters(), lr=0.1), twin.parameters())
    with pytest.raises(UntranslatableError, match="LBFGS"):
        interop.optimizer_from_torch(torch.optim.LBFGS(twin.parameters()), model.parameters())
    adamw_state = torch.optim.AdamW(twin.parameters()).state_dict()
    with pytest.raises(UntranslatableError, match="decoupled_weight_decay=True"):
        interop.optimizer_state_dict_from_torch(adamw_state, optim.Adam(model.parameters()))


# ---- what cannot be translated ------------------------------------------------------------------


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Linear(3, 3)

    def forward(self, x):
        return x + self.inner(x)


def test_a_module_of_your_own_is_refused_with_what_works_instead(torch):
    model = nn.Sequential(nn.Linear(3, 3), nn.Sequential(Residual()))
    with pytest.raises(UntranslatableError) as error:
        to_torch(model)
    message = str(error.value)
    assert "'1.0'" in message  # its path
    assert "test_interop.Residual" in message  # its class
    assert "its own forward" in message
    assert "load_state_dict" in message and "strict=True" in message
    assert "state_dict_to_torch(model.state_dict())" in message
    with pytest.raises(UntranslatableError, match="cannot translate the model itself"):
        to_torch(Residual())


def test_what_the_error_advises_works(torch):
    """The advice: the same model written with torch.nn loads the state_dict strictly."""
    model = Residual()

    class TorchResidual(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = torch.nn.Linear(3, 3, dtype=torch.float64)

        def forward(self, x):
            return x + self.inner(x)

    twin = TorchResidual()
    twin.load_state_dict(interop.state_dict_to_torch(model.state_dict()), strict=True)
    assert max_difference(model, twin, [rng.normal(size=(2, 3))], torch) <= 1e-12
    back = Residual()
    back.load_state_dict(twin.state_dict())
    assert max_difference(back, twin, [rng.normal(size=(2, 3))], torch) <= 1e-12


def test_a_subclass_with_its_own_computation_is_refused(torch):
    class Doubling(nn.Linear):
        def forward(self, x):
            return super().forward(x) * 2

    with pytest.raises(UntranslatableError, match=r"subclass of Linear with its own forward"):
        to_torch(nn.Sequential(Doubling(2, 2)))


def test_a_module_with_hooks_is_refused(torch):
    model = nn.Sequential(nn.Linear(2, 2))
    handle = model[0].register_forward_hook(lambda module, args, out: out * 2)
    with pytest.raises(UntranslatableError, match="'0'.*hooks"):
        to_torch(model)
    handle.remove()
    to_torch(model)


def test_a_batch_norm_without_bias_is_refused(torch):
    with pytest.raises(UntranslatableError, match="bias=False"):
        to_torch(nn.BatchNorm1d(3, bias=False))


def test_pytorch_modules_without_a_counterpart_are_refused(torch):
    class TorchResidual(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = torch.nn.Linear(3, 3)

        def forward(self, x):
            return x + self.inner(x)

    cases = [
        (torch.nn.Sequential(torch.nn.Linear(2, 2), TorchResidual()), r"'1'.*TorchResidual"),
        (torch.nn.Sequential(torch.nn.GRU(2, 2)), "PyTorch's GRU has no counterpart"),
        (torch.nn.Embedding(4, 2, max_norm=1.0), "max_norm=1.0"),
        (torch.nn.MultiheadAttention(4, 2, add_bias_kv=True), "bias_k"),
        (torch.nn.CrossEntropyLoss(label_smoothing=0.1), "label_smoothing=0.1"),
        (torch.nn.Softmax(), "dim=None"),
        (torch.nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"), "padding_mode"),
    ]
    for module, words in cases:
        with pytest.raises(UntranslatableError, match=words):
            from_torch(module)
    with pytest.raises(UntranslatableError) as error:
        from_torch(cases[0][0])
    assert "model.load_state_dict(torch_model.state_dict())" in str(error.value)


def test_without_pytorch_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match="pip install torch"):
        to_torch(nn.Linear(2, 2))


def test_the_package_exports_them():
    assert tg.to_torch is to_torch and tg.from_torch is from_torch
    assert tg.interop is interop


# ---- safetensors --------------------------------------------------------------------------------


def test_safetensors_round_trip_keeps_order_dtypes_and_shapes(tmp_path, safetensors):
    state = OrderedDict(
        [
            ("z.weight", np.arange(6.0).reshape(2, 3)),
            ("a.small", np.ones(3, dtype=np.float32)),
            ("m.count", np.array(7, dtype=np.int64)),
            ("b.mask", np.array([True, False])),
            ("t.tensor", tg.Tensor(np.eye(2))),
            ("strided", np.arange(10.0)[::2]),
        ]
    )
    written = tg.save(state, tmp_path / "model.safetensors")
    assert written == tmp_path / "model.safetensors" and written.exists()
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))
    loaded = tg.load(tmp_path / "model.safetensors")
    assert list(loaded) == list(state)
    for key, value in state.items():
        expected = np.asarray(value.data if isinstance(value, tg.Tensor) else value)
        assert loaded[key].dtype == expected.dtype and loaded[key].shape == expected.shape
        np.testing.assert_array_equal(loaded[key], expected)
        assert loaded[key].flags.writeable


def test_a_safetensors_file_from_here_loads_in_pytorch(tmp_path, safetensors, torch):
    from safetensors.torch import load_file

    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    scramble_tg(model)
    tg.save(model.state_dict(), tmp_path / "model.safetensors")
    twin = float64_torch_layer(
        lambda t: t.nn.Sequential(t.nn.Linear(4, 3), t.nn.BatchNorm1d(3)), torch
    )
    twin.load_state_dict(load_file(tmp_path / "model.safetensors"), strict=True)
    assert_same_state(model, twin)


def test_a_safetensors_file_from_pytorch_loads_here(tmp_path, safetensors, torch):
    from safetensors.torch import save_file

    twin = float64_torch_layer(
        lambda t: t.nn.Sequential(t.nn.Conv2d(2, 3, 3), t.nn.BatchNorm2d(3)), torch
    )
    scramble_torch(twin, torch)
    save_file(twin.state_dict(), tmp_path / "torch.safetensors")
    loaded = tg.load(tmp_path / "torch.safetensors")
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3))
    model.load_state_dict(loaded)
    assert_same_state(model, twin)


def test_a_nested_checkpoint_to_safetensors_says_use_npz(tmp_path, safetensors):
    model, opt_state = nn.Linear(2, 2), {"state": {}, "param_groups": []}
    with pytest.raises(TypeError, match=r"\.npz.*flatten"):
        tg.save({"model": model.state_dict(), "optimizer": opt_state}, tmp_path / "c.safetensors")
    with pytest.raises(TypeError, match=r"\.npz"):
        tg.save([np.ones(2)], tmp_path / "c.safetensors")
    with pytest.raises(TypeError, match=r"\.npz"):
        tg.save({"step": 3}, tmp_path / "c.safetensors")
    assert not list(tmp_path.iterdir())  # refused before touching the disk


def test_without_safetensors_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError, match="pip install safetensors"):
        tg.save({"a": np.ones(2)}, tmp_path / "m.safetensors")
    (tmp_path / "m.safetensors").write_bytes(b"x")
    with pytest.raises(ImportError, match="pip install safetensors"):
        tg.load(tmp_path / "m.safetensors")
    tg.save({"a": np.ones(2)}, tmp_path / "m.npz")  # .npz needs nothing more


def test_a_failed_safetensors_save_keeps_the_old_file(tmp_path, safetensors, monkeypatch):
    path = tmp_path / "m.safetensors"
    tg.save({"a": np.ones(2)}, path)
    before = path.read_bytes()

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        tg.save({"a": np.zeros(2)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary file left


def test_a_damaged_safetensors_file_is_refused(tmp_path, safetensors):
    path = tmp_path / "m.safetensors"
    tg.save({"a": np.ones(100)}, path)
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(tg.CheckpointError, match="not a readable safetensors file"):
        tg.load(path)
    with pytest.raises(FileNotFoundError):
        tg.load(tmp_path / "missing.safetensors")


# ---- the demo: here, PyTorch, two processes with DistributedDataParallel, and back -------------


def load_demo(name):
    if str(DEMOS) not in sys.path:
        sys.path.insert(0, str(DEMOS))
    spec = importlib.util.spec_from_file_location(name, DEMOS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_graduate_demo_trains_on_two_processes_and_its_losses_continue(tmp_path, torch):
    pytest.importorskip("sklearn")
    demo = load_demo("graduate")
    start = time.perf_counter()
    result = demo.main(["--quick", "--out", str(tmp_path)])
    seconds = time.perf_counter() - start
    assert seconds < 60
    assert result["seconds"]["DDP"] < 30
    for handover in result["handovers"]:
        assert handover["difference"] < 1e-9, handover
    for name, difference in result["witnesses"].items():
        assert difference < 1e-9, name
    ddp = result["phases"][2]["losses"]
    assert len(ddp) == demo.QUICK_STEPS
    assert np.mean(ddp[-5:]) < np.mean(ddp[:5])  # the distributed training learns
    losses = result["train_losses"]
    assert all(a > b for a, b in zip(losses[:-1], losses[1:])), losses
    assert result["decreasing"] and result["smooth"]
    assert isinstance(result["model"], nn.Sequential)
    for path in result["paths"]:
        assert Path(path).is_file() and Path(path).stat().st_size > 0
