"""makemore: character-level models of names, from counting bigrams to a Transformer.

The models of Andrej Karpathy's makemore lectures, in the order learners meet them, each
trained on the same names and measured the same way. The code is PyTorch code, as the
lectures write it; only the import differs (``import tinygrad_edu as torch``).

Data: 5,163 first names (the census lists of the ``names`` package, lower case), shuffled with
``random.Random(42)`` and split 80/10/10 into train, dev and test names. Every model predicts
the next character from the ones before it; ``.`` marks the start and the end of a name, so a
name of n letters is n + 1 predictions. The loss is their mean negative log-likelihood (nats
per character); guessing uniformly among the 27 characters gives log 27 = 3.296.

1. **Bigram counts.** N[i, j] counts how often character j follows i in the training names;
   with +1 smoothing, P = (N + 1) / row sums is the model. Nothing is trained.
2. **Neural bigram.** The same model as a network: one-hot(previous character) @ W gives
   logits, softmax gives P; full-batch gradient descent (lr 50, 200 steps) on the mean NLL
   plus 0.01 mean(W^2) (which plays the part of the smoothing) brings it to the counts' loss.
3. **MLP** (Bengio et al. 2003): the last 3 characters, each embedded in 10 dimensions,
   concatenated, a hidden layer of 200 tanh units, a linear layer to 27 logits; PyTorch's
   default initialisation.
4. **MLP + BatchNorm**: the same, with ``nn.BatchNorm1d`` after the hidden ``Linear`` (which
   then needs no bias), and the lecture's initialisation: Kaiming-normal weights with tanh's
   gain 5/3, the last layer's weights scaled by 0.1 and its bias 0, so that the first
   predictions are nearly uniform.
5. **WaveNet-style hierarchy**: 8 characters of context, fused two at a time over three
   levels (8 -> 4 -> 2 -> 1), each level a reshape that puts consecutive pairs side by side,
   then ``Linear`` + ``BatchNorm1d`` + ``Tanh`` (embedding 10, 68 hidden units).
6. **Transformer**: token and position embeddings (32 dimensions), two pre-LayerNorm blocks
   of causal self-attention (4 heads, ``F.scaled_dot_product_attention(..., is_causal=True)``)
   and an MLP, dropout 0.2, trained with AdamW on whole names (every position predicts the
   next character), minibatches of 32 names.

Models 3-5 train with SGD on minibatches of 32 examples, lr 0.1 for the first three quarters
of the steps and 0.01 after (the lectures' step decay; the MLP's learning-rate sweep,
``lr_sweep.png``, puts the best rate near 10^-1); the Transformer with lr 3e-3, then 3e-4.

For each model: its train and dev loss (eval mode, no grad, over the whole split) in a table,
and 8 names sampled from it with a seeded ``torch.Generator``; the best model by dev loss is
then measured once on the test names. Pictures, in ``out/makemore`` unless ``--out`` names
another folder: the learning-rate sweep and the training loss of every trained model
(``losses.png``, with each model's dev loss after training).

The full run (2 minutes on two cores, 3 while other work keeps them busy):

| model | parameters | train loss | dev loss |
|---|---:|---:|---:|
| bigram counts | 729 | 2.3448 | 2.3400 |
| neural bigram | 729 | 2.3501 | 2.3438 |
| MLP | 11,897 | 1.7827 | 1.9792 |
| MLP + BatchNorm | 12,097 | 1.8090 | 1.9890 |
| WaveNet | 22,397 | 1.6728 | 1.9480 |
| Transformer | 27,611 | 1.7409 | 1.9162 |

The Transformer is best on dev; its test loss is 1.9805. The same code on PyTorch 2.13 (only
the imports swapped) gives the same counts loss and the other losses within 0.013 (its random
numbers differ).

What to read in it:

- These census names are easier and far fewer than the lectures' 32,000 names (the bigram's
  loss is 2.34 here, 2.45 there; 28,892 training examples against 182,625), so every
  network **overfits**: its training loss ends 0.2-0.3 below its dev loss. Training was
  stopped near the dev minimum: the MLP's dev loss is 1.994 after 20,000 steps, 1.979 after
  30,000 and 1.983 after 40,000. Without dropout the Transformer reached 1.59 train and
  1.96 dev; dropout 0.2 gives 1.74 and 1.92.
- BatchNorm does not help this one-hidden-layer MLP: 1.989 against 1.979 (also at 20,000
  steps, by 0.008-0.018 over three seeds). PyTorch's default initialisation already keeps
  the tanh units out of saturation. In the deeper WaveNet it does help: the same run without
  it (biases back in the Linears) ends at 1.63 train but 2.005 dev, against 1.948.
- Longer contexts help: the WaveNet (8 characters) beats the MLPs (3), and the Transformer,
  which sees the whole name so far, beats the WaveNet.

    python demos/makemore.py                  # the full run, 2-3 minutes
    python demos/makemore.py --quick          # seconds (used by the tests)
    python demos/makemore.py --out docs/images/makemore
"""

