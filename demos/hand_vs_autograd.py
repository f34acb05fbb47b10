"""Hand-derived gradients against autograd: the 001 article's NeuralNetwork.backward, checked.

The article's network has one sigmoid hidden layer; its output is a softmax for the
``'categorical_crossentropy'`` loss and a sigmoid otherwise. Its ``backward`` derives the
gradients by hand, starting from an output error ``dz2`` (dL/dz2, z2 the output's
pre-activation) that depends on the loss:

    'categorical_crossentropy'   dz2 = a2 - y
    'mse'                        dz2 = a2 - y
    'log_loss'                   dz2 = -(y / a2 - (1 - y) / (1 - a2))

and then, for every branch, dW2 = a1^T dz2 / m, db2 = sum(dz2) / m,
dz1 = dz2 W2^T * a1 (1 - a1), dW1 = X^T dz1 / m, db1 = sum(dz1) / m.

Each branch is the gradient of a loss averaged over the m examples and summed over the outputs:

    'categorical_crossentropy'   L = -mean_i sum_k y log a2          (a2 = softmax(z2))
    'mse'                        L = mean_i sum_k (a2 - y)^2 / 2     (a2 = sigmoid(z2))
    'log_loss'                   L = -mean_i sum_k [y log a2 + (1 - y) log(1 - a2)]

Softmax with cross-entropy does give dL/dz2 = a2 - y. The other two branches are dL/da2, not
dL/dz2: they leave out the sigmoid's derivative a2 (1 - a2). (The ``'mse'`` one is even the
right answer for ``'log_loss'``: sigmoid with cross-entropy gives a2 - y too.)

The engine differentiates the same three losses with no derivation at all, and ``tg.gradcheck``
referees: finite differences agree with the engine on every branch, and with the article's
hand-derived gradient only where that gradient is right.

    python demos/hand_vs_autograd.py
"""

from __future__ import annotations

import _common
import numpy as np

import tinygrad_edu as tg

BRANCHES = ("categorical_crossentropy", "mse", "log_loss")
PARAMETERS = ("weights1", "bias1", "weights2", "bias2")
# Sizes of the check: a small batch is enough, and keeps the finite differences fast.
N_EXAMPLES, N_INPUTS, N_HIDDEN, N_OUTPUTS = 8, 5, 6, 3


