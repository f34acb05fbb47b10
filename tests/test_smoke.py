import numpy as np

import tinygrad_edu as tg


def test_scalar_graph_gradients():
    a = tg.Tensor(2.0, requires_grad=True)
    b = tg.Tensor(-3.0, requires_grad=True)
    c = a * b + a.tanh()
    c.backward()
    assert np.isclose(a.grad.item(), -3.0 + 1 - np.tanh(2.0) ** 2)
    assert b.grad.item() == 2.0


def test_readme_custom_function_passes_gradcheck():
    class Cube(tg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x**2

    x = tg.randn(4, requires_grad=True)
    assert tg.gradcheck(Cube.apply, [x])