from __future__ import annotations

import math
import random
import sys
import time
from pathlib import Path

import _common
import matplotlib.pyplot as plt

import tinygrad_edu as torch
import tinygrad_edu.nn as nn
import tinygrad_edu.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent / "lectures"))
from _pick import dataset, words  # noqa: E402

DEFAULT_OUT = Path("out") / "makemore"
SAMPLE_SEED = 2147483647 + 10  # the lectures' sampling seed
CHARS = "abcdefghijklmnopqrstuvwxyz"
stoi = {s: i + 1 for i, s in enumerate(CHARS)}
stoi["."] = 0
itos = {i: s for s, i in stoi.items()}
V = len(stoi)  # 27: the vocabulary, '.' and a-z


# ---- data -------------------------------------------------------------------------------------


def split_names(names: list[str], seed: int = 42) -> dict[str, list[str]]:
    """80% train, 10% dev, 10% test, after shuffling a copy with ``random.Random(seed)``."""
    names = list(names)
    random.Random(seed).shuffle(names)
    n1, n2 = int(0.8 * len(names)), int(0.9 * len(names))
    return {"train": names[:n1], "dev": names[n1:n2], "test": names[n2:]}


def contexts(names: list[str], block_size: int) -> tuple:
    """makemore's examples: X (N, block_size), the ``block_size`` characters before each
    character of each name (``.``-padded at the start), and Y (N,), that character."""
    return dataset(torch, names, block_size, stoi)


def sequences(names: list[str], block_size: int) -> tuple:
    """Whole names for the Transformer: X (N, block_size) is ``.`` and the name, Y (N,
    block_size) the name and ``.``, i.e. X shifted by one; positions past the end are
    padding, 0 in X and -1 in Y (no target)."""
    X, Y = [], []
    for w in names:
        ix = [stoi[ch] for ch in w]
        pad = block_size - len(ix) - 1
        X.append([0] + ix + [0] * pad)
        Y.append(ix + [0] + [-1] * pad)
    return torch.tensor(X), torch.tensor(Y)


# ---- 1. and 2. bigrams ------------------------------------------------------------------------


def count_bigrams(names: list[str]) -> torch.Tensor:
    """N (27, 27): N[i, j] is how often character j follows character i."""
    N = torch.zeros((V, V), dtype=torch.int32)
    for w in names:
        chs = ["."] + list(w) + ["."]
        for ch1, ch2 in zip(chs, chs[1:]):
            N[stoi[ch1], stoi[ch2]] += 1
    return N


class CountsBigram(nn.Module):
    """The counts as a model: logits log P[previous character], P = (N + 1) / row sums.
    (Their softmax is P again, since each row of P sums to 1.)"""

    block_size = 1

    def __init__(self, N: torch.Tensor):
        super().__init__()
        P = (N + 1).float()
        P /= P.sum(1, keepdim=True)
        self.P = P

    def forward(self, X: torch.Tensor) -> torch.Tensor:  # (B, 1) -> (B, 27)
        return self.P[X[:, -1]].log()


