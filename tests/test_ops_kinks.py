"""Gradients exactly at the kinks, where finite differences cannot decide: the conventions are
PyTorch's (test_torch_reference.py checks the same points against PyTorch itself)."""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor

pytestmark = pytest.mark.usefixtures("grad_mode_restored")

POINTS = [-1.0, 0.0, 2.0]


def grad_of(fn, values, upstream=None):
    x = Tensor(values, requires_grad=True)
    out = fn(x)
    out.backward(np.ones(out.shape) if upstream is None else upstream)
    return x.grad.data


def test_relu_derivative_at_zero_is_zero():
    np.testing.assert_array_equal(grad_of(Tensor.relu, POINTS), [0.0, 0.0, 1.0])


def test_abs_derivative_at_zero_is_zero():
    np.testing.assert_array_equal(grad_of(Tensor.abs, POINTS), [-1.0, 0.0, 1.0])


@pytest.mark.parametrize("slope", [0.01, 0.2])
def test_leaky_relu_derivative_at_zero_is_the_negative_slope(slope):
    got = grad_of(lambda x: x.leaky_relu(slope), POINTS)
    np.testing.assert_array_equal(got, [slope, slope, 1.0])


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_elu_derivative_at_zero_is_alpha(alpha):
    got = grad_of(lambda x: x.elu(alpha), POINTS)
    np.testing.assert_allclose(got, [alpha * np.exp(-1.0), alpha, 1.0], rtol=1e-15)


def test_clip_passes_the_gradient_on_the_closed_interval():
    values = [-2.0, -1.0, 0.0, 1.0, 2.0]
    np.testing.assert_array_equal(grad_of(lambda x: x.clip(-1.0, 1.0), values), [0, 1, 1, 1, 0])
    np.testing.assert_array_equal(grad_of(lambda x: x.clip(min=-1.0), values), [0, 1, 1, 1, 1])
    np.testing.assert_array_equal(grad_of(lambda x: x.clip(max=1.0), values), [1, 1, 1, 1, 0])
    np.testing.assert_array_equal(grad_of(lambda x: x.clamp(0.0, 0.0), values), [0, 0, 1, 0, 0])


def test_maximum_and_minimum_ties_give_half_to_each_side():
    for op in (tg.maximum, tg.minimum):
        a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = Tensor([1.0, 5.0, 0.0], requires_grad=True)
        op(a, b).backward(np.array([4.0, 1.0, 1.0]))
        bigger = op is tg.maximum
        np.testing.assert_array_equal(a.grad.data, [2.0, 0.0, 1.0] if bigger else [2.0, 1.0, 0.0])
        np.testing.assert_array_equal(b.grad.data, [2.0, 1.0, 0.0] if bigger else [2.0, 0.0, 1.0])


def test_maximum_tie_with_a_broadcast_number():
    np.testing.assert_array_equal(grad_of(lambda x: tg.maximum(x, 0.0), POINTS), [0, 0.5, 1])
    np.testing.assert_array_equal(grad_of(lambda x: tg.minimum(x, 0.0), POINTS), [1, 0.5, 0])
    b = Tensor(0.0, requires_grad=True)
    tg.maximum(Tensor([0.0, 0.0, -1.0]), b).sum().backward()
    assert b.grad.item() == 2.0  # 0.5 + 0.5 from the ties, 1 where it won


def test_max_and_min_of_everything_share_ties_equally():
    values = [[3.0, 1.0, 3.0], [3.0, 2.0, 0.0]]
    np.testing.assert_allclose(grad_of(Tensor.max, values), [[1 / 3, 0, 1 / 3], [1 / 3, 0, 0]])
    values = [[0.0, 1.0], [0.0, 2.0]]
    np.testing.assert_array_equal(grad_of(Tensor.min, values), [[0.5, 0], [0.5, 0]])


@pytest.mark.parametrize("keepdims", [False, True])
def test_max_along_an_axis_shares_ties_within_each_slice(keepdims):
    values = [[3.0, 1.0, 3.0], [0.0, 2.0, 1.0]]
    upstream = np.array([[6.0], [5.0]]) if keepdims else np.array([6.0, 5.0])
    got = grad_of(lambda x: x.max(axis=1, keepdims=keepdims), values, upstream)
    np.testing.assert_array_equal(got, [[3.0, 0, 3.0], [0, 5.0, 0]])
    got = grad_of(lambda x: x.min(axis=0, keepdims=keepdims), [[1.0, 2.0], [1.0, 0.0]])
    np.testing.assert_array_equal(got, [[0.5, 0], [0.5, 1.0]])


def test_pow_exponent_gradient_at_base_zero():
    base = Tensor([0.0, 0.0, 2.0])
    exponent = Tensor([2.0, 0.0, 3.0], requires_grad=True)
    (base**exponent).sum().backward()
    # d/db a^b = a^b log a, taken as 0 where a = 0 and b >= 0
    np.testing.assert_allclose(exponent.grad.data, [0.0, 0.0, 8.0 * np.log(2.0)])
    e = Tensor(0.5, requires_grad=True)
    (0.0**e).backward()
    assert e.grad.item() == 0.0


def test_pow_base_gradient_at_zero():
    np.testing.assert_array_equal(grad_of(lambda x: x**2, [0.0, 3.0]), [0.0, 6.0])
    np.testing.assert_array_equal(grad_of(lambda x: x**1, [0.0, 3.0]), [1.0, 1.0])
    np.testing.assert_array_equal(grad_of(lambda x: x**0, [0.0, 3.0]), [0.0, 0.0])


def test_where_sends_the_gradient_to_the_chosen_side_only():
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = Tensor([4.0, 5.0, 6.0], requires_grad=True)
    tg.where(np.array([True, False, True]), a, b).backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(a.grad.data, [1.0, 0.0, 3.0])
    np.testing.assert_array_equal(b.grad.data, [0.0, 2.0, 0.0])


def test_sigmoid_and_softmax_do_not_overflow():
    x = Tensor([-1000.0, 0.0, 1000.0], requires_grad=True)
    s = x.sigmoid()
    np.testing.assert_array_equal(s.data, [0.0, 0.5, 1.0])
    s.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.25, 0.0])
    big = Tensor([1000.0, 1000.0, -1000.0])
    np.testing.assert_allclose(big.softmax().data, [0.5, 0.5, 0.0])
    np.testing.assert_allclose(big.log_softmax().data[:2], [-np.log(2.0)] * 2)
    assert big.logsumexp().item() == pytest.approx(1000.0 + np.log(2.0))


def test_std_of_equal_values_has_zero_gradient():
    x = Tensor([2.0, 2.0, 2.0], requires_grad=True)
    s = x.std()
    assert s.item() == 0.0
    s.backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.0])
