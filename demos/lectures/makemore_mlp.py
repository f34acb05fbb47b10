"""makemore, part 2, written for PyTorch: an MLP on character embeddings (``C[X]``, ``view``,
minibatches from ``randint``), as in Bengio et al. 2003.

    python demos/lectures/makemore_mlp.py            # on tinygrad_edu
    python demos/lectures/makemore_mlp.py --torch    # the same code on PyTorch
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pick import dataset, libraries, words  # noqa: E402


def run(use_torch: bool = False, steps: int = 2000) -> dict:
    torch, F = libraries(use_torch)
    names = words()
    chars = sorted(set("".join(names)))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    itos = {i: s for s, i in stoi.items()}
    block_size = 3
    random.seed(42)
    random.shuffle(names)
    n1 = int(0.8 * len(names))
    Xtr, Ytr = dataset(torch, names[:n1], block_size)
    Xdev, Ydev = dataset(torch, names[n1:], block_size)

    g = torch.Generator().manual_seed(2147483647)
    C = torch.randn((27, 10), generator=g)
    W1 = torch.randn((30, 200), generator=g) * 0.2
    b1 = torch.randn(200, generator=g) * 0.01
    W2 = torch.randn((200, 27), generator=g) * 0.01
    b2 = torch.randn(27, generator=g) * 0
    parameters = [C, W1, b1, W2, b2]
    for p in parameters:
        p.requires_grad = True
    print("parameters:", sum(p.nelement() for p in parameters))

    for i in range(steps):
        ix = torch.randint(0, Xtr.shape[0], (32,), generator=g)
        emb = C[Xtr[ix]]  # (32, 3, 10)
        h = torch.tanh(emb.view(-1, 30) @ W1 + b1)
        logits = h @ W2 + b2
        loss = F.cross_entropy(logits, Ytr[ix])
        for p in parameters:
            p.grad = None
        loss.backward()
        lr = 0.1 if i < steps // 2 else 0.01
        for p in parameters:
            p.data += -lr * p.grad

    @torch.no_grad()
    def split_loss(X, Y):
        emb = C[X]
        h = torch.tanh(emb.view(emb.shape[0], -1) @ W1 + b1)
        return F.cross_entropy(h @ W2 + b2, Y).item()

    train_loss, dev_loss = split_loss(Xtr, Ytr), split_loss(Xdev, Ydev)
    print(f"after {steps} steps: train {train_loss:.4f}, dev {dev_loss:.4f}")

    samples = []
    for _ in range(5):
        out, context = [], [0] * block_size
        while True:
            emb = C[torch.tensor([context])]
            h = torch.tanh(emb.view(1, -1) @ W1 + b1)
            probs = F.softmax(h @ W2 + b2, dim=1)
            ix = torch.multinomial(probs, num_samples=1, generator=g).item()
            context = context[1:] + [ix]
            if ix == 0:
                break
            out.append(itos[ix])
        samples.append("".join(out))
    print("samples:", samples)
    return {"train": train_loss, "dev": dev_loss, "samples": samples}


if __name__ == "__main__":
    run("--torch" in sys.argv)
