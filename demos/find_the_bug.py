"""Find the bug: a hand-written activation with a wrong backward, and the tools that find it.

A small network learns to separate two interleaved half-moons. Its activation is "swish",
x * sigmoid(x), written by hand as a ``tg.Function``: forward is right, but the backward has
a sign error, s (1 - x (1 - s)) where the derivative is s (1 + x (1 - s)). Nothing crashes:
the network trains, only worse than it should, and its loss creeps *up* under gradient
descent. Then the debugging tools point at the culprit:

1. ``tg.gradcheck_graph`` checks every operation of the graph on its own and names the one
   whose backward disagrees with its forward: the op, its module, and the line that made it;
2. ``tg.trace_backward`` shows that operation's step of the chain rule next to the right one,
   and draws the backward pass frame by frame (SVG);
3. ``tg.detect_anomaly`` stops two other broken networks at their first NaN or infinity: a
   ``log`` of negative numbers (in forward) and a ``sqrt`` of ReLU outputs (in backward).

    python demos/find_the_bug.py     # writes out/find_the_bug/step_*.svg
"""

from __future__ import annotations

import _common
import numpy as np

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F
from tinygrad_edu import nn, optim

# ---- the activation, right and wrong -----------------------------------------------------------


class Swish(tg.Function):
    """swish(x) = x * s with s = sigmoid(x); swish'(x) = s + x s (1 - s) = s (1 + x (1 - s))."""

    @staticmethod
    def forward(ctx, x):
        s = 1 / (1 + np.exp(-x))
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, grad):
        x, s = ctx.saved_tensors
        return grad * s * (1 + x * (1 - s))


class BuggySwish(Swish):
    """The same forward; the backward has the sign error."""

    @staticmethod
    def backward(ctx, grad):
        x, s = ctx.saved_tensors
        return grad * s * (1 - x * (1 - s))  # the bug: should be 1 + x (1 - s)


class Activation(nn.Module):
    """A layer that applies a Function elementwise."""

    def __init__(self, function: type[tg.Function]) -> None:
        super().__init__()
        self.function = function

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        return self.function.apply(x)


def network(function: type[tg.Function], hidden: int = 16) -> nn.Sequential:
    tg.manual_seed(0)  # the same starting weights for both versions
    return nn.Sequential(
        nn.Linear(2, hidden),
        Activation(function),
        nn.Linear(hidden, hidden),
        Activation(function),
        nn.Linear(hidden, 2),
    )