class NeuralBigram(nn.Module):
    """logits = one_hot(previous character) @ W: row W[i] holds the log-counts of what follows
    character i."""

    block_size = 1

    def __init__(self, generator: torch.Generator):
        super().__init__()
        self.W = nn.Parameter(torch.randn((V, V), generator=generator))

    def forward(self, X: torch.Tensor) -> torch.Tensor:  # (B, 1) -> (B, 27)
        xenc = F.one_hot(X[:, -1], num_classes=V).float()
        return xenc @ self.W


def train_neural_bigram(model: NeuralBigram, X, Y, steps: int, lr: float = 50.0) -> list:
    """The lecture's loop: full batch, softmax written out, ``W.data += -lr * W.grad``."""
    W, losses = model.W, []
    for _ in range(steps):
        logits = model(X)
        counts = logits.exp()
        probs = counts / counts.sum(1, keepdim=True)
        loss = -probs[torch.arange(Y.shape[0]), Y].log().mean() + 0.01 * (W**2).mean()
        W.grad = None
        loss.backward()
        W.data += -lr * W.grad
        losses.append(loss.item())
    return losses


# ---- 3. and 4. MLPs ---------------------------------------------------------------------------


def mlp(block_size: int = 3, n_embd: int = 10, n_hidden: int = 200) -> nn.Sequential:
    """Embedding (B, 3) -> (B, 3, 10), Flatten -> (B, 30), Linear + Tanh -> (B, 200),
    Linear -> (B, 27) logits."""
    return nn.Sequential(
        nn.Embedding(V, n_embd),
        nn.Flatten(),
        nn.Linear(block_size * n_embd, n_hidden),
        nn.Tanh(),
        nn.Linear(n_hidden, V),
    )


def mlp_batchnorm(block_size: int = 3, n_embd: int = 10, n_hidden: int = 200) -> nn.Sequential:
    """The MLP with BatchNorm1d between the hidden Linear (no bias: BatchNorm's shift is
    the bias) and the tanh, initialised as the lecture does."""
    model = nn.Sequential(
        nn.Embedding(V, n_embd),
        nn.Flatten(),
        nn.Linear(block_size * n_embd, n_hidden, bias=False),
        nn.BatchNorm1d(n_hidden),
        nn.Tanh(),
        nn.Linear(n_hidden, V),
    )
    return kaiming_init(model)


def kaiming_init(model: nn.Module) -> nn.Module:
    """The lecture's initialisation: hidden weights ~ N(0, (5/3)^2 / fan_in) (tanh's gain),
    which keeps the activations' spread from layer to layer; the last layer's weights scaled
    by 0.1 and its bias 0, so the first logits are near 0 and the first loss near log 27."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    for layer in linears[:-1]:
        nn.init.kaiming_normal_(layer.weight, nonlinearity="tanh")
    with torch.no_grad():
        linears[-1].weight *= 0.1
        linears[-1].bias.zero_()
    return model


# ---- 5. WaveNet -------------------------------------------------------------------------------


class FlattenConsecutive(nn.Module):
    """Put n consecutive positions side by side: (B, T, C) or (B * T, C) -> (B * T / n, n * C).

    The rows stay in order (example, position), so the rows of the result are the groups of
    n neighbouring positions of each example. The lecture's version keeps the shape
    (B, T / n, n * C), which ``nn.BatchNorm1d`` reads as (batch, channels, length); keeping
    the positions in the rows instead gives BatchNorm1d's (rows, channels), and its mean and
    variance over all rows are the lecture's over batch and positions."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1, self.n * x.shape[-1])

    def extra_repr(self) -> str:
        return f"n={self.n}"


def wavenet(block_size: int = 8, n_embd: int = 10, n_hidden: int = 68) -> nn.Sequential:
    """Embedding (B, 8) -> (B, 8, 10), then three levels of FlattenConsecutive(2) + Linear
    + BatchNorm1d + Tanh: (B * 4, 20) -> (B * 4, h), (B * 2, 2h) -> (B * 2, h),
    (B, 2h) -> (B, h); a Linear to (B, 27) logits."""
    layers, width = [nn.Embedding(V, n_embd)], n_embd
    for _ in range(int(math.log2(block_size))):
        layers += [
            FlattenConsecutive(2),
            nn.Linear(2 * width, n_hidden, bias=False),
            nn.BatchNorm1d(n_hidden),
            nn.Tanh(),
        ]
        width = n_hidden
    layers.append(nn.Linear(n_hidden, V))
    return kaiming_init(nn.Sequential(*layers))


