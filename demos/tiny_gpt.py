"""A tiny GPT that learns to make up first names: a character-level Transformer in the style of
nanoGPT (Karpathy), written as PyTorch code and run on tinygrad_edu.

The code below is PyTorch code: only the imports at the top differ (``import tinygrad_edu as
torch`` in effect), and ``--torch`` runs the very same code on PyTorch. It follows the
structure of nanoGPT's ``model.py`` and ``train.py``:

- **The model** (``GPTConfig``, ``CausalSelfAttention``, ``MLP``, ``Block``, ``GPT``): token and
  position embeddings, ``n_layer`` pre-LayerNorm blocks (x = x + attn(ln_1(x));
  x = x + mlp(ln_2(x))), a final LayerNorm and a language-model head that shares its weight
  with the token embedding. Attention is causal: position t sees positions 0..t only.
- **The data**: about 5,000 census first names (``pip install names``), joined into one text
  with a newline after each name, so the vocabulary is the 26 letters and ``"\\n"``. 90% of
  the names train, 10% validate (a fixed shuffle). A batch is ``batch_size`` random windows of
  ``block_size`` characters; the targets are the same windows shifted by one character, so
  every position of every window is a next-character prediction.
- **The training**: AdamW with weight decay on the matrices only (nanoGPT's
  ``configure_optimizers``), a learning rate that warms up linearly and then decays along a
  cosine (nanoGPT's ``get_lr``), and gradient clipping at norm 1.

It prints ten names sampled before and after training, the train and validation loss every
``eval_interval`` steps, and plots the loss curves to ``loss.png`` in ``out/tiny_gpt`` (or
``--out DIR``).

    python demos/tiny_gpt.py              # a few minutes on two cores
    python demos/tiny_gpt.py --torch      # the same code on PyTorch
    python demos/tiny_gpt.py --quick      # a few steps of a tinier model (the tests)
"""

from __future__ import annotations

import importlib
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import _common
import matplotlib.pyplot as plt

# Which library runs the code: tinygrad_edu, unless `load(use_torch=True)` loaded this file
# (the --torch flag), which sets USE_TORCH in the module before running it.
USE_TORCH = globals().get("USE_TORCH", False)
torch = importlib.import_module("torch" if USE_TORCH else "tinygrad_edu")  # import torch
nn = torch.nn  # import torch.nn as nn
F = torch.nn.functional  # import torch.nn.functional as F

DEFAULT_OUT = Path("out") / "tiny_gpt"


# ---- the model (nanoGPT's model.py) -----------------------------------------------------------


