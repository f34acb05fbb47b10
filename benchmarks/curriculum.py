"""The lectures' networks as benchmark workloads (W6-W8), in float32 as PyTorch trains them.

W6  makemore's MLP with BatchNorm: batch 32, context 3, embedding 10, hidden 200, SGD step
W7  a small CNN on scikit-learn's digits: one Adam epoch of 22 mini-batches of 64
W8  a tiny nanoGPT: 2 pre-LayerNorm blocks of width 64 with 4 heads, context 32, one AdamW step

The tinygrad_edu and PyTorch contestants run literally the same code: each model and training
step is a function of the library module, called with ``tinygrad_edu`` or with ``torch`` as the
lecture scripts do (``import tinygrad_edu as torch``). Every contestant starts from the same
float32 weights, drawn in ``setup`` with a NumPy Generator and copied in with
``load_state_dict``, and trains on the same batches, in the same order.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
from collections.abc import Callable, Iterator
from functools import partial
from types import ModuleType
from typing import Any

import numpy as np

LIBRARIES = {"tinygrad_edu": "tinygrad_edu", "pytorch": "torch"}


def _library(name: str) -> tuple[ModuleType, ModuleType]:
    """``(torch, F)`` for a contestant: tinygrad_edu's modules or PyTorch's.

    PyTorch gets as many threads as OMP_NUM_THREADS says, which run.py sets for each timing
    process (``--threads``, 1 by default), and one where it is unset, as when the agreement
    is checked in run.py's own process or in the tests: on a small shared machine a second
    thread can make a step ten times slower."""
    module = LIBRARIES[name]
    torch = importlib.import_module(module)
    if name == "pytorch":
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    return torch, importlib.import_module(module + ".nn.functional")


@contextlib.contextmanager
def _float32(torch: ModuleType) -> Iterator[None]:
    """Make float32 the default dtype while the model is built (PyTorch's default already;
    tinygrad_edu's is float64), and restore the previous default afterwards, so that the
    other workloads, which run in the same process when agreement is checked, keep theirs."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _load(torch: ModuleType, model: Any, weights: dict[str, np.ndarray]) -> None:
    """Copy the shared initial weights into ``model``; its buffers (BatchNorm's running
    statistics) keep their initial values."""
    state = model.state_dict()
    state.update({key: torch.tensor(value) for key, value in weights.items()})
    model.load_state_dict(state)


def _trainer(
    library: str, build_model: Callable, weights: dict, build_optimizer: Callable
) -> tuple[ModuleType, Callable]:
    """The library's ``torch`` and a training step (`_train_step`) for the model
    ``build_model(torch, F)``, built in float32 with the shared ``weights``, and the optimizer
    ``build_optimizer(torch, model)``."""
    torch, F = _library(library)
    with _float32(torch):
        model = build_model(torch, F)
        _load(torch, model, weights)
        optimizer = build_optimizer(torch, model)
    return torch, _train_step(torch, F, model, optimizer)


def _train_step(torch: ModuleType, F: ModuleType, model: Any, optimizer: Any) -> Callable:
    """One step of the usual loop: forward, cross-entropy, zero_grad, backward, update."""

    def train(x: Any, y: Any) -> Any:
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    return train


# ---- W6: makemore's MLP with BatchNorm -------------------------------------------------------

MAKEMORE = {"vocab": 27, "context": 3, "embedding": 10, "hidden": 200, "batch": 32, "lr": 0.1}


def makemore_setup(examples: int = 5000, batches: int = 200) -> dict:
    """Random contexts and next characters (27 symbols, as makemore's names), ``batches``
    minibatches of indices into them (step k uses batch k modulo their number), and the
    network's weights as the lecture initialises them: embedding standard normal, W1 with
    Kaiming's tanh gain (5/3) / sqrt(fan_in), W2 and b2 small, BatchNorm's gain near 1."""
    c = MAKEMORE
    rng = np.random.default_rng(6)
    fan_in = c["context"] * c["embedding"]

    def normal(*shape: int, scale: float = 1.0, shift: float = 0.0) -> np.ndarray:
        return (rng.standard_normal(shape) * scale + shift).astype(np.float32)

    return {
        "X": rng.integers(0, c["vocab"], (examples, c["context"])),
        "Y": rng.integers(0, c["vocab"], examples),
        "batches": rng.integers(0, examples, (batches, c["batch"])),
        "weights": {
            "0.weight": normal(c["vocab"], c["embedding"]),
            "2.weight": normal(c["hidden"], fan_in, scale=(5 / 3) / fan_in**0.5),
            "3.weight": normal(c["hidden"], scale=0.1, shift=1.0),
            "3.bias": normal(c["hidden"], scale=0.1),
            "5.weight": normal(c["vocab"], c["hidden"], scale=0.1),
            "5.bias": normal(c["vocab"], scale=0.1),
        },
    }


def makemore_model(torch: ModuleType) -> Any:
    """Embedding -> flatten the context -> Linear (no bias: BatchNorm's shift replaces it)
    -> BatchNorm1d -> tanh -> Linear to the logits."""
    nn, c = torch.nn, MAKEMORE
    return nn.Sequential(
        nn.Embedding(c["vocab"], c["embedding"]),
        nn.Flatten(),
        nn.Linear(c["context"] * c["embedding"], c["hidden"], bias=False),
        nn.BatchNorm1d(c["hidden"]),
        nn.Tanh(),
        nn.Linear(c["hidden"], c["vocab"]),
    )


def makemore_library(library: str, s: dict) -> Callable[[], float]:
    torch, train = _trainer(
        library,
        lambda torch, F: makemore_model(torch),
        s["weights"],
        lambda torch, model: torch.optim.SGD(model.parameters(), lr=MAKEMORE["lr"]),
    )
    Xtr, Ytr, batches = torch.tensor(s["X"]), torch.tensor(s["Y"]), torch.tensor(s["batches"])
    k = 0

    def step() -> float:
        nonlocal k
        ix = batches[k % len(batches)]
        k += 1
        return train(Xtr[ix], Ytr[ix]).item()

    return step


def makemore_numpy(s: dict) -> Callable[[], float]:
    """The network by hand, as the makemore backprop lecture derives it: the forward pass,
    the loss's gradient softmax - onehot, tanh's 1 - h^2, and BatchNorm's backward in one
    line (for the biased variance BatchNorm1d normalises with); running statistics updated
    as BatchNorm1d does (momentum 0.1, unbiased variance)."""
    X, Y, batches = s["X"], s["Y"], s["batches"]
    C, W1, gain, shift, W2, b2 = (s["weights"][key].copy() for key in s["weights"])
    running_mean = np.zeros(W1.shape[0], np.float32)
    running_var = np.ones(W1.shape[0], np.float32)
    lr, eps, momentum = MAKEMORE["lr"], 1e-5, 0.1
    k = 0

    def step() -> float:
        nonlocal k
        ix = batches[k % len(batches)]
        k += 1
        Xb, Yb = X[ix], Y[ix]
        n = len(Xb)
        # forward
        embcat = C[Xb].reshape(n, -1)
        hprebn = embcat @ W1.T
        mean = hprebn.mean(axis=0)
        diff = hprebn - mean
        var = (diff * diff).mean(axis=0)
        var_inv = (var + eps) ** -0.5
        bnraw = diff * var_inv
        h = np.tanh(gain * bnraw + shift)
        logits = h @ W2.T + b2
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -log_probs[np.arange(n), Yb].mean()
        # backward
        dlogits = np.exp(log_probs)
        dlogits[np.arange(n), Yb] -= 1
        dlogits /= n
        dW2, db2 = dlogits.T @ h, dlogits.sum(axis=0)
        dhpreact = (dlogits @ W2) * (1 - h * h)
        dgain, dshift = (dhpreact * bnraw).sum(axis=0), dhpreact.sum(axis=0)
        dhprebn = (
            gain * var_inv / n
            * (n * dhpreact - dhpreact.sum(axis=0) - bnraw * (dhpreact * bnraw).sum(axis=0))
        )  # fmt: skip
        dW1 = dhprebn.T @ embcat
        dC = np.zeros_like(C)
        np.add.at(dC, Xb.ravel(), (dhprebn @ W1).reshape(-1, C.shape[1]))
        # update
        for p, g in zip((C, W1, gain, shift, W2, b2), (dC, dW1, dgain, dshift, dW2, db2)):
            p -= lr * g
        running_mean[...] = (1 - momentum) * running_mean + momentum * mean
        running_var[...] = (1 - momentum) * running_var + momentum * var * n / (n - 1)
        return float(loss)

    return step


# ---- W7: a CNN on the digits ------------------------------------------------------------------

CNN = {"batch": 64, "batches": 22, "lr": 1e-3}


def cnn_setup() -> dict:
    """scikit-learn's digits as demos/digits.py prepares them (MinMax-scaled pixels, an 80/20
    split with random_state=42) as (N, 1, 8, 8) images; 22 batches of 64 training images in
    a fixed random order (every epoch the same); and the weights drawn as PyTorch's default
    initialisation draws them, uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import MinMaxScaler

    digits = load_digits()
    X = MinMaxScaler().fit_transform(digits.data).astype(np.float32).reshape(-1, 1, 8, 8)
    X_train, _, y_train, _ = train_test_split(X, digits.target, test_size=0.2, random_state=42)
    rng = np.random.default_rng(7)
    order = rng.permutation(len(X_train))[: CNN["batch"] * CNN["batches"]]
    order = order.reshape(CNN["batches"], CNN["batch"])

    def uniform(fan_in: int, *shape: int) -> np.ndarray:
        bound = 1 / fan_in**0.5
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    weights = {
        "0.weight": uniform(9, 8, 1, 3, 3),
        "0.bias": uniform(9, 8),
        "3.weight": uniform(72, 16, 8, 3, 3),
        "3.bias": uniform(72, 16),
        "7.weight": uniform(64, 10, 64),
        "7.bias": uniform(64, 10),
    }
    return {"X": X_train[order], "y": y_train[order], "weights": weights}


def cnn_model(torch: ModuleType) -> Any:
    """(N, 1, 8, 8) -> conv 3x3 to 8 channels, ReLU, 2x2 max pool -> (N, 8, 4, 4) -> conv 3x3
    to 16 channels, ReLU, 2x2 max pool -> (N, 16, 2, 2) -> flatten -> Linear to 10 logits."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 2 * 2, 10),
    )


