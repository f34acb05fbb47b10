"""From scalars to tensors: one small MLP written neuron by neuron, and the same MLP with matrices.

The scalar version builds the network the way micrograd does: every weight is a 0-d tensor, a
neuron computes ``tanh(w1*x1 + w2*x2 + w3*x3 + b)`` one multiplication at a time, and the
network is a list of layers of neurons. The matrix version stores each layer's weights in one
``(out, in)`` matrix and runs the whole batch with ``X @ W.T + b``. It is the same function
with the same weights, so backward must give the same gradients; only the number of nodes in
the graph, and so the time, differs.

The network: 3 inputs, two hidden layers of 4 tanh neurons, 1 linear output; four examples
with targets +1/-1, and the sum of squared errors as the loss.

    python demos/scalar_vs_tensor.py       # writes docs/images/scalar_vs_tensor_neuron.svg/.png
"""

from __future__ import annotations

import time

import _common
import numpy as np

import tinygrad_edu as tg

SIZES = [3, 4, 4, 1]
X = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
Y = [1.0, -1.0, -1.0, 1.0]


def initial_weights(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """One (W, b) per layer, W of shape (out, in), uniform on [-1, 1) as micrograd draws them."""
    rng = np.random.default_rng(seed)
    return [
        (rng.uniform(-1, 1, (n_out, n_in)), rng.uniform(-1, 1, n_out))
        for n_in, n_out in zip(SIZES[:-1], SIZES[1:])
    ]


# ---- neuron by neuron, on 0-d tensors ----------------------------------------------------------


class Neuron:
    """out = tanh(sum_i w_i * x_i + b) (or without tanh for the output neuron)."""

    def __init__(self, w: np.ndarray, b: float, nonlinear: bool) -> None:
        self.w = [tg.Tensor(wi, requires_grad=True, name=f"w{i + 1}") for i, wi in enumerate(w)]
        self.b = tg.Tensor(b, requires_grad=True, name="b")
        self.nonlinear = nonlinear

    def __call__(self, x: list[tg.Tensor]) -> tg.Tensor:
        total = self.b
        for wi, xi in zip(self.w, x):
            total = total + wi * xi
        return total.tanh() if self.nonlinear else total

    def parameters(self) -> list[tg.Tensor]:
        return self.w + [self.b]


class Layer:
    def __init__(self, W: np.ndarray, b: np.ndarray, nonlinear: bool) -> None:
        self.neurons = [Neuron(w_row, b_i, nonlinear) for w_row, b_i in zip(W, b)]

    def __call__(self, x: list[tg.Tensor]) -> list[tg.Tensor]:
        return [neuron(x) for neuron in self.neurons]


class ScalarMLP:
    def __init__(self, weights: list[tuple[np.ndarray, np.ndarray]]) -> None:
        last = len(weights) - 1
        self.layers = [Layer(W, b, nonlinear=i < last) for i, (W, b) in enumerate(weights)]

    def __call__(self, x: list[tg.Tensor]) -> tg.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x[0]

    def loss(self) -> tg.Tensor:
        """Sum over the examples of (prediction - target)^2, one example at a time."""
        total = tg.Tensor(0.0)
        for x_row, y in zip(X, Y):
            prediction = self([tg.Tensor(v) for v in x_row])
            total = total + (prediction - y) ** 2
        return total

    def gradients(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The gradients gathered back into one (W, b) pair per layer, to compare."""
        return [
            (
                np.array([[w.grad.item() for w in n.w] for n in layer.neurons]),
                np.array([n.b.grad.item() for n in layer.neurons]),
            )
            for layer in self.layers
        ]


# ---- the same network with matrices -----------------------------------------------------------


class MatrixMLP:
    def __init__(self, weights: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.layers = [
            (tg.Tensor(W, requires_grad=True), tg.Tensor(b, requires_grad=True)) for W, b in weights
        ]

    def loss(self) -> tg.Tensor:
        """The whole batch at once: each layer is one matrix product."""
        h = tg.Tensor(X)
        for i, (W, b) in enumerate(self.layers):
            h = h @ W.T + b
            if i < len(self.layers) - 1:
                h = h.tanh()
        return ((h.reshape(-1) - tg.Tensor(Y)) ** 2).sum()

    def gradients(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(W.grad.numpy(), b.grad.numpy()) for W, b in self.layers]


def time_backward(make, repeats: int) -> float:
    """Seconds for one forward and backward pass, best of ``repeats``."""
    best = float("inf")
    for _ in range(repeats):
        model = make()
        start = time.perf_counter()
        model.loss().backward()
        best = min(best, time.perf_counter() - start)
    return best


def neuron_graph(weights: list[tuple[np.ndarray, np.ndarray]]) -> tg.Tensor:
    """The first neuron of the scalar network on the first example, after its own backward."""
    W, b = weights[0]
    neuron = Neuron(W[0], b[0], nonlinear=True)
    x = [tg.Tensor(v, name=f"x{i + 1}") for i, v in enumerate(X[0])]
    out = neuron(x)
    out.name = "out"
    out.backward()  # the graph stays drawable, with the gradient that flowed through each value
    return out


def main(argv: list[str] | None = None) -> dict:
    args = _common.parser(__doc__, _common.IMAGES).parse_args(argv)
    weights = initial_weights()

    scalar, matrix = ScalarMLP(weights), MatrixMLP(weights)
    scalar_loss, matrix_loss = scalar.loss(), matrix.loss()
    scalar_loss.backward()
    matrix_loss.backward()
    print(f"loss: scalar network {scalar_loss.item():.15f}, matrices {matrix_loss.item():.15f}")
    differences = [
        max(np.max(np.abs(gs - gm)), np.max(np.abs(bs - bm)))
        for (gs, bs), (gm, bm) in zip(scalar.gradients(), matrix.gradients())
    ]
    for i, d in enumerate(differences):
        print(f"layer {i}: largest gradient difference {d:.1e}")
    worst = max(differences + [abs(scalar_loss.item() - matrix_loss.item())])
    identical = worst <= 1e-12
    print("identical gradients (to 1e-12):", identical)
    if not identical:
        raise AssertionError(f"the two networks' gradients differ by {worst:.3e}")

    repeats = 3 if args.quick else 30
    scalar_time = time_backward(lambda: ScalarMLP(weights), repeats)
    matrix_time = time_backward(lambda: MatrixMLP(weights), repeats)
    n_params = sum(W.size + b.size for W, b in weights)
    print(f"\n{n_params} parameters, {len(X)} examples; one forward + backward:")
    print(f"  neuron by neuron (0-d tensors): {scalar_time * 1e3:8.3f} ms")
    print(f"  with matrices:                  {matrix_time * 1e3:8.3f} ms")
    print(f"  the matrices are {scalar_time / matrix_time:.0f} times faster")

    written = _common.save_diagram(
        tg.draw_graph(neuron_graph(weights)), args.out / "scalar_vs_tensor_neuron"
    )
    return {
        "worst_difference": worst,
        "identical": identical,
        "scalar_seconds": scalar_time,
        "matrix_seconds": matrix_time,
        "files": written,
    }


if __name__ == "__main__":
    main()
