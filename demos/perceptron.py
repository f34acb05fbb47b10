"""A one-layer perceptron trained by gradient descent (the 002 article), with autograd.

The article computes its weight update by hand: ``weights += X.T @ (error * out * (1 - out))``.
That is gradient descent with learning rate 1 on the loss ``0.5 * sum((y - out)**2)``; here the
engine derives the same gradient from the loss, and the run reproduces the article's printed
output to 8 decimals.

    python demos/perceptron.py
"""

from __future__ import annotations

import argparse

import numpy as np

import tinygrad_edu as tg

INPUTS = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
TARGETS = np.array([[0], [0], [1], [1]], dtype=np.float64)
ARTICLE_OUTPUT = np.array([[0.00966808], [0.00786589], [0.99358863], [0.99211705]])


def initial_weights() -> np.ndarray:
    """The article's weights: NumPy's legacy generator seeded with 42, uniform on [-1, 1)."""
    np.random.seed(42)
    return 2 * np.random.random((3, 1)) - 1


def train(steps: int = 10_000, lr: float = 1.0, log_every: int = 1000) -> np.ndarray:
    """Run ``steps`` steps of gradient descent; return the output of the last forward pass
    (the article prints the output computed just before its last update)."""
    X, y = tg.Tensor(INPUTS), tg.Tensor(TARGETS)
    weights = tg.Tensor(initial_weights(), requires_grad=True, name="weights")
    for step in range(steps):
        out = (X @ weights).sigmoid()
        loss = 0.5 * ((y - out) ** 2).sum()
        if log_every and step % log_every == 0:
            print(f"step {step:5d}: mean |error| = {np.mean(np.abs(TARGETS - out.data)):.8f}")
        weights.grad = None
        loss.backward()
        with tg.no_grad():
            weights -= lr * weights.grad
    return out.data


def main(argv: list[str] | None = None) -> np.ndarray:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="accepted for uniformity; the run is already quick")
    parser.add_argument("--out", help="unused: this demo draws no pictures")
    args = parser.parse_args(argv)
    output = train(args.steps)
    print("Output after training:")
    print(np.array2string(output, precision=8, floatmode="fixed"))
    if args.steps == 10_000:
        same = np.array_equal(np.round(output, 8), ARTICLE_OUTPUT)
        print("matches the article's printed output to 8 decimals:", same)
    return output


if __name__ == "__main__":
    main()