@dataclass
class GPTConfig:
    block_size: int = 32  # the longest context, in characters
    vocab_size: int = 27  # "\n" and a..z
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0
    bias: bool = True  # biases in the Linears and LayerNorms


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (as nanoGPT's; PyTorch's own has ``bias=`` since 2.1)."""

    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, input):
        return F.layer_norm(input, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t attends to positions 0..t.

    x (B, T, C) -> (B, T, C), C = n_embd split into n_head heads of C // n_head channels.
    One Linear makes the queries, keys and values of all heads at once (3 C outputs)."""

    def __init__(self, config):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.dropout = config.dropout

    def forward(self, x):
        B, T, C = x.size()  # batch, time (sequence length), channels (n_embd)
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        # (B, T, C) -> (B, nh, T, hs): each head attends over time on its own channels
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        # softmax(q k^T / sqrt(hs) + causal mask) v: (B, nh, T, T) weights, (B, nh, T, hs) out
        y = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0, is_causal=True
        )
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # the heads side by side again
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """Position-wise feed-forward network: C -> 4 C -> GELU -> C."""

    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """A Transformer block, pre-LayerNorm: the positions communicate (attention), then each
    computes on its own (MLP), both added to the residual stream x."""

    def __init__(self, config):
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT(nn.Module):
    """idx (B, T) character indices -> logits (B, T, vocab_size) for the next character at
    every position, and the mean cross-entropy against ``targets`` (B, T) when given."""

    def __init__(self, config):
        super().__init__()
        assert config.vocab_size is not None
        assert config.block_size is not None
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),  # token embeddings
                wpe=nn.Embedding(config.block_size, config.n_embd),  # position embeddings
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=LayerNorm(config.n_embd, bias=config.bias),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # Weight tying: the head scores each character by the dot product of the final
        # features with that character's embedding. One Parameter, used twice.
        self.transformer.wte.weight = self.lm_head.weight

        self.apply(self._init_weights)
        # GPT-2's scaled init of the projections into the residual stream: each block adds
        # two of them, so their std shrinks with the depth, 0.02 / sqrt(2 n_layer).
        for pn, p in self.named_parameters():
            if pn.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def get_num_params(self):
        """The number of parameters (the tied weight counted once)."""
        return sum(p.numel() for p in self.parameters())

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        b, t = idx.size()
        assert t <= self.config.block_size, (
            f"Cannot forward sequence of length {t}, block size is only {self.config.block_size}"
        )
        pos = torch.arange(0, t, dtype=torch.long)  # (t,)
        tok_emb = self.transformer.wte(idx)  # (b, t, n_embd)
        pos_emb = self.transformer.wpe(pos)  # (t, n_embd), the same for every row of the batch
        x = self.transformer.drop(tok_emb + pos_emb)
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        logits = self.lm_head(x)  # (b, t, vocab_size)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(
                logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1
            )
        return logits, loss

    def configure_optimizers(self, weight_decay, learning_rate, betas):
        """AdamW whose weight decay pulls the matrices (Linear weights, embeddings) towards 0
        but leaves the biases and LayerNorm gains alone: two parameter groups."""
        param_dict = {pn: p for pn, p in self.named_parameters() if p.requires_grad}
        decay_params = [p for n, p in param_dict.items() if p.dim() >= 2]
        nodecay_params = [p for n, p in param_dict.items() if p.dim() < 2]
        optim_groups = [
            {"params": decay_params, "weight_decay": weight_decay},
            {"params": nodecay_params, "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(optim_groups, lr=learning_rate, betas=betas)

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None):
        """Extend each row of idx (b, t) by ``max_new_tokens`` characters, each drawn from the
        model's distribution for the next one (sharpened by temperature < 1, restricted to
        the ``top_k`` likeliest), given at most the last block_size characters."""
        block_size = self.config.block_size
        for _ in range(max_new_tokens):
            idx_cond = idx if idx.size(1) <= block_size else idx[:, -block_size:]
            logits, _ = self(idx_cond)
            logits = logits[:, -1, :] / temperature  # the last position's prediction
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("Inf")
            probs = F.softmax(logits, dim=-1)
            idx_next = torch.multinomial(probs, num_samples=1, generator=generator)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx


# ---- the data ----------------------------------------------------------------------------------


def load_names(seed: int = 1337) -> tuple[list[str], list[str]]:
    """The census first names (lower case), shuffled with ``seed``: 90% train, 10% val."""
    from lectures._pick import words

    names = words()
    random.Random(seed).shuffle(names)
    n = int(0.9 * len(names))
    return names[:n], names[n:]


class Text:
    """The characters of the names and their indices: ``encode("ann\\n") -> [1, 14, 14, 0]``."""

    def __init__(self, names):
        self.chars = sorted(set("".join(names) + "\n"))
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}

    def encode(self, s):
        return [self.stoi[c] for c in s]

    def decode(self, ids):
        return "".join(self.chars[i] for i in ids)

    def tensor(self, names):
        """The names joined into one text, a newline after each, as a (n,) long tensor."""
        return torch.tensor(self.encode("".join(name + "\n" for name in names)), dtype=torch.long)


def get_batch(data, block_size, batch_size, generator=None):
    """``batch_size`` random windows of the text: x (B, T) and y (B, T), y = x shifted by one
    character (the character that follows each position)."""
    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[i : i + block_size] for i in ix])
    y = torch.stack([data[i + 1 : i + 1 + block_size] for i in ix])
    return x, y


@torch.no_grad()
def estimate_loss(model, splits, block_size, batch_size, eval_iters, generator):
    """The mean loss of each split over ``eval_iters`` random batches, in eval mode (no
    dropout)."""
    out = {}
    model.eval()
    for name, data in splits.items():
        losses = torch.zeros(eval_iters)
        for k in range(eval_iters):
            X, Y = get_batch(data, block_size, batch_size, generator)
            _, loss = model(X, Y)
            losses[k] = loss.item()
        out[name] = losses.mean().item()
    model.train()
    return out


def sample_names(model, text, n=10, max_new_tokens=20, generator=None):
    """``n`` names, each started from a newline (the end of a previous name) and cut at the
    next newline."""
    model.eval()
    start = torch.zeros((n, 1), dtype=torch.long)  # text.stoi["\n"] == 0
    rows = model.generate(start, max_new_tokens, generator=generator).tolist()
    model.train()
    return [text.decode(row[1:]).split("\n")[0] for row in rows]


# ---- the training (nanoGPT's train.py) ---------------------------------------------------------


def get_lr(it, learning_rate, min_lr, warmup_iters, lr_decay_iters):
    """Linear warm-up to learning_rate over warmup_iters steps, then a cosine down to min_lr
    at lr_decay_iters, then min_lr."""
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))  # from 1 to 0
    return min_lr + coeff * (learning_rate - min_lr)


@dataclass
class TrainConfig:
    max_iters: int = 1500  # also where the cosine ends (nanoGPT's lr_decay_iters)
    batch_size: int = 32
    learning_rate: float = 3e-3
    min_lr: float = 3e-4
    warmup_iters: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    eval_interval: int = 100
    eval_iters: int = 10
    seed: int = 1337


def configs(quick: bool) -> tuple[GPTConfig, TrainConfig]:
    """The model and its training: the full run's, or a tinier model for a few steps."""
    if quick:
        model = GPTConfig(block_size=16, n_layer=1, n_head=2, n_embd=32)
        return model, TrainConfig(
            max_iters=60, batch_size=16, warmup_iters=10, eval_interval=20, eval_iters=4
        )
    return GPTConfig(block_size=32, n_layer=2, n_head=4, n_embd=64, dropout=0.1), TrainConfig()