def cnn_library(library: str, s: dict) -> Callable[[], float]:
    """One epoch per step; returns the mean of its batches' losses."""
    torch, train = _trainer(
        library,
        lambda torch, F: cnn_model(torch),
        s["weights"],
        lambda torch, model: torch.optim.Adam(model.parameters(), lr=CNN["lr"]),
    )
    batches = [(torch.tensor(x), torch.tensor(y)) for x, y in zip(s["X"], s["y"])]

    def step() -> float:
        return sum(train(x, y).item() for x, y in batches) / len(batches)

    return step


# ---- W8: a tiny GPT ---------------------------------------------------------------------------

GPT = {
    "vocab": 65,
    "context": 32,
    "width": 64,
    "heads": 4,
    "layers": 2,
    "batch": 16,
    "lr": 1e-3,
    "weight_decay": 0.1,
}


def gpt_setup(text: int = 20_000, batches: int = 50) -> dict:
    """A random "text" of 65 symbols, ``batches`` batches of 16 windows of 32 tokens and the
    tokens that follow them, and nanoGPT's initialisation: normal(0, 0.02) for the embeddings
    and the Linear weights (0.02 / sqrt(2 * layers) for the projections back into the
    residual stream), zero biases, LayerNorms the identity."""
    c = GPT
    rng = np.random.default_rng(8)
    tokens = rng.integers(0, c["vocab"], text)
    starts = rng.integers(0, text - c["context"], (batches, c["batch"]))
    windows = starts[..., None] + np.arange(c["context"])
    width, hidden = c["width"], 4 * c["width"]

    def normal(*shape: int, std: float = 0.02) -> np.ndarray:
        return (rng.standard_normal(shape) * std).astype(np.float32)

    def layer_norm(key: str) -> dict:
        return {
            f"{key}.weight": np.ones(width, np.float32),
            f"{key}.bias": np.zeros(width, np.float32),
        }

    def linear(key: str, out: int, inp: int, std: float = 0.02) -> dict:
        return {
            f"{key}.weight": normal(out, inp, std=std),
            f"{key}.bias": np.zeros(out, np.float32),
        }

    weights = {"wte.weight": normal(c["vocab"], width), "wpe.weight": normal(c["context"], width)}
    projection_std = 0.02 / (2 * c["layers"]) ** 0.5
    for i in range(c["layers"]):
        block = f"blocks.{i}"
        weights |= layer_norm(f"{block}.ln_1")
        weights |= linear(f"{block}.attn.c_attn", 3 * width, width)
        weights |= linear(f"{block}.attn.c_proj", width, width, projection_std)
        weights |= layer_norm(f"{block}.ln_2")
        weights |= linear(f"{block}.mlp.c_fc", hidden, width)
        weights |= linear(f"{block}.mlp.c_proj", width, hidden, projection_std)
    weights |= layer_norm("ln_f")
    weights["lm_head.weight"] = normal(c["vocab"], width)
    return {"x": tokens[windows], "y": tokens[windows + 1], "weights": weights}