# ---- 6. Transformer ---------------------------------------------------------------------------


class CausalSelfAttention(nn.Module):
    """n_head heads of attention, each position looking at itself and the positions before.
    (B, T, C) -> (B, T, C)."""

    def __init__(self, n_embd: int, n_head: int):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd)  # queries, keys and values of all heads
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        # (B, T, C) -> (B, n_head, T, head size): each head attends on its own
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # the heads side by side again
        return self.proj(y)


class Block(nn.Module):
    """x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x)): pre-LayerNorm residual
    block. (B, T, C) -> (B, T, C)."""

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = nn.Sequential(CausalSelfAttention(n_embd, n_head), nn.Dropout(dropout))
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(n_embd, 4 * n_embd),
            nn.GELU(approximate="tanh"),  # GPT-2's GELU, as makemore's
            nn.Linear(4 * n_embd, n_embd),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """Characters (B, T) -> logits (B, T, 27) for the character after each position."""

    def __init__(
        self,
        block_size: int,
        n_embd: int = 32,
        n_head: int = 4,
        n_layer: int = 2,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.block_size = block_size
        self.wte = nn.Embedding(V, n_embd)  # token embeddings
        self.wpe = nn.Embedding(block_size, n_embd)  # position embeddings
        self.blocks = nn.Sequential(*[Block(n_embd, n_head, dropout) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, V)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T))  # (B, T, C) + (T, C)
        return self.lm_head(self.ln_f(self.blocks(x)))


