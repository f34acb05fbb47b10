"""nn.init: in place, no graph, PyTorch's formulas for bounds and standard deviations."""

import math

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.nn import init


def big(*shape, dtype=np.float64):
    return nn.Parameter(np.zeros(shape, dtype=dtype))


def assert_uniform(values, bound):
    assert np.all(np.abs(values) <= bound)
    assert values.max() > 0.95 * bound and values.min() < -0.95 * bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.05 * bound


def assert_normal(values, std):
    assert abs(values.mean()) < 0.05 * std
    assert abs(values.std() - std) < 0.05 * std


def test_init_works_in_place_on_parameters_without_recording(grad_mode_restored):
    w = big(20, 30)
    data = w.data
    functions = [
        lambda t: init.uniform_(t, -2, 3),
        lambda t: init.normal_(t, 1.0, 0.5),
        lambda t: init.constant_(t, 0.25),
        init.zeros_,
        init.ones_,
        init.xavier_uniform_,
        init.xavier_normal_,
        init.kaiming_uniform_,
        init.kaiming_normal_,
    ]
    for fn in functions:
        assert fn(w) is w
        assert w.data is data  # the same array, overwritten
        assert w.grad_fn is None and w.requires_grad
    assert tg.is_grad_enabled()


def test_simple_fills():
    w = big(500, 400)
    assert np.all(init.constant_(w, 0.25).data == 0.25)
    assert np.all(init.zeros_(w).data == 0) and np.all(init.ones_(w).data == 1)
    tg.manual_seed(0)
    values = init.uniform_(w, -2.0, 3.0).data
    assert values.min() >= -2.0 and values.max() < 3.0 and abs(values.mean() - 0.5) < 0.02
    assert_normal(init.normal_(w, 0.0, 0.5).data, 0.5)
    assert abs(init.normal_(w, 3.0, 0.5).data.mean() - 3.0) < 0.01


def test_xavier_formulas():
    tg.manual_seed(1)
    w = big(300, 500)  # fan_in 500, fan_out 300
    assert_uniform(init.xavier_uniform_(w).data, math.sqrt(6 / 800))
    assert_uniform(init.xavier_uniform_(w, gain=2.0).data, 2 * math.sqrt(6 / 800))
    assert_normal(init.xavier_normal_(w).data, math.sqrt(2 / 800))
    assert_normal(init.xavier_normal_(w, gain=0.5).data, 0.5 * math.sqrt(2 / 800))


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity, a", [("relu", 0), ("leaky_relu", 0.2), ("tanh", 0)])
def test_kaiming_formulas(mode, nonlinearity, a):
    tg.manual_seed(2)
    w = big(300, 500)
    fan = 500 if mode == "fan_in" else 300
    gain = init.calculate_gain(nonlinearity, a)
    values = init.kaiming_uniform_(w, a=a, mode=mode, nonlinearity=nonlinearity).data
    assert_uniform(values, gain * math.sqrt(3 / fan))
    values = init.kaiming_normal_(w, a=a, mode=mode, nonlinearity=nonlinearity).data
    assert_normal(values, gain / math.sqrt(fan))


def test_linear_default_is_kaiming_uniform_with_a_sqrt5():
    tg.manual_seed(3)
    layer = nn.Linear(400, 300)
    assert_uniform(layer.weight.data, 1 / math.sqrt(400))
    assert_uniform(layer.bias.data, 1 / math.sqrt(400))
    w = big(300, 400)
    tg.manual_seed(3)
    init.kaiming_uniform_(w, a=math.sqrt(5))
    assert np.array_equal(w.data, layer.weight.data)  # the same draw, in the same order


def test_gains():
    assert init.calculate_gain("linear") == init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("leaky_relu") == math.sqrt(2 / (1 + 0.01**2))
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    with pytest.raises(ValueError, match="swish"):
        init.calculate_gain("swish")


def test_gains_and_fans_match_pytorch():
    torch = pytest.importorskip("torch")
    for name, param in [("linear", None), ("tanh", None), ("relu", None), ("leaky_relu", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param)
        )
    assert init.calculate_gain("leaky_relu", 0.3) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.3)
    )
    for shape in [(3, 5), (4, 2, 3), (6, 2, 3, 3)]:
        ours = init._calculate_fan_in_and_fan_out(tg.zeros(shape))
        theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))
        assert ours == theirs


def test_float32_stays_float32_and_seed_reproduces():
    w = big(10, 10, dtype=np.float32)
    tg.manual_seed(4)
    first = init.kaiming_normal_(w).data.copy()
    assert w.dtype == np.float32
    tg.manual_seed(4)
    assert np.array_equal(init.kaiming_normal_(w).data, first)


def test_errors():
    with pytest.raises(ValueError, match="2 dimensions"):
        init.xavier_uniform_(big(5))
    with pytest.raises(ValueError, match="fan_in"):
        init.kaiming_uniform_(big(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="std"):
        init.normal_(big(3), std=-1.0)
    with pytest.raises(TypeError, match="Tensor"):
        init.zeros_(np.zeros(3))
