"""micrograd's lecture, written for PyTorch: a graph of scalars, a neuron, and a small MLP of
scalar neurons trained with ``p.data += -lr * p.grad``.

    python demos/lectures/micrograd.py            # on tinygrad_edu
    python demos/lectures/micrograd.py --torch    # the same code on PyTorch
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pick import libraries  # noqa: E402


def run(use_torch: bool = False, steps: int = 20) -> dict:
    torch, F = libraries(use_torch)
    torch.set_default_dtype(torch.float64)  # micrograd's numbers are Python floats

    # ---- a graph of scalars: L = (a * b + c) * f
    a = torch.tensor(2.0, requires_grad=True)
    b = torch.tensor(-3.0, requires_grad=True)
    c = torch.tensor(10.0, requires_grad=True)
    f = torch.tensor(-2.0, requires_grad=True)
    e = a * b
    d = e + c
    L = d * f
    L.backward()
    graph = {"L": L.item(), "dL/da": a.grad.item(), "dL/db": b.grad.item(), "dL/dc": c.grad.item()}

    # ---- a neuron: o = tanh(x1 w1 + x2 w2 + b)
    x1 = torch.tensor([2.0], requires_grad=True)
    x2 = torch.tensor([0.0], requires_grad=True)
    w1 = torch.tensor([-3.0], requires_grad=True)
    w2 = torch.tensor([1.0], requires_grad=True)
    bias = torch.tensor([6.8813735870195432], requires_grad=True)
    n = x1 * w1 + x2 * w2 + bias
    o = torch.tanh(n)
    o.backward()
    neuron = {"o": o.data.item(), "x1.grad": x1.grad.item(), "w1.grad": w1.grad.item()}

    # ---- an MLP of scalar neurons, trained by hand
    random.seed(1337)

    class Neuron:
        def __init__(self, nin):
            self.w = [torch.tensor(random.uniform(-1, 1), requires_grad=True) for _ in range(nin)]
            self.b = torch.tensor(random.uniform(-1, 1), requires_grad=True)

        def __call__(self, x):
            act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
            return act.tanh()

        def parameters(self):
            return self.w + [self.b]

    class Layer:
        def __init__(self, nin, nout):
            self.neurons = [Neuron(nin) for _ in range(nout)]

        def __call__(self, x):
            outs = [n(x) for n in self.neurons]
            return outs[0] if len(outs) == 1 else outs

        def parameters(self):
            return [p for neuron in self.neurons for p in neuron.parameters()]

    class MLP:
        def __init__(self, nin, nouts):
            sizes = [nin] + nouts
            self.layers = [Layer(sizes[i], sizes[i + 1]) for i in range(len(nouts))]

        def __call__(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

        def parameters(self):
            return [p for layer in self.layers for p in layer.parameters()]

    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    model = MLP(3, [4, 4, 1])
    losses = []
    for _ in range(steps):
        ypred = [model(x) for x in xs]
        loss = sum((yout - ygt) ** 2 for ygt, yout in zip(ys, ypred))
        for p in model.parameters():
            p.grad = None
        loss.backward()
        for p in model.parameters():
            p.data += -0.05 * p.grad
        losses.append(loss.item())
        print(f"step {len(losses):2d}  loss {loss.item():.6f}")
    return {"graph": graph, "neuron": neuron, "losses": losses}


if __name__ == "__main__":
    result = run("--torch" in sys.argv)
    print("graph:", result["graph"])
    print("neuron:", result["neuron"])