def sequence_loss(logits: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the positions that have a target: logits (B, T, 27), Y (B, T),
    -1 where a name has ended (those positions are left out, as makemore does)."""
    return F.cross_entropy(logits.view(-1, V), Y.view(-1), ignore_index=-1)


# ---- training, evaluation, sampling -----------------------------------------------------------


def train(
    model, X, Y, optimizer, steps, batch_size=32, loss_fn=F.cross_entropy, lr_at=None, seed=0
) -> list:
    """Minibatch training, the examples drawn with ``torch.randint`` from a seeded generator.
    ``lr_at(i)`` sets the learning rate of step i. Returns the loss of every step."""
    g = torch.Generator().manual_seed(seed)
    model.train()
    losses = []
    for i in range(steps):
        ix = torch.randint(0, X.shape[0], (batch_size,), generator=g)
        loss = loss_fn(model(X[ix]), Y[ix])
        if lr_at is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(i)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def step_decay(lr: float, steps: int, at: float = 0.75):
    """lr for the first ``at`` of the steps, lr / 10 after (the lectures' schedule)."""
    return lambda i: lr if i < at * steps else lr / 10


@torch.no_grad()
def split_loss(model: nn.Module, X, Y, loss_fn=F.cross_entropy) -> float:
    """The loss over a whole split, in eval mode (BatchNorm uses its running statistics)."""
    model.eval()
    return loss_fn(model(X), Y).item()


@torch.no_grad()
def sample(
    model: nn.Module,
    block_size: int,
    whole_names: bool = False,
    count: int = 8,
    seed: int = SAMPLE_SEED,
    max_len: int = 20,
) -> list[str]:
    """``count`` names drawn character by character with ``torch.multinomial`` from a
    Generator seeded with ``seed`` (the same seed, the same names). A window model sees the
    last ``block_size`` characters, ``.``-padded; a model of ``whole_names`` (the
    Transformer) sees ``.`` and the name so far. A name ends at ``.`` or ``max_len`` letters."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    names = []
    for _ in range(count):
        context = [0] if whole_names else [0] * block_size
        out = []
        while len(out) < max_len:
            if whole_names:
                logits = model(torch.tensor([context]))[:, -1, :]  # the last position's
            else:
                logits = model(torch.tensor([context[-block_size:]]))
            probs = F.softmax(logits, dim=1)
            ix = torch.multinomial(probs, num_samples=1, generator=g).item()
            if ix == 0:
                break
            context.append(ix)
            out.append(itos[ix])
        names.append("".join(out))
    return names


# ---- pictures ---------------------------------------------------------------------------------


def lr_sweep(X, Y, steps: int, seed: int = 0) -> tuple[list, list]:
    """The lecture's search for a learning rate: one run of the MLP in which step i uses
    lr = 10 ** lre[i], lre = linspace(-3, 0, steps). Returns (lre, loss of each step)."""
    torch.manual_seed(seed)
    model = mlp()
    lre = torch.linspace(-3, 0, steps)
    lrs = 10**lre
    optimizer = torch.optim.SGD(model.parameters(), lr=lrs[0].item())
    losses = train(model, X, Y, optimizer, steps, 32, lr_at=lambda i: lrs[i].item(), seed=seed)
    return lre.tolist(), losses


def smooth(values: list, chunk: int) -> list:
    """Means of consecutive chunks of ``chunk`` values (the lecture's
    ``torch.tensor(lossi).view(-1, chunk).mean(1)``); a last partial chunk is left out."""
    n = len(values) // chunk * chunk
    return torch.tensor(values[:n], dtype=torch.float64).view(-1, chunk).mean(1).tolist()


def plot_lr_sweep(lre: list, losses: list, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(lre, losses, lw=0.6, color="tab:blue", alpha=0.45, label="loss of each step")
    chunk = max(1, len(losses) // 40)
    ax.plot(
        smooth(lre, chunk),
        smooth(losses, chunk),
        color="tab:blue",
        lw=2,
        label=f"mean of {chunk} steps",
    )
    ax.set_xlabel("log10 learning rate (step i of the run uses 10 ** lre[i])")
    ax.set_ylabel("minibatch loss")
    ax.set_title("The MLP's learning-rate sweep: one run, the learning rate rising")
    ax.legend()
    return _common.save_figure(fig, path)


def plot_losses(losses: dict, results: dict, path: Path) -> Path:
    """Each trained model's training loss by step (log scale), smoothed by averaging chunks of
    1/100 of its steps, and its dev loss after training as a dot at its last step. (The neural
    bigram's includes its 0.01 mean(W^2).)"""
    fig, ax = plt.subplots(figsize=(8.5, 5))
    for name, curve in losses.items():
        chunk = max(1, len(curve) // 100)
        steps = list(range(1, len(curve) + 1))
        (line,) = ax.plot(
            smooth(steps, chunk),
            smooth(curve, chunk),
            label=name,
        )
        ax.plot(len(curve), results[name]["dev"], "o", color=line.get_color())
    counts = results["bigram counts"]
    ax.axhline(counts["train"], color="grey", ls="--", lw=1, label="bigram counts (train)")
    ax.plot([], [], "o", color="grey", label="dev loss after training")
    ax.set_xscale("log")
    ax.set_xlabel(
        "training step (the Transformer's steps hold 32 names, the others' 32 characters)"
    )
    ax.set_ylabel("loss (nats per character)")
    ax.set_title("Training loss (means of chunks of 1/100 of each run), dev loss after training")
    ax.legend(fontsize=8)
    return _common.save_figure(fig, path)


# ---- the run ----------------------------------------------------------------------------------

FULL = {  # training steps in the full run (the neural bigram's are full-batch steps)
    "neural bigram": 200,
    "MLP": 30000,
    "MLP + BatchNorm": 30000,
    "WaveNet": 20000,
    "Transformer": 3000,
    "lr sweep": 1000,
}
QUICK = {name: (30 if name == "neural bigram" else 100) for name in FULL}
LR = {"MLP": 0.1, "MLP + BatchNorm": 0.1, "WaveNet": 0.1, "Transformer": 3e-3}


def data(names: list[str], block_size: int, whole_names: bool) -> tuple:
    return sequences(names, block_size) if whole_names else contexts(names, block_size)


def parameters(model: nn.Module) -> int:
    if isinstance(model, CountsBigram):
        return model.P.nelement()  # the table of probabilities
    return sum(p.nelement() for p in model.parameters())


def train_all(split: dict, steps: dict, T: int) -> tuple[dict, dict]:
    """Build and train the six models. Returns {name: (model, block_size, whole_names)} and
    {name: the training loss of every step}."""
    models, losses = {}, {}
    train_names = split["train"]

    models["bigram counts"] = (CountsBigram(count_bigrams(train_names)), 1, False)

    started = time.perf_counter()
    bigram = NeuralBigram(torch.Generator().manual_seed(2147483647))
    X, Y = contexts(train_names, 1)
    n = steps["neural bigram"]
    losses["neural bigram"] = train_neural_bigram(bigram, X, Y, n)
    models["neural bigram"] = (bigram, 1, False)
    print(f"neural bigram: {n} full-batch steps in {time.perf_counter() - started:.0f} s")

    for name, build, block_size in [
        ("MLP", mlp, 3),
        ("MLP + BatchNorm", mlp_batchnorm, 3),
        ("WaveNet", wavenet, 8),
    ]:
        started = time.perf_counter()
        torch.manual_seed(42)
        model = build(block_size)
        X, Y = contexts(train_names, block_size)
        n, lr = steps[name], LR[name]
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        losses[name] = train(model, X, Y, optimizer, n, lr_at=step_decay(lr, n))
        models[name] = (model, block_size, False)
        print(f"{name}: {n} steps in {time.perf_counter() - started:.0f} s")

    started = time.perf_counter()
    torch.manual_seed(42)
    model = Transformer(T, dropout=0.2)
    X, Y = sequences(train_names, T)
    n, lr = steps["Transformer"], LR["Transformer"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    losses["Transformer"] = train(model, X, Y, optimizer, n, 32, sequence_loss, step_decay(lr, n))
    models["Transformer"] = (model, T, True)
    print(f"Transformer: {n} steps in {time.perf_counter() - started:.0f} s")
    return models, losses


def markdown_table(results: dict) -> str:
    lines = ["| model | parameters | train loss | dev loss |", "|---|---:|---:|---:|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['parameters']:,} | {r['train']:.4f} | {r['dev']:.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    with _common.one_blas_thread():
        return run(argv)


def run(argv: list[str] | None = None) -> dict:
    args = _common.parser(__doc__, DEFAULT_OUT).parse_args(argv)
    start = time.perf_counter()
    steps = QUICK if args.quick else FULL
    names = words()
    split = split_names(names)
    T = max(len(w) for w in names) + 1  # the Transformer's positions: "." and the longest name
    print(
        f"{len(split['train'])} train, {len(split['dev'])} dev, {len(split['test'])} test names;"
        f" pictures go to {args.out}/\n"
    )
    models, losses = train_all(split, steps, T)

    results = {}
    for name, (model, block_size, whole) in models.items():
        loss_fn = sequence_loss if whole else F.cross_entropy
        results[name] = {
            "parameters": parameters(model),
            **{
                part: split_loss(model, *data(split[part], block_size, whole), loss_fn)
                for part in ("train", "dev")
            },
            "samples": sample(model, block_size, whole, max_len=T - 1 if whole else 20),
            "losses": losses.get(name, []),
        }
    table = markdown_table(results)
    print("\n" + table + "\n")
    best = min(results, key=lambda name: results[name]["dev"])
    model, block_size, whole = models[best]
    loss_fn = sequence_loss if whole else F.cross_entropy
    test_loss = split_loss(model, *data(split["test"], block_size, whole), loss_fn)
    print(f"best on dev: {best}, test loss {test_loss:.4f}\n")
    for name, r in results.items():
        print(f"{name + ':':17s} {' '.join(r['samples'])}")

    lre, sweep = lr_sweep(*contexts(split["train"], 3), steps["lr sweep"])
    files = [
        plot_lr_sweep(lre, sweep, args.out / "lr_sweep.png"),
        plot_losses(losses, results, args.out / "losses.png"),
    ]
    seconds = time.perf_counter() - start
    print(f"\ndone in {seconds:.0f} s; pictures in {args.out}/")
    return {
        "split": split,
        "models": results,
        "table": table,
        "best": best,
        "test_loss": test_loss,
        "lr_sweep": {"lre": lre, "losses": sweep},
        "trained": models,
        "files": files,
        "seconds": seconds,
    }


if __name__ == "__main__":
    main()