def gpt_model(torch: ModuleType, F: ModuleType) -> Any:
    """nanoGPT's model, shrunk: token and position embeddings, pre-LayerNorm blocks of causal
    self-attention and a GELU MLP, each added to the residual stream, a final LayerNorm and
    the head to the logits. (B, T) tokens -> (B, T, vocab) logits."""
    nn, c = torch.nn, GPT

    class CausalSelfAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c_attn = nn.Linear(c["width"], 3 * c["width"])
            self.c_proj = nn.Linear(c["width"], c["width"])

        def forward(self, x: Any) -> Any:
            B, T, C = x.shape
            q, k, v = self.c_attn(x).split(C, dim=2)
            q = q.view(B, T, c["heads"], C // c["heads"]).transpose(1, 2)  # (B, heads, T, hs)
            k = k.view(B, T, c["heads"], C // c["heads"]).transpose(1, 2)
            v = v.view(B, T, c["heads"], C // c["heads"]).transpose(1, 2)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.c_proj(y)

    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c_fc = nn.Linear(c["width"], 4 * c["width"])
            self.gelu = nn.GELU()
            self.c_proj = nn.Linear(4 * c["width"], c["width"])

        def forward(self, x: Any) -> Any:
            return self.c_proj(self.gelu(self.c_fc(x)))

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln_1 = nn.LayerNorm(c["width"])
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(c["width"])
            self.mlp = MLP()

        def forward(self, x: Any) -> Any:
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class TinyGPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(c["vocab"], c["width"])
            self.wpe = nn.Embedding(c["context"], c["width"])
            self.blocks = nn.ModuleList([Block() for _ in range(c["layers"])])
            self.ln_f = nn.LayerNorm(c["width"])
            self.lm_head = nn.Linear(c["width"], c["vocab"], bias=False)

        def forward(self, idx: Any) -> Any:
            B, T = idx.shape
            x = self.wte(idx) + self.wpe(torch.arange(T))
            for block in self.blocks:
                x = block(x)
            return self.lm_head(self.ln_f(x))

    return TinyGPT()


def gpt_library(library: str, s: dict) -> Callable[[], float]:
    """AdamW with nanoGPT's grouping: weight decay for the matrices (Linear and embedding
    weights), none for the biases and LayerNorms."""
    def adamw(torch: ModuleType, model: Any) -> Any:
        params = list(model.parameters())
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": GPT["weight_decay"]},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(groups, lr=GPT["lr"])

    torch, train = _trainer(library, gpt_model, s["weights"], adamw)
    xs, ys = torch.tensor(s["x"]), torch.tensor(s["y"])
    k = 0

    def step() -> float:
        nonlocal k
        i = k % len(xs)
        k += 1
        return train(xs[i], ys[i]).item()

    return step


def gpt_numpy(s: dict) -> Callable[[], float]:
    """The tiny GPT by hand, without an engine: forward, backward and AdamW in NumPy, with the
    library's own float32 normal CDF for GELU (NumPy has no erf), sums over rows as products
    with a vector of ones, and every parameter and gradient a view of one flat buffer, so that
    AdamW is a few whole-buffer passes. The floor for NumPy on W8: what is left of tinygrad_edu's
    time above it is the engine's."""
    from tinygrad_edu.nn.functional import _normal_cdf_float32  # (NumPy has no erf)

    c = GPT
    B, T, C, H = c["batch"], c["context"], c["width"], c["heads"]
    N, hs, eps = B * T, C // c["heads"], 1e-5
    names = list(s["weights"])
    sizes = [s["weights"][k].size for k in names]
    flat, grad_flat = np.zeros(sum(sizes), np.float32), np.zeros(sum(sizes), np.float32)
    ends = np.cumsum(sizes)
    W, G = {}, {}
    decay = np.zeros_like(flat)  # lr * weight decay for the matrices, 0 for biases and norms
    for name, end, size in zip(names, ends, sizes):
        shape = s["weights"][name].shape
        W[name], G[name] = (a[end - size : end].reshape(shape) for a in (flat, grad_flat))
        W[name][...] = s["weights"][name]
        if len(shape) >= 2:
            decay[end - size : end] = c["lr"] * c["weight_decay"]
    m, v = np.zeros_like(flat), np.zeros_like(flat)
    beta1, beta2, adam_eps = 0.9, 0.999, 1e-8
    ones_n, ones_c = np.ones(N, np.float32), np.ones(C, np.float32) / C
    causal = np.tril(np.ones((T, T), np.float32))
    xs, ys = s["x"], s["y"]
    k = 0

    def layer_norm(x: np.ndarray, key: str) -> tuple:
        centred = x - (x @ ones_c)[:, None]
        inv_std = 1 / np.sqrt((centred * centred) @ ones_c + eps)[:, None]
        x_hat = np.multiply(centred, inv_std, out=centred)
        out = x_hat * W[key + ".weight"]
        out += W[key + ".bias"]
        return out, (x_hat, inv_std)

    def layer_norm_back(grad: np.ndarray, key: str, cache: tuple) -> np.ndarray:
        x_hat, inv_std = cache
        weight = W[key + ".weight"]
        product = grad * x_hat
        np.matmul(ones_n, product, out=G[key + ".weight"])
        np.matmul(ones_n, grad, out=G[key + ".bias"])
        out = grad * weight
        out -= (grad @ weight / C)[:, None]
        out -= x_hat * (product @ weight / C)[:, None]
        out *= inv_std
        return out

    def linear(x: np.ndarray, key: str) -> np.ndarray:
        out = x @ W[key + ".weight"].T
        if key + ".bias" in W:
            out += W[key + ".bias"]
        return out

    def linear_back(grad: np.ndarray, x: np.ndarray, key: str) -> np.ndarray:
        np.matmul(grad.T, x, out=G[key + ".weight"])
        if key + ".bias" in W:
            np.matmul(ones_n, grad, out=G[key + ".bias"])
        return grad @ W[key + ".weight"]

    def heads(a: np.ndarray) -> np.ndarray:  # (N, C) -> (B, H, T, hs)
        return a.reshape(B, T, H, hs).transpose(0, 2, 1, 3)

    def merge(a: np.ndarray) -> np.ndarray:  # (B, H, T, hs) -> (N, C)
        return a.transpose(0, 2, 1, 3).reshape(N, C)

    def step() -> float:
        nonlocal k
        idx, target = xs[k % len(xs)], ys[k % len(ys)]
        k += 1
        # ---- forward
        x = (W["wte.weight"][idx] + W["wpe.weight"][:T]).reshape(N, C)
        caches = []
        for i in range(c["layers"]):
            b = f"blocks.{i}"
            h1, ln1 = layer_norm(x, b + ".ln_1")
            qkv = linear(h1, b + ".attn.c_attn")
            q, kk, vv = (heads(qkv[:, j * C : (j + 1) * C]) for j in range(3))
            scores = q @ np.multiply(kk.swapaxes(-1, -2), hs**-0.5, order="C")
            probs = np.exp(scores - scores.max(), out=scores)
            probs *= causal
            probs /= probs.sum(axis=-1, keepdims=True)
            y = merge(probs @ vv)
            x1 = x + linear(y, b + ".attn.c_proj")
            h2, ln2 = layer_norm(x1, b + ".ln_2")
            f = linear(h2, b + ".mlp.c_fc")
            cdf, gauss = _normal_cdf_float32(f)
            derivative = gauss * f
            derivative *= 1 / np.sqrt(2 * np.pi, dtype=np.float32)
            derivative += cdf
            gelu = np.multiply(f, cdf, out=cdf)
            x = x1 + linear(gelu, b + ".mlp.c_proj")
            caches.append((h1, ln1, q, kk, vv, probs, y, h2, ln2, derivative, gelu))
        hf, lnf = layer_norm(x, "ln_f")
        logits = hf @ W["lm_head.weight"].T
        shifted = logits - logits.max(axis=1, keepdims=True)
        exps = np.exp(shifted)
        totals = exps.sum(axis=1, keepdims=True)
        rows, labels = np.arange(N), target.reshape(-1)
        loss = float(np.mean(np.log(totals[:, 0]) - shifted[rows, labels]))
        # ---- backward
        grad = np.divide(exps, totals * N, out=exps)  # (softmax - one_hot) / N
        grad[rows, labels] -= 1 / N
        np.matmul(grad.T, hf, out=G["lm_head.weight"])
        dx = layer_norm_back(grad @ W["lm_head.weight"], "ln_f", lnf)
        for i in reversed(range(c["layers"])):
            b = f"blocks.{i}"
            h1, ln1, q, kk, vv, probs, y, h2, ln2, derivative, gelu = caches[i]
            dgelu = linear_back(dx, gelu, b + ".mlp.c_proj")
            dgelu *= derivative
            dx1 = dx + layer_norm_back(linear_back(dgelu, h2, b + ".mlp.c_fc"), b + ".ln_2", ln2)
            dy = heads(linear_back(dx1, y, b + ".attn.c_proj"))
            dprobs = dy @ np.ascontiguousarray(vv.swapaxes(-1, -2))
            dprobs -= (dprobs * probs).sum(axis=-1, keepdims=True)
            dprobs *= probs
            dprobs *= hs**-0.5
            dqkv = np.concatenate(
                [merge(dprobs @ kk), merge(dprobs.swapaxes(-1, -2) @ q), merge(probs.swapaxes(-1, -2) @ dy)],
                axis=1,
            )
            dx = dx1 + layer_norm_back(linear_back(dqkv, h1, b + ".attn.c_attn"), b + ".ln_1", ln1)
        dx = dx.reshape(B, T, C)
        np.matmul(ones_n[:B], dx.reshape(B, T * C), out=G["wpe.weight"].reshape(-1))
        G["wte.weight"][...] = 0
        np.add.at(G["wte.weight"], idx.reshape(-1), dx.reshape(N, C))
        # ---- AdamW, on the flat buffers
        t = k
        np.subtract(flat, decay * flat, out=flat)
        np.add(beta1 * m, (1 - beta1) * grad_flat, out=m)
        np.add(beta2 * v, (1 - beta2) * grad_flat * grad_flat, out=v)
        denominator = np.sqrt(v) / math.sqrt(1 - beta2**t) + adam_eps  # (float32 throughout)
        np.subtract(flat, c["lr"] / (1 - beta1**t) * m / denominator, out=flat)
        return loss

    return step


# ---- the contestants --------------------------------------------------------------------------


def contestants(make_library: Callable[[str, dict], Callable[[], float]]) -> dict:
    """The tinygrad_edu and PyTorch contestants of one shared ``make_library``."""
    return {name: partial(make_library, name) for name in LIBRARIES}