def example(seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """A batch, targets and weights like the article's (weights from randn). The targets are
    one-hot rows: classes for the softmax, and 0/1 labels that the sigmoid branches can fit."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (N_EXAMPLES, N_INPUTS))
    y = np.eye(N_OUTPUTS)[rng.integers(0, N_OUTPUTS, N_EXAMPLES)]
    params = {
        "weights1": rng.standard_normal((N_INPUTS, N_HIDDEN)),
        "bias1": rng.standard_normal((1, N_HIDDEN)) * 0.1,
        "weights2": rng.standard_normal((N_HIDDEN, N_OUTPUTS)),
        "bias2": rng.standard_normal((1, N_OUTPUTS)) * 0.1,
    }
    return X, y, params


# ---- the article's network and its hand-derived backward, in NumPy -----------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def article_forward(X: np.ndarray, p: dict[str, np.ndarray], loss_func: str):
    """Sigmoid hidden layer; softmax output for categorical cross-entropy, else sigmoid."""
    a1 = _sigmoid(X @ p["weights1"] + p["bias1"])
    z2 = a1 @ p["weights2"] + p["bias2"]
    a2 = _softmax(z2) if loss_func == "categorical_crossentropy" else _sigmoid(z2)
    return a1, a2


def article_loss(a2: np.ndarray, y: np.ndarray, loss_func: str) -> float:
    """The loss each branch's dz2 is meant to be the gradient of (see the module docstring)."""
    m = len(y)
    if loss_func == "categorical_crossentropy":
        return -np.sum(y * np.log(a2)) / m
    if loss_func == "mse":
        return np.sum((a2 - y) ** 2) / 2 / m
    return -np.sum(y * np.log(a2) + (1 - y) * np.log(1 - a2)) / m


def article_gradients(X, y, p, loss_func: str, fix_sigmoid: bool = False) -> dict[str, np.ndarray]:
    """The article's backward pass: output error dz2 by branch, then the chain rule by hand.

    ``fix_sigmoid=True`` multiplies the two sigmoid branches by the derivative they leave out.
    """
    m = len(X)
    a1, a2 = article_forward(X, p, loss_func)
    if loss_func == "categorical_crossentropy":
        dz2 = a2 - y
    elif loss_func == "mse":
        dz2 = a2 - y
    elif loss_func == "log_loss":
        dz2 = -(y / a2 - (1 - y) / (1 - a2))
    else:
        raise ValueError(f"unknown loss {loss_func!r}")
    if fix_sigmoid and loss_func != "categorical_crossentropy":
        dz2 = dz2 * a2 * (1 - a2)  # the sigmoid's derivative, written with its output
    dz1 = (dz2 @ p["weights2"].T) * a1 * (1 - a1)
    return {
        "weights2": a1.T @ dz2 / m,
        "bias2": dz2.sum(axis=0, keepdims=True) / m,
        "weights1": X.T @ dz1 / m,
        "bias1": dz1.sum(axis=0, keepdims=True) / m,
    }


# ---- the same network and losses on the engine ---------------------------------------------------


def engine_loss(X, y, weights1, bias1, weights2, bias2, loss_func: str) -> tg.Tensor:
    """The forward pass and loss with tensors: backward() derives every gradient."""
    a1 = (X @ weights1 + bias1).sigmoid()
    z2 = a1 @ weights2 + bias2
    m = X.shape[0]
    if loss_func == "categorical_crossentropy":
        # log_softmax is the stable way to write log(softmax(z2)).
        return -(y * z2.log_softmax(axis=1)).sum() / m
    a2 = z2.sigmoid()
    if loss_func == "mse":
        return ((a2 - y) ** 2).sum() / 2 / m
    return -(y * a2.log() + (1 - y) * (1 - a2).log()).sum() / m


def engine_gradients(X, y, p, loss_func: str) -> dict[str, np.ndarray]:
    params = {name: tg.Tensor(value, requires_grad=True) for name, value in p.items()}
    engine_loss(tg.Tensor(X), tg.Tensor(y), **params, loss_func=loss_func).backward()
    return {name: t.grad.numpy() for name, t in params.items()}


class ArticleLoss(tg.Function):
    """The article's loss as an operation of the engine, with the article's hand-derived
    backward: the way to write a new operation with a derivation of your own, and have
    ``tg.gradcheck`` check it."""

    @staticmethod
    def forward(ctx, weights1, bias1, weights2, bias2, X, y, loss_func):
        p = dict(zip(PARAMETERS, (weights1, bias1, weights2, bias2)))
        ctx.grads = article_gradients(X, y, p, loss_func)
        _, a2 = article_forward(X, p, loss_func)
        return np.asarray(article_loss(a2, y, loss_func))

    @staticmethod
    def backward(ctx, grad_output):
        return tuple(grad_output * ctx.grads[name] for name in PARAMETERS) + (None, None, None)


def _flat(grads: dict[str, np.ndarray]) -> np.ndarray:
    """All gradients of a network in one vector."""
    return np.concatenate([grads[name].ravel() for name in PARAMETERS])


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / ||b||: 0 when a equals b; 1 when a is, say, zero or of b's size but unrelated."""
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def check_branch(loss_func: str, seed: int = 0) -> dict:
    """Compare the hand-derived gradients of one branch with the engine's, and referee both."""
    X, y, p = example(seed)
    engine = engine_gradients(X, y, p, loss_func)
    hand = article_gradients(X, y, p, loss_func)
    fixed = article_gradients(X, y, p, loss_func, fix_sigmoid=True)

    params = [tg.Tensor(p[name], requires_grad=True) for name in PARAMETERS]
    Xt, yt = tg.Tensor(X), tg.Tensor(y)
    engine_agrees = tg.gradcheck(
        lambda *w: engine_loss(Xt, yt, *w, loss_func=loss_func), params, raise_exception=False
    )
    hand_agrees = tg.gradcheck(
        lambda *w: ArticleLoss.apply(*w, X, y, loss_func), params, raise_exception=False
    )
    return {
        "loss": loss_func,
        "relative_error": relative_error(_flat(hand), _flat(engine)),
        "per_parameter": {n: relative_error(hand[n], engine[n]) for n in PARAMETERS},
        "relative_error_with_sigmoid_derivative": relative_error(_flat(fixed), _flat(engine)),
        "gradcheck_engine": engine_agrees,
        "gradcheck_hand": hand_agrees,
        "hand_is_right": bool(hand_agrees),
    }


def main(argv: list[str] | None = None) -> dict[str, dict]:
    _common.parser(__doc__, _common.IMAGES).parse_args(argv)
    print(f"batch of {N_EXAMPLES} examples, network {N_INPUTS}-{N_HIDDEN}-{N_OUTPUTS}\n")
    header = (
        f"{'branch':<25} {'rel. error':>11} {'gradcheck':>10} {'gradcheck':>10} "
        f"{'with':>13}   verdict"
    )
    sub = f"{'':<25} {'hand/engine':>11} {'engine':>10} {'hand':>10} {'sigmoid deriv':>13}"
    print(header)
    print(sub)
    results = {}
    for branch in BRANCHES:
        r = check_branch(branch)
        results[branch] = r
        verdict = "right" if r["hand_is_right"] else "WRONG: leaves out the sigmoid's derivative"
        print(
            f"{branch:<25} {r['relative_error']:>11.2e} {str(r['gradcheck_engine']):>10} "
            f"{str(r['gradcheck_hand']):>10} {r['relative_error_with_sigmoid_derivative']:>13.1e}"
            f"   {verdict}"
        )
    print("\nrelative error of the hand-derived gradient, per parameter:")
    for branch, r in results.items():
        parts = ", ".join(f"{n} {e:.2e}" for n, e in r["per_parameter"].items())
        print(f"  {branch:<25} {parts}")
    return results


if __name__ == "__main__":
    main()
