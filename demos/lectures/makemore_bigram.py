"""makemore, part 1, written for PyTorch: a bigram model of names by counting, sampled with a
seeded Generator, then the same model as a one-layer neural network trained by gradient descent.

    python demos/lectures/makemore_bigram.py            # on tinygrad_edu
    python demos/lectures/makemore_bigram.py --torch    # the same code on PyTorch
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pick import libraries, words  # noqa: E402


def run(use_torch: bool = False, steps: int = 50) -> dict:
    torch, F = libraries(use_torch)
    names = words()
    chars = sorted(set("".join(names)))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    itos = {i: s for s, i in stoi.items()}
    V = len(stoi)

    # ---- counting: N[i, j] is how often character j follows character i
    N = torch.zeros((V, V), dtype=torch.int32)
    for w in names:
        chs = ["."] + list(w) + ["."]
        for ch1, ch2 in zip(chs, chs[1:]):
            N[stoi[ch1], stoi[ch2]] += 1
    P = (N + 1).float()
    P /= P.sum(1, keepdims=True)

    g = torch.Generator().manual_seed(2147483647)
    samples = []
    for _ in range(5):
        out, ix = [], 0
        while True:
            p = P[ix]
            ix = torch.multinomial(p, num_samples=1, replacement=True, generator=g).item()
            if ix == 0:
                break
            out.append(itos[ix])
        samples.append("".join(out))

    log_likelihood, n = 0.0, 0
    for w in names:
        chs = ["."] + list(w) + ["."]
        for ch1, ch2 in zip(chs, chs[1:]):
            log_likelihood += torch.log(P[stoi[ch1], stoi[ch2]])
            n += 1
    counts_loss = (-log_likelihood / n).item()
    print(f"counting: nll {counts_loss:.4f}; samples {samples}")

    # ---- the same model as a neural network
    xs, ys = [], []
    for w in names:
        chs = ["."] + list(w) + ["."]
        for ch1, ch2 in zip(chs, chs[1:]):
            xs.append(stoi[ch1])
            ys.append(stoi[ch2])
    xs, ys = torch.tensor(xs), torch.tensor(ys)
    num = xs.nelement()
    W = torch.randn((V, V), generator=g, requires_grad=True)
    losses = []
    for _ in range(steps):
        xenc = F.one_hot(xs, num_classes=V).float()
        logits = xenc @ W
        counts = logits.exp()
        probs = counts / counts.sum(1, keepdims=True)
        loss = -probs[torch.arange(num), ys].log().mean() + 0.01 * (W**2).mean()
        W.grad = None
        loss.backward()
        W.data += -50 * W.grad
        losses.append(loss.item())
    print(f"neural bigram: loss {losses[0]:.4f} -> {losses[-1]:.4f} after {steps} steps")
    return {"counts_loss": counts_loss, "samples": samples, "losses": losses, "N": N}


if __name__ == "__main__":
    run("--torch" in sys.argv)