def train(model, optimizer, train_data, val_data, tc, generator):
    """nanoGPT's training loop. Returns the loss of every step's batch, and the evaluated
    steps with their train and val losses."""
    block_size = model.config.block_size
    splits = {"train": train_data, "val": val_data}
    history = {"batch": [], "step": [], "train": [], "val": []}
    for it in range(tc.max_iters + 1):
        lr = get_lr(it, tc.learning_rate, tc.min_lr, tc.warmup_iters, tc.max_iters)
        for param_group in optimizer.param_groups:
            param_group["lr"] = lr
        if it % tc.eval_interval == 0 or it == tc.max_iters:
            losses = estimate_loss(
                model, splits, block_size, tc.batch_size, tc.eval_iters, generator
            )
            print(f"step {it:5d}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
            history["step"].append(it)
            history["train"].append(losses["train"])
            history["val"].append(losses["val"])
        if it == tc.max_iters:
            break
        X, Y = get_batch(train_data, block_size, tc.batch_size, generator)
        _, loss = model(X, Y)
        history["batch"].append(loss.item())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        optimizer.step()
    return history


def plot_losses(history, path, title, vocab_size):
    fig, ax = plt.subplots(figsize=(7, 4.2))
    batches = "training batch (dropout on)"
    ax.plot(history["batch"], color="lightgrey", linewidth=0.6, label=batches)
    ax.plot(history["step"], history["train"], marker="o", label="train")
    ax.plot(history["step"], history["val"], marker="o", label="validation")
    uniform = f"uniform guess, ln {vocab_size}"
    ax.axhline(math.log(vocab_size), color="grey", linestyle="--", label=uniform)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy per character")
    ax.set_title(title)
    ax.legend()
    return _common.save_figure(fig, path)


def load(use_torch: bool):
    """This file as a module whose ``torch`` is PyTorch (``use_torch``) or tinygrad_edu."""
    import importlib.util
    import sys

    name = "tiny_gpt_torch" if use_torch else "tiny_gpt_tinygrad_edu"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, __file__)
        module = importlib.util.module_from_spec(spec)
        module.USE_TORCH = use_torch
        sys.modules[name] = module  # (the dataclasses look their module up there)
        spec.loader.exec_module(module)
    return sys.modules[name]


def main(argv: list[str] | None = None) -> dict:
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)  # PyTorch's default (tinygrad_edu's is float64)
    try:
        with _common.one_blas_thread():
            return run(argv)
    finally:
        torch.set_default_dtype(previous)


def run(argv: list[str] | None = None) -> dict:
    p = _common.parser(__doc__, DEFAULT_OUT)
    p.add_argument("--torch", action="store_true", help="run the same code on PyTorch")
    p.add_argument("--steps", type=int, default=None, help="training steps (1500)")
    args = p.parse_args(argv)
    if args.torch != USE_TORCH:
        return load(args.torch).run(argv)
    start = time.perf_counter()
    config, tc = configs(args.quick)
    if args.steps is not None:
        tc.max_iters = args.steps
    library = "PyTorch" if USE_TORCH else "tinygrad_edu"

    train_names, val_names = load_names(tc.seed)
    text = Text(train_names + val_names)
    config.vocab_size = len(text.chars)
    train_data, val_data = text.tensor(train_names), text.tensor(val_names)
    print(
        f"{len(train_names)} names ({len(train_data)} characters) to train on, "
        f"{len(val_names)} ({len(val_data)}) to validate; vocabulary of {config.vocab_size}"
    )

    torch.manual_seed(tc.seed)  # the initial weights
    model = GPT(config)
    optimizer = model.configure_optimizers(tc.weight_decay, tc.learning_rate, (tc.beta1, tc.beta2))
    n_params = model.get_num_params()
    print(f"{library}: GPT with {n_params:,} parameters: {config}")
    g = torch.Generator().manual_seed(tc.seed)  # the batches and the samples

    samples_before = sample_names(model, text, generator=g)
    print("samples before training:", ", ".join(samples_before))
    history = train(model, optimizer, train_data, val_data, tc, g)
    samples_after = sample_names(model, text, generator=g)
    print("samples after training: ", ", ".join(samples_after))

    seconds = time.perf_counter() - start
    title = f"tiny GPT on first names ({n_params:,} parameters, {library})"
    files = [plot_losses(history, args.out / "loss.png", title, config.vocab_size)]
    print(f"done in {seconds:.0f} s; val loss {history['val'][0]:.4f} -> {history['val'][-1]:.4f}")
    return {
        "library": library,
        "config": config,
        "train_config": tc,
        "n_params": n_params,
        "steps": tc.max_iters,
        "history": history,
        "train_loss_before": history["train"][0],
        "val_loss_before": history["val"][0],
        "train_loss_after": history["train"][-1],
        "val_loss_after": history["val"][-1],
        "samples_before": samples_before,
        "samples_after": samples_after,
        "vocab": text.chars,
        "files": files,
        "seconds": seconds,
    }


if __name__ == "__main__":
    main()