def moons(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half-circles with a little noise, n points each."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    upper = np.stack([np.cos(t), np.sin(t)], axis=1)
    lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    X = np.concatenate([upper, lower]) + rng.normal(0, 0.1, (2 * n, 2))
    return X, np.repeat([0, 1], n)


# ---- 1. training: nothing crashes ---------------------------------------------------------------


def train(model: nn.Module, X: tg.Tensor, y: tg.Tensor, epochs: int) -> list[float]:
    """Full-batch gradient descent with momentum; the loss of each epoch."""
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def accuracy(model: nn.Module, X: tg.Tensor, y: np.ndarray) -> float:
    with tg.no_grad():
        return float((model(X).numpy().argmax(axis=1) == y).mean())


def training_part(X: tg.Tensor, labels: np.ndarray, epochs: int) -> dict:
    y = tg.Tensor(labels)
    results = {}
    print(f"1. Training on {len(labels)} points, {epochs} epochs of gradient descent\n")
    for function in (Swish, BuggySwish):
        model = network(function)
        losses = train(model, X, y, epochs)
        last = losses[-epochs // 3 :]
        rises = sum(b > a for a, b in zip(last, last[1:]))
        results[function.__name__] = {
            "losses": losses,
            "accuracy": accuracy(model, X, labels),
            "rises": rises,
        }
        marks = "  ".join(f"{losses[k]:.3f}" for k in range(0, epochs, max(epochs // 6, 1)))
        print(f"   {function.__name__:<10} loss {marks}  ... {losses[-1]:.4f}")
        print(
            f"   {'':<10} accuracy {results[function.__name__]['accuracy']:.1%}; "
            f"the loss went up in {rises} of the last {len(last) - 1} steps"
        )
    print(
        "\n   Gradient descent with a small step should lower the loss nearly every step.\n"
        "   A loss that stalls and climbs while nothing crashes: suspect a wrong gradient.\n"
    )
    return results


# ---- 2. which operation? -------------------------------------------------------------------------


def gradcheck_part(X: tg.Tensor, labels: np.ndarray) -> dict:
    print("2. tg.gradcheck_graph: every operation's backward against its own forward\n")
    model = network(BuggySwish)
    with tg.debug.record_origins():  # remember the line of code that made each operation
        loss = F.cross_entropy(model(X[:16]), tg.Tensor(labels[:16]))
    report = tg.gradcheck_graph(loss, model=model)
    print(_indent(str(report)))
    healthy = network(Swish)
    healthy_report = tg.gradcheck_graph(
        F.cross_entropy(healthy(X[:16]), tg.Tensor(labels[:16])), model=healthy
    )
    print(f"\n   the same check on the network with the right swish: ok = {healthy_report.ok}\n")
    return {"report": report, "healthy_ok": healthy_report.ok}


def trace_part(X: tg.Tensor, labels: np.ndarray, out, quick: bool) -> dict:
    print("3. tg.trace_backward: the chain rule step by step, on one example\n")
    model = network(BuggySwish, hidden=3)  # narrow, so that every vector is printed
    with tg.debug.record_origins():
        loss = F.cross_entropy(model(X[:1]), tg.Tensor(labels[:1]))
    loss.name = "L"
    trace = tg.trace_backward(loss, model=model)
    print(_indent(str(trace)))
    step = next(s for s in trace if s.op == "BuggySwish")
    x = step.input(step.inputs[0].name).value.values
    upstream = step.grad_output.values
    sent = step.inputs[0].grad.values
    s = 1 / (1 + np.exp(-x))
    right = upstream * s * (1 + x * (1 - s))
    print(
        f"\n   step {step.index}: {step.op} in module {step.module}, created at"
        f"\n{_indent(str(step.origin), 5)}"
        f"\n     input x          {_row(x)}"
        f"\n     dL/d(output)     {_row(upstream)}"
        f"\n     sent dL/dx       {_row(sent)}"
        f"\n     right dL/dx      {_row(right)}   = dL/d(output) * s (1 + x (1 - s))\n"
    )
    files = trace.render_frames(out / "find_the_bug")
    print(f"   {len(files)} frames of the backward pass written to {out / 'find_the_bug'}\n")
    return {"trace": trace, "step": step, "right": right, "files": files}


# ---- 4. NaN and infinity -----------------------------------------------------------------------


class LogFeatures(nn.Module):
    """A 'log-scale the features' layer: fine for positive inputs, NaN for negative ones."""

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        return x.log()


class SqrtFeatures(nn.Module):
    """Square roots of ReLU outputs: the forward is fine, but sqrt' = 1/(2 sqrt(0)) = inf."""

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        return x.relu().sqrt()


def anomaly_part(X: tg.Tensor, labels: np.ndarray) -> dict:
    print("4. tg.detect_anomaly: stop at the first NaN or infinity\n")
    y = tg.Tensor(labels)
    errors = {}
    for layer in (LogFeatures, SqrtFeatures):
        tg.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 8), layer(), nn.Linear(8, 2))
        with np.errstate(all="ignore"):  # without the tool: no error, only a useless number
            loss = F.cross_entropy(model(X), y)
            loss.backward()
        grad_norm = np.linalg.norm(model[0].weight.grad.numpy())
        print(f"   {layer.__name__}: loss {loss.item():.4f}, |grad of 0.weight| {grad_norm}")
        model.zero_grad()
        try:
            with tg.detect_anomaly():
                loss = F.cross_entropy(model(X), y)
                loss.backward()
        except tg.AnomalyError as error:
            errors[layer.__name__] = error
            print(_indent(f"with tg.detect_anomaly(): AnomalyError: {error}", 6) + "\n")
    return errors


# ---- running it ----------------------------------------------------------------------------------


def _row(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:+.5f}" for v in np.ravel(values)) + "]"


def _indent(text: str, spaces: int = 3) -> str:
    return "\n".join(" " * spaces + line for line in text.splitlines())


def main(argv: list[str] | None = None) -> dict:
    args = _common.parser(__doc__, _common.ROOT / "out").parse_args(argv)
    X_array, labels = moons(100)
    X = tg.Tensor(X_array)
    epochs = 150 if args.quick else 300
    with _common.one_blas_thread():
        training = training_part(X, labels, epochs)
    check = gradcheck_part(X, labels)
    traced = trace_part(X, labels, args.out, args.quick)
    errors = anomaly_part(X, labels)
    return {
        "training": training,
        "report": check["report"],
        "healthy_ok": check["healthy_ok"],
        "trace": traced["trace"],
        "swish_step": traced["step"],
        "right_swish_grad": traced["right"],
        "anomalies": errors,
        "files": traced["files"],
    }


if __name__ == "__main__":
    main()
