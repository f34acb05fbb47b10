"""The source documents' networks as benchmark workloads, each written four ways.

W1  000's [2, 64, 64, 64, 1] ReLU MLP on 10,000 grid points, one full-batch gradient-descent epoch
W2  001's 64-64(sigmoid)-10 digits network, one full-batch epoch of softmax cross-entropy
W2K 001's Keras twin, 64-64(ReLU)-10 with Adam (eps=1e-7), one epoch of 45 mini-batches of 32
W3  002's perceptron, 4 samples, one gradient-descent step
W4  micrograd's demo MLP 2-16-16-1 on 100 points, one SGD step (neuron by neuron, and as matrices)
W5  a chain of 100,000 scalar operations, built and backpropagated
W6  makemore's MLP with BatchNorm (context 3, embedding 10, hidden 200), one SGD step of 32
W7  a small CNN on the digits (two conv layers, 8 and 16 channels), one Adam epoch of 22 x 64
W8  a tiny nanoGPT (2 blocks, width 64, 4 heads, context 32), one AdamW step of 16 windows

Every contestant of a workload starts from the same weights and data (``setup``) and returns a
``step`` that trains for one step and returns the loss computed in it. W4 has one more
contestant, the bare tape: the least an autograd engine in Python can do, to show how much of
tinygrad_edu's cost is the engine's own checks and bookkeeping.

W1-W5 run in float64. W6-W8 (in ``curriculum.py``) are the lectures' networks in float32, as
PyTorch trains them; their tinygrad_edu and PyTorch contestants are one function of the library
module. PyTorch is W7's and W8's reference; W8's hand-written NumPy contestant shows the floor
of NumPy's work on it, without an engine.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import curriculum
import numpy as np

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F
from tinygrad_edu import nn, optim


def _installed(name: str) -> bool:
    """Whether an optional contestant's library is installed (without importing it: each
    contestant imports its own library, so a timing process holds only that one)."""
    return importlib.util.find_spec(name) is not None


@dataclass
class Workload:
    name: str
    title: str
    setup: Callable[[], Any]
    contestants: dict[str, Callable[[Any], Callable[[], float]]]
    repeats: int = 20
    # (contestant, reference contestant, largest allowed ratio of medians)
    targets: list[tuple[str, str, float]] = field(default_factory=list)
    # the contestant whose losses the others must agree with, and how closely (relative)
    reference: str = "numpy"
    rtol: float = 1e-6


def _torch_tensor(array: np.ndarray, requires_grad: bool = False) -> Any:
    import torch

    return torch.tensor(array, dtype=torch.float64, requires_grad=requires_grad)


# ---- W1: 000's surface regression ------------------------------------------------------------


def surface_setup(n_side: int = 100) -> dict:
    """000's grid data, standardised, and its initial weights (seed 99, uniform(-1, 1))."""
    grid = np.linspace(-10, 10, n_side)
    xs, ys = np.meshgrid(grid, grid)
    target = np.sin(xs) + xs * np.cos(ys) + ys + 3 ** (xs / 3)
    inputs = np.column_stack([xs.ravel(), ys.ravel()])
    outputs = target.ravel()
    inputs = (inputs - inputs.mean(axis=0)) / inputs.std(axis=0)
    outputs = (outputs - outputs.mean()) / outputs.std()
    sizes = [2, 64, 64, 64, 1]
    np.random.seed(99)
    weights = [np.random.uniform(-1, 1, (a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [np.zeros((1, b)) for b in sizes[1:]]
    return {
        "X": inputs,
        "y": outputs.reshape(-1, 1),
        "weights": weights,
        "biases": biases,
        "lr": 1e-3,
    }


def surface_numpy(s: dict) -> Callable[[], float]:
    """000's hand-written algorithm: forward keeping every layer's input and pre-activation,
    backward by the chain rule written out, gradient of 0.5 * mean((pred - y)^2)."""
    X, y, lr = s["X"], s["y"], s["lr"]
    weights = [w.copy() for w in s["weights"]]
    biases = [b.copy() for b in s["biases"]]
    m = len(y)

    def step() -> float:
        inputs, pre = [X], []
        for i, (W, b) in enumerate(zip(weights, biases)):
            Z = inputs[-1] @ W + b
            pre.append(Z)
            inputs.append(Z if i == len(weights) - 1 else np.maximum(0, Z))
        pred = inputs[-1]
        loss = 0.5 * np.mean((pred - y) ** 2)
        dA = pred - y
        for i in reversed(range(len(weights))):
            dZ = dA if i == len(weights) - 1 else dA * (pre[i] > 0)
            dW = inputs[i].T @ dZ / m
            db = dZ.sum(axis=0, keepdims=True) / m
            if i > 0:
                dA = dZ @ weights[i].T
            weights[i] -= lr * dW
            biases[i] -= lr * db
        return float(loss)

    return step


def _linear_stack(
    weights: list, biases: list, activation: type, dtype: Any = np.float64
) -> nn.Sequential:
    """An nn.Sequential of Linear layers holding the given input-major weights."""
    layers: list[nn.Module] = []
    for i, (W, b) in enumerate(zip(weights, biases)):
        layer = nn.Linear(W.shape[0], W.shape[1], dtype=dtype)
        with tg.no_grad():
            layer.weight.data[...] = W.T
            layer.bias.data[...] = b.reshape(-1)
        layers.append(layer)
        if i < len(weights) - 1:
            layers.append(activation())
    return nn.Sequential(*layers)


def surface_tinygrad(s: dict) -> Callable[[], float]:
    model = _linear_stack(s["weights"], s["biases"], nn.ReLU)
    optimizer = optim.SGD(model.parameters(), lr=s["lr"])
    X, y = tg.Tensor(s["X"]), tg.Tensor(s["y"])

    def step() -> float:
        loss = 0.5 * F.mse_loss(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def _torch_stack(weights: list, biases: list, activation: Any) -> Any:
    import torch

    layers = []
    for i, (W, b) in enumerate(zip(weights, biases)):
        layer = torch.nn.Linear(W.shape[0], W.shape[1], dtype=torch.float64)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(W.T.copy()))
            layer.bias.copy_(torch.from_numpy(b.reshape(-1).copy()))
        layers.append(layer)
        if i < len(weights) - 1:
            layers.append(activation())
    return torch.nn.Sequential(*layers)


def surface_torch(s: dict) -> Callable[[], float]:
    import torch

    model = _torch_stack(s["weights"], s["biases"], torch.nn.ReLU)
    optimizer = torch.optim.SGD(model.parameters(), lr=s["lr"])
    X, y = _torch_tensor(s["X"]), _torch_tensor(s["y"])

    def step() -> float:
        loss = 0.5 * torch.nn.functional.mse_loss(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


# ---- W2 and W2K: 001's digits networks -----------------------------------------------------


def digits_setup() -> dict:
    """The digits data as 001 prepares it (MinMax scaling, one-hot, 80/20 split with
    random_state=42), and initial weights for both of its networks."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = digits.data / 16.0  # MinMax scaling: every pixel ranges over 0..16
    labels = digits.target
    X_train, _, y_train, _ = train_test_split(X, labels, test_size=0.2, random_state=42)
    onehot = np.eye(10)[y_train]
    rng = np.random.default_rng(0)
    sigmoid_net = (
        [rng.standard_normal((64, 64)), rng.standard_normal((64, 10))],
        [np.zeros((1, 64)), np.zeros((1, 10))],
    )
    limit1, limit2 = np.sqrt(6 / (64 + 64)), np.sqrt(6 / (64 + 10))  # Keras' glorot_uniform
    relu_net = (
        [rng.uniform(-limit1, limit1, (64, 64)), rng.uniform(-limit2, limit2, (64, 10))],
        [np.zeros((1, 64)), np.zeros((1, 10))],
    )
    return {
        "X": X_train,
        "labels": y_train,
        "onehot": onehot,
        "sigmoid_net": sigmoid_net,
        "relu_net": relu_net,
    }


def digits_numpy(s: dict) -> Callable[[], float]:
    """001's NeuralNetwork with its categorical cross-entropy branch, lr 0.1."""
    X, Y = s["X"], s["onehot"]
    params = [a.copy() for part in s["sigmoid_net"] for a in part]  # W1, W2, b1, b2
    m, lr = len(X), 0.1

    def step() -> float:
        W1, W2, b1, b2 = params
        a1 = 1 / (1 + np.exp(-(X @ W1 + b1)))
        z2 = a1 @ W2 + b2
        e = np.exp(z2 - z2.max(axis=1, keepdims=True))
        a2 = e / e.sum(axis=1, keepdims=True)
        loss = -np.sum(Y * np.log(a2)) / m
        dz2 = a2 - Y
        dz1 = dz2 @ W2.T * (a1 * (1 - a1))
        grads = [
            X.T @ dz1 / m,
            a1.T @ dz2 / m,
            dz1.sum(axis=0, keepdims=True) / m,
            dz2.sum(axis=0, keepdims=True) / m,
        ]
        for p, g in zip(params, grads):
            p -= lr * g
        return float(loss)

    return step


def digits_tinygrad(s: dict) -> Callable[[], float]:
    model = _linear_stack(*s["sigmoid_net"], nn.Sigmoid)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    X, labels = tg.Tensor(s["X"]), tg.Tensor(s["labels"])

    def step() -> float:
        loss = F.cross_entropy(model(X), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def digits_torch(s: dict) -> Callable[[], float]:
    import torch

    model = _torch_stack(*s["sigmoid_net"], torch.nn.Sigmoid)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    X, labels = _torch_tensor(s["X"]), torch.tensor(s["labels"])

    def step() -> float:
        loss = torch.nn.functional.cross_entropy(model(X), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


BATCH = 32
ADAM = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7}


def keras_numpy(s: dict) -> Callable[[], float]:
    """The Keras twin by hand: ReLU, softmax cross-entropy, Adam (PyTorch's rule), mini-batches
    in a fixed order; returns the mean loss over the epoch's batches."""
    X, Y = s["X"], s["onehot"]
    params = [a.copy() for part in s["relu_net"] for a in part]  # W1, W2, b1, b2
    moments = [np.zeros_like(p) for p in params]
    squares = [np.zeros_like(p) for p in params]
    beta1, beta2 = ADAM["betas"]
    lr, eps = ADAM["lr"], ADAM["eps"]
    t = 0

    def step() -> float:
        nonlocal t
        total = 0.0
        for start in range(0, len(X), BATCH):
            x, y = X[start : start + BATCH], Y[start : start + BATCH]
            W1, W2, b1, b2 = params
            z1 = x @ W1 + b1
            a1 = np.maximum(z1, 0)
            z2 = a1 @ W2 + b2
            shifted = z2 - z2.max(axis=1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            n = len(x)
            total += -np.sum(y * log_probs) / n
            dz2 = (np.exp(log_probs) - y) / n
            dz1 = dz2 @ W2.T * (z1 > 0)
            grads = [
                x.T @ dz1,
                a1.T @ dz2,
                dz1.sum(axis=0, keepdims=True),
                dz2.sum(axis=0, keepdims=True),
            ]
            t += 1
            for p, g, m, v in zip(params, grads, moments, squares):
                m *= beta1
                m += (1 - beta1) * g
                v *= beta2
                v += (1 - beta2) * g * g
                denom = np.sqrt(v / (1 - beta2**t)) + eps
                p -= lr / (1 - beta1**t) * m / denom
        return total / int(np.ceil(len(X) / BATCH))

    return step


def keras_tinygrad(s: dict) -> Callable[[], float]:
    model = _linear_stack(*s["relu_net"], nn.ReLU)
    optimizer = optim.Adam(model.parameters(), **ADAM)
    loader = tg.data.DataLoader(tg.data.TensorDataset(s["X"], s["labels"]), batch_size=BATCH)

    def step() -> float:
        total = 0.0
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        return total / len(loader)

    return step


def keras_torch(s: dict) -> Callable[[], float]:
    import torch

    model = _torch_stack(*s["relu_net"], torch.nn.ReLU)
    optimizer = torch.optim.Adam(model.parameters(), **ADAM)
    X, labels = _torch_tensor(s["X"]), torch.tensor(s["labels"])

    def step() -> float:
        total = 0.0
        for start in range(0, len(X), BATCH):
            loss = torch.nn.functional.cross_entropy(
                model(X[start : start + BATCH]), labels[start : start + BATCH]
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        return total / int(np.ceil(len(X) / BATCH))

    return step


# ---- W3: 002's perceptron --------------------------------------------------------------------


def perceptron_setup() -> dict:
    np.random.seed(42)
    return {
        "X": np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64),
        "y": np.array([[0], [0], [1], [1]], dtype=np.float64),
        "w": 2 * np.random.random((3, 1)) - 1,
    }


def perceptron_numpy(s: dict) -> Callable[[], float]:
    """002's update, weights += X.T @ (error * out * (1 - out))."""
    X, y, w = s["X"], s["y"], s["w"].copy()

    def step() -> float:
        out = 1 / (1 + np.exp(-(X @ w)))
        error = y - out
        w[...] += X.T @ (error * out * (1 - out))
        return float(0.5 * np.sum(error**2))

    return step


def perceptron_tinygrad(s: dict) -> Callable[[], float]:
    X, y = tg.Tensor(s["X"]), tg.Tensor(s["y"])
    w = tg.Tensor(s["w"], requires_grad=True)
    optimizer = optim.SGD([w], lr=1.0)

    def step() -> float:
        loss = 0.5 * ((y - (X @ w).sigmoid()) ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def perceptron_torch(s: dict) -> Callable[[], float]:
    import torch

    X, y = _torch_tensor(s["X"]), _torch_tensor(s["y"])
    w = _torch_tensor(s["w"], requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=1.0)

    def step() -> float:
        loss = 0.5 * ((y - torch.sigmoid(X @ w)) ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def perceptron_micrograd(s: dict) -> Callable[[], float]:
    import micrograd.engine as micrograd_engine

    Value = micrograd_engine.Value
    X, y = s["X"].tolist(), s["y"].ravel().tolist()
    w = [Value(float(v)) for v in s["w"].ravel()]

    def sigmoid(v: Any) -> Any:
        """micrograd's pip release has no exp; this one is written the way its ops are."""
        out = Value(1 / (1 + math.exp(-v.data)), (v,), "sigmoid")

        def _backward() -> None:
            v.grad += out.data * (1 - out.data) * out.grad

        out._backward = _backward
        return out

    def step() -> float:
        outs = [sigmoid(sum((wi * xi for wi, xi in zip(w, row)), Value(0.0))) for row in X]
        loss = 0.5 * sum(((yi - o) ** 2 for yi, o in zip(y, outs)), Value(0.0))
        for p in w:
            p.grad = 0.0
        loss.backward()
        for p in w:
            p.data -= 1.0 * p.grad
        return loss.data

    return step


# ---- W4: micrograd's demo MLP ----------------------------------------------------------------


def moons_setup(n: int = 100) -> dict:
    """Two interleaved half circles with noise (the shape of scikit-learn's make_moons), labels
    -1 / +1, and initial weights uniform(-1, 1) for a 2-16-16-1 ReLU network."""
    rng = np.random.default_rng(1)
    angles = np.linspace(0, np.pi, n // 2)
    upper = np.column_stack([np.cos(angles), np.sin(angles)])
    lower = np.column_stack([1 - np.cos(angles), 0.5 - np.sin(angles)])
    X = np.vstack([upper, lower]) + rng.normal(0, 0.1, (n, 2))
    y = np.concatenate([-np.ones(n // 2), np.ones(n // 2)])
    sizes = [2, 16, 16, 1]
    weights = [rng.uniform(-1, 1, (a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [np.zeros((1, b)) for b in sizes[1:]]
    return {"X": X, "y": y, "weights": weights, "biases": biases, "alpha": 1e-4, "lr": 0.5}


def moons_numpy(s: dict) -> Callable[[], float]:
    """The demo by hand with matrices: SVM max-margin loss + L2 regularisation."""
    X, y, alpha, lr = s["X"], s["y"].reshape(-1, 1), s["alpha"], s["lr"]
    weights = [w.copy() for w in s["weights"]]
    biases = [b.copy() for b in s["biases"]]
    n = len(X)

    def step() -> float:
        inputs, pre = [X], []
        for i, (W, b) in enumerate(zip(weights, biases)):
            Z = inputs[-1] @ W + b
            pre.append(Z)
            inputs.append(Z if i == len(weights) - 1 else np.maximum(Z, 0))
        margins = 1 - y * inputs[-1]
        reg = sum((p * p).sum() for p in weights + biases)
        loss = np.maximum(margins, 0).mean() + alpha * reg
        dA = -y * (margins > 0) / n
        for i in reversed(range(len(weights))):
            dZ = dA if i == len(weights) - 1 else dA * (pre[i] > 0)
            dW = inputs[i].T @ dZ + 2 * alpha * weights[i]
            db = dZ.sum(axis=0, keepdims=True) + 2 * alpha * biases[i]
            if i > 0:
                dA = dZ @ weights[i].T
            weights[i] -= lr * dW
            biases[i] -= lr * db
        return float(loss)

    return step


def moons_tinygrad_matrices(s: dict) -> Callable[[], float]:
    model = _linear_stack(s["weights"], s["biases"], nn.ReLU)
    optimizer = optim.SGD(model.parameters(), lr=s["lr"])
    X, y = tg.Tensor(s["X"]), tg.Tensor(s["y"].reshape(-1, 1))

    def step() -> float:
        data_loss = (1 - y * model(X)).relu().mean()
        reg_loss = s["alpha"] * sum((p * p).sum() for p in model.parameters())
        loss = data_loss + reg_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


class _TapeValue:
    """A value on the bare tape: its array, its gradient, and how it was made."""

    __slots__ = ("data", "grad", "parents", "backward")

    def __init__(self, data: Any, parents: tuple = (), backward: Any = None) -> None:
        self.data, self.grad, self.parents, self.backward = data, None, parents, backward


def moons_bare_tape(s: dict) -> Callable[[], float]:
    """The same matrices through the least an autograd engine in Python can do: one node per
    operation, appended to a list (the tape) as it runs, each with a closure for its local
    derivatives; backward walks the tape from its end, and the graph goes with the tape. No
    grad mode, no checks of shapes or dtypes, no modules, no hooks, no release node by node.
    It is the floor for an engine of tinygrad_edu's kind, as hand-written NumPy is the floor
    for any NumPy engine."""
    tape: list[_TapeValue] = []

    def record(data: Any, parents: tuple, backward: Any) -> _TapeValue:
        value = _TapeValue(data, parents, backward)
        tape.append(value)
        return value

    def linear(x, w, b):  # x @ w + b, w of shape (in, out)
        return record(
            x.data @ w.data + b.data,
            (x, w, b),
            lambda g: (g @ w.data.T, x.data.T @ g, g.sum(axis=0, keepdims=True)),
        )

    def relu(x):
        out = np.maximum(x.data, 0)
        return record(out, (x,), lambda g: (g * (out > 0),))

    def mul(a, b):
        return record(a.data * b.data, (a, b), lambda g: (g * b.data, g * a.data))

    def one_minus(a):  # 1 - a
        return record(1 - a.data, (a,), lambda g: (-g,))

    def scale(c, a):  # c * a for a constant c
        return record(c * a.data, (a,), lambda g: (c * g,))

    def add(a, b):
        return record(a.data + b.data, (a, b), lambda g: (g, g))

    def sum_all(a):
        return record(a.data.sum(), (a,), lambda g: (np.full(a.data.shape, g),))

    def backward(loss: _TapeValue) -> None:
        grads = {id(loss): 1.0}
        for value in reversed(tape):
            grad = grads.pop(id(value), None)
            if grad is None or value.backward is None:
                continue
            for parent, parent_grad in zip(value.parents, value.backward(grad)):
                key = id(parent)
                grads[key] = grads[key] + parent_grad if key in grads else parent_grad
        for param in params:
            param.grad = grads.get(id(param))
        tape.clear()

    weights = [_TapeValue(w.copy()) for w in s["weights"]]
    biases = [_TapeValue(b.copy()) for b in s["biases"]]
    params = weights + biases
    X, y = _TapeValue(s["X"]), _TapeValue(s["y"].reshape(-1, 1))
    n = len(s["X"])

    def step() -> float:
        out = X
        for i, (w, b) in enumerate(zip(weights, biases)):
            out = linear(out, w, b)
            out = relu(out) if i < len(weights) - 1 else out
        margins = one_minus(mul(y, out))
        data_loss = scale(1 / n, sum_all(relu(margins)))
        penalty = sum_all(mul(params[0], params[0]))
        for p in params[1:]:
            penalty = add(penalty, sum_all(mul(p, p)))
        loss = add(data_loss, scale(s["alpha"], penalty))
        backward(loss)
        for p in params:
            p.data -= s["lr"] * p.grad
        return float(loss.data)

    return step


def moons_torch(s: dict) -> Callable[[], float]:
    import torch

    model = _torch_stack(s["weights"], s["biases"], torch.nn.ReLU)
    optimizer = torch.optim.SGD(model.parameters(), lr=s["lr"])
    X, y = _torch_tensor(s["X"]), _torch_tensor(s["y"].reshape(-1, 1))

    def step() -> float:
        loss = (1 - y * model(X)).relu().mean() + s["alpha"] * sum(
            (p * p).sum() for p in model.parameters()
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def _scalar_mlp(s: dict, value: Callable[[float], Any]) -> tuple[list, list]:
    """Per-neuron scalar parameters: layers[l][j] = (weights into neuron j, its bias)."""
    layers = []
    for W, b in zip(s["weights"], s["biases"]):
        layers.append(
            [
                ([value(float(W[i, j])) for i in range(W.shape[0])], value(float(b[0, j])))
                for j in range(W.shape[1])
            ]
        )
    params = [p for layer in layers for ws, b in layer for p in (*ws, b)]
    return layers, params


def _scalar_step(
    s: dict,
    layers: list,
    params: list,
    relu: Callable,
    backward_and_update: Callable,
    data: Callable,
) -> Callable[[], float]:
    X, y, alpha = s["X"].tolist(), s["y"].tolist(), s["alpha"]

    def forward(row: list) -> Any:
        values = row
        for depth, layer in enumerate(layers):
            outs = []
            for ws, b in layer:
                act = b
                for wi, xi in zip(ws, values):
                    act = act + wi * xi
                outs.append(relu(act) if depth < len(layers) - 1 else act)
            values = outs
        return values[0]

    def step() -> float:
        scores = [forward(row) for row in X]
        data_loss = None
        for yi, score in zip(y, scores):
            term = relu(1 + (-yi) * score)
            data_loss = term if data_loss is None else data_loss + term
        data_loss = data_loss * (1.0 / len(X))
        reg = None
        for p in params:
            reg = p * p if reg is None else reg + p * p
        loss = data_loss + alpha * reg
        backward_and_update(loss)
        return data(loss)

    return step


def moons_tinygrad_scalars(s: dict) -> Callable[[], float]:
    """Neuron by neuron on 0-d tensors, exactly as micrograd builds it."""
    layers, params = _scalar_mlp(s, lambda v: tg.Tensor(v, requires_grad=True))
    optimizer = optim.SGD(params, lr=s["lr"])

    def backward_and_update(loss: Any) -> None:
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return _scalar_step(
        s, layers, params, lambda v: v.relu(), backward_and_update, lambda v: v.item()
    )


def moons_micrograd(s: dict) -> Callable[[], float]:
    import micrograd.engine as micrograd_engine

    layers, params = _scalar_mlp(s, micrograd_engine.Value)

    def backward_and_update(loss: Any) -> None:
        for p in params:
            p.grad = 0.0
        loss.backward()
        for p in params:
            p.data -= s["lr"] * p.grad

    return _scalar_step(
        s, layers, params, lambda v: v.relu(), backward_and_update, lambda v: v.data
    )


# ---- W5: a long chain of scalar operations ---------------------------------------------------

CHAIN = 100_000


def chain_setup() -> dict:
    return {"x": 0.5, "scale": 1.000001, "shift": 1e-6}


def chain_numpy(s: dict) -> Callable[[], float]:
    """The chain by hand: forward keeps nothing it need not (the derivative of y*c is c, of
    y+c is 1), backward multiplies the local derivatives."""
    scale, shift = np.float64(s["scale"]), np.float64(s["shift"])
    x = np.float64(s["x"])

    def step() -> float:
        y = x
        for _ in range(CHAIN // 2):
            y = y * scale
            y = y + shift
        grad = np.float64(1.0)
        for _ in range(CHAIN // 2):
            grad = grad * scale
        return float(y + grad)

    return step


def chain_tinygrad(s: dict) -> Callable[[], float]:
    def step() -> float:
        x = tg.Tensor(s["x"], requires_grad=True)
        y = x
        for _ in range(CHAIN // 2):
            y = y * s["scale"]
            y = y + s["shift"]
        y.backward()
        return y.item() + x.grad.item()

    return step


def chain_torch(s: dict) -> Callable[[], float]:
    def step() -> float:
        x = _torch_tensor(np.array(s["x"]), requires_grad=True)
        y = x
        for _ in range(CHAIN // 2):
            y = y * s["scale"]
            y = y + s["shift"]
        y.backward()
        return y.item() + x.grad.item()

    return step


def chain_micrograd(s: dict) -> Callable[[], float]:
    """micrograd sorts its graph recursively: it needs the recursion limit raised, which is
    restored after each step."""
    import micrograd.engine as micrograd_engine

    def step() -> float:
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(CHAIN * 2 + 1000)
        try:
            x = micrograd_engine.Value(s["x"])
            y = x
            for _ in range(CHAIN // 2):
                y = y * s["scale"]
                y = y + s["shift"]
            y.backward()
            return y.data + x.grad
        finally:
            sys.setrecursionlimit(limit)

    return step


# ---- the table of workloads ------------------------------------------------------------------


def _available(contestants: dict) -> dict:
    """Drop the contestants whose library is not installed."""
    needs = {"pytorch": "torch", "micrograd": "micrograd"}
    return {
        name: make for name, make in contestants.items() if _installed(needs.get(name, "numpy"))
    }


def all_workloads() -> list[Workload]:
    """Every workload whose reference contestant is installed."""
    workloads = [
        Workload(
            "W1",
            "000's [2,64,64,64,1] ReLU MLP, 10,000 samples, full-batch GD epoch",
            surface_setup,
            _available(
                {"numpy": surface_numpy, "tinygrad_edu": surface_tinygrad, "pytorch": surface_torch}
            ),
            repeats=15,
            targets=[("tinygrad_edu", "numpy", 1.0)],
        ),
        Workload(
            "W2",
            "001's 64-64(sigmoid)-10 digits net, full-batch epoch, softmax CE",
            digits_setup,
            _available(
                {"numpy": digits_numpy, "tinygrad_edu": digits_tinygrad, "pytorch": digits_torch}
            ),
            repeats=30,
            targets=[("tinygrad_edu", "numpy", 1.2)],
        ),
        Workload(
            "W2K",
            "001's Keras twin: 64-64(ReLU)-10, Adam, 45 mini-batches of 32",
            digits_setup,
            _available(
                {"numpy": keras_numpy, "tinygrad_edu": keras_tinygrad, "pytorch": keras_torch}
            ),
            repeats=15,
            targets=[("tinygrad_edu", "numpy", 2.0)],
        ),
        Workload(
            "W3",
            "002's perceptron, 4 samples, one GD step",
            perceptron_setup,
            _available(
                {
                    "numpy": perceptron_numpy,
                    "tinygrad_edu": perceptron_tinygrad,
                    "pytorch": perceptron_torch,
                    "micrograd": perceptron_micrograd,
                }
            ),
            repeats=300,
            targets=[("tinygrad_edu", "micrograd", 0.6)],
        ),
        Workload(
            "W4",
            "micrograd's demo MLP 2-16-16-1 on 100 points, one SGD step",
            moons_setup,
            _available(
                {
                    "numpy": moons_numpy,
                    "tinygrad_edu (matrices)": moons_tinygrad_matrices,
                    "bare tape": moons_bare_tape,
                    "pytorch": moons_torch,
                    "tinygrad_edu (scalars)": moons_tinygrad_scalars,
                    "micrograd": moons_micrograd,
                }
            ),
            repeats=10,  # the steps of 1 s; the others run for MIN_SECONDS per process
            targets=[
                ("tinygrad_edu (scalars)", "micrograd", 0.5),
                ("tinygrad_edu (matrices)", "pytorch", 0.7),
            ],
        ),
        Workload(
            "W5",
            "a chain of 100,000 scalar ops, built and backpropagated",
            chain_setup,
            _available(
                {
                    "numpy": chain_numpy,
                    "tinygrad_edu": chain_tinygrad,
                    "pytorch": chain_torch,
                    "micrograd": chain_micrograd,
                }
            ),
            repeats=5,
            targets=[("tinygrad_edu", "pytorch", 0.7)],
        ),
        *curriculum_workloads(),
    ]
    return [w for w in workloads if w.reference in w.contestants]


def curriculum_workloads() -> list[Workload]:
    """W6-W8, the lectures' networks in float32 (``curriculum.py``). Their losses agree to
    within one float32 rounding (about 1e-7 relatively) over the first eight steps; the
    tolerance, 1e-6, leaves room for a few more roundings, not for a wrong gradient. Each
    target: tinygrad_edu at most PyTorch's time."""

    def lecture(
        name: str, title: str, setup: Callable, contestants: dict, **options: Any
    ) -> Workload:
        return Workload(
            name,
            title,
            setup,
            _available(contestants),
            targets=[("tinygrad_edu", "pytorch", 1.0)],
            rtol=1e-6,
            **options,
        )

    return [
        lecture(
            "W6",
            "makemore MLP + BatchNorm: 3x10 -> 200 -> 27, batch 32, SGD step (float32)",
            curriculum.makemore_setup,
            {
                "numpy": curriculum.makemore_numpy,
                **curriculum.contestants(curriculum.makemore_library),
            },
            repeats=200,
        ),
        lecture(
            "W7",
            "digits CNN 1-8-16 channels, one Adam epoch of 22 batches of 64 (float32)",
            curriculum.cnn_setup,
            curriculum.contestants(curriculum.cnn_library),
            repeats=10,
            reference="pytorch",
        ),
        lecture(
            "W8",
            "tiny GPT: 2 blocks, width 64, 4 heads, context 32, batch 16, AdamW step (float32)",
            curriculum.gpt_setup,
            {"numpy": curriculum.gpt_numpy, **curriculum.contestants(curriculum.gpt_library)},
            repeats=30,
            reference="pytorch",
        ),
    ]
