"""tg.Function for your own operations, and tg.gradcheck / tg.gradgradcheck catching the ones
whose backward is wrong, with a message that says where."""

import re

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor

pytestmark = pytest.mark.usefixtures("grad_mode_restored")


class Cube(tg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x**2  # d/dx x^3 = 3x^2


class WrongCube(Cube):
    """Cube's forward with a wrong backward."""

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 2 * x**2  # wrong: should be 3x^2


class ScaledAdd(tg.Function):
    """a + scale * b, with a non-tensor argument in the middle and broadcasting."""

    @staticmethod
    def forward(ctx, a, scale, b):
        ctx.scale = scale
        return a + scale * b

    @staticmethod
    def backward(ctx, grad):
        # gradients at the output's shape: the engine sums them back to each input's shape
        return grad, None, grad * ctx.scale


class WrongSecondInput(tg.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad * b, grad * b  # wrong for b: should be grad * a


class FrozenDerivative(tg.Function):
    """Right first derivative, computed in forward as a constant: its second derivative is lost."""

    @staticmethod
    def forward(ctx, x):
        ctx.slope = 3 * x**2
        return x**3

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.slope


def test_a_correct_user_function_passes():
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)
    assert tg.gradcheck(Cube.apply, [x])
    assert tg.gradgradcheck(Cube.apply, [x])


def test_user_function_with_a_non_tensor_argument_and_broadcasting():
    rng = np.random.default_rng(1)
    a = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = Tensor(rng.standard_normal(3), requires_grad=True)
    out = ScaledAdd.apply(a, 2.5, b)
    np.testing.assert_allclose(out.data, a.data + 2.5 * b.data)
    out.backward(np.ones((2, 3)))
    np.testing.assert_allclose(b.grad.data, [5.0, 5.0, 5.0])
    assert tg.gradcheck(lambda p, q: ScaledAdd.apply(p, 2.5, q), [a, b])
    assert repr(out.grad_fn) == "<ScaledAddBackward>"


def test_wrong_backward_is_caught_and_the_message_says_where():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradcheck(WrongCube.apply, [x])
    message = str(info.value)
    assert "input 0" in message
    assert "d input[2]" in message and "d output[2]" in message  # the worst element
    numerical = float(re.search(r"numerical (\S+),", message).group(1))
    analytical = float(re.search(r"analytical (\S+),", message).group(1))
    assert numerical == pytest.approx(27.0, rel=1e-6) and analytical == pytest.approx(18.0)


def test_wrong_gradient_of_the_second_input_names_input_1():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 5.0], requires_grad=True)
    with pytest.raises(tg.GradcheckError, match="input 1"):
        tg.gradcheck(WrongSecondInput.apply, [a, b])
    assert tg.gradcheck(WrongSecondInput.apply, [a, b.detach()])  # only a is checked


def test_raise_exception_false_returns_false():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert tg.gradcheck(WrongCube.apply, [x], raise_exception=False) is False
    assert tg.gradcheck(Cube.apply, [x], raise_exception=False) is True


def test_gradgradcheck_catches_a_lost_second_derivative():
    x = Tensor([0.5, -1.0, 2.0], requires_grad=True)
    assert tg.gradcheck(FrozenDerivative.apply, [x])  # first derivative is right
    with pytest.raises(tg.GradcheckError):
        tg.gradgradcheck(FrozenDerivative.apply, [x])
    assert tg.gradgradcheck(FrozenDerivative.apply, [x], raise_exception=False) is False


def test_gradcheck_warns_on_float32_inputs():
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    with pytest.warns(UserWarning, match="float64"):
        tg.gradcheck(Cube.apply, [x], raise_exception=False)


def test_gradcheck_leaves_the_callers_tensors_alone():
    x = Tensor([1.0, 2.0], requires_grad=True)
    before = x.data.copy()
    assert tg.gradcheck(lambda t: (t * t).sum(), [x])
    assert x.grad is None
    np.testing.assert_array_equal(x.data, before)


def test_gradcheck_catches_a_function_that_changes_its_input():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(tg.GradcheckError, match="changed input 0"):
        tg.gradcheck(lambda t: sneaky_on_caller(x, t), [x])


def sneaky_on_caller(caller, t):
    caller.data[0] += 1.0  # modifies the tensor the caller passed in
    return t * 2.0


def test_gradcheck_with_several_outputs_and_non_tensor_inputs():
    x = Tensor([1.0, 2.0], requires_grad=True)
    assert tg.gradcheck(lambda t, k: (t * k, t.exp()), [x, 3.0])
    with pytest.raises(ValueError, match="nothing to check"):
        tg.gradcheck(lambda t: t * 2.0, [Tensor([1.0])])
    with pytest.raises(TypeError, match="not a Tensor"):
        tg.gradcheck(lambda t: 3.0, [x])


def test_backward_returning_a_gradient_of_an_impossible_shape_is_named():
    class BadShape(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return np.ones(7)

    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"BadShape.backward.*\(7,\).*\(3,\)"):
        BadShape.apply(x).sum().backward()
    assert x.grad is None


def test_needs_input_grad_and_saved_tensors_after_release():
    seen = {}

    class Probe(tg.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):
            seen["needs"] = ctx.needs_input_grad
            a, b = ctx.saved_tensors
            return grad * b, None

    a = Tensor([1.0, 2.0], requires_grad=True)
    out = Probe.apply(a, Tensor([3.0, 4.0]))
    ctx = out.grad_fn
    out.sum().backward()
    assert seen["needs"] == (True, False)
    np.testing.assert_array_equal(a.grad.data, [3.0, 4.0])
    with pytest.raises(RuntimeError, match="retain_graph"):
        ctx.saved_tensors  # noqa: B018


def test_user_function_under_no_grad_records_nothing():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with tg.no_grad():
        y = Cube.apply(x)
    assert y.grad_fn is None and not y.requires_grad
    np.testing.assert_array_equal(y.data, [1.0, 8.0])


def test_user_function_returning_a_python_number_becomes_a_tensor():
    class Const(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return 3.0

        @staticmethod
        def backward(ctx, grad):
            return grad * 0

    out = Const.apply(Tensor(1.0, requires_grad=True))
    assert isinstance(out, Tensor) and out.item() == 3.0
