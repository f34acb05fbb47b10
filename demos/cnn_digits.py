"""A small convolutional network on the handwritten digits, written as PyTorch code.

The data of demos/digits.py: scikit-learn's 1,797 digits, the same 80/20 split
(``train_test_split(test_size=0.2, random_state=42)``), so the test accuracy compares with
the flagship MLP's (97.5% there). A convolution needs the pixels as images, so each row of 64
becomes a 1-channel 8 x 8 image, ``(N, 1, 8, 8)``, scaled to [0, 1] by dividing by 16 (the
largest value; one scale for every pixel keeps the image as it was drawn, where the MLP's
``MinMaxScaler`` stretches each pixel on its own).

The network, with the shape of one batch of N images after each step::

    conv1  Conv2d(1, 8, 3, padding=1)  -> BatchNorm2d(8)  -> ReLU    (N, 8, 8, 8)
    conv2  Conv2d(8, 16, 3, padding=1) -> BatchNorm2d(16) -> ReLU    (N, 16, 8, 8)
    pool   MaxPool2d(2)                                              (N, 16, 4, 4)
    fc     flatten -> Dropout(0.25) -> Linear(256, 10)               (N, 10) logits

(The benchmark W7 pools after each convolution, down to 2 x 2; here the second convolution
still sees the whole 8 x 8 image, and BatchNorm and dropout are added.) Adam (lr 3e-3),
mini-batches of 64, 150 epochs, the lr falling along a cosine to 0 (``CosineAnnealingLR``).
A tenth of the training set is held out as a validation set, whose accuracy is recorded every
epoch (the training curve); the test set is used once, at the end. Each seed (0 to 4 unless
``--seeds``) sets the initial weights, the shuffling of the batches and the dropout masks.

The number of epochs and the dropout were chosen by 5-fold cross-validation on the training
set alone: of its 1,437 images, 20 were misclassified after 40 epochs, 14 after 60, 13 after
100, 11 after 150 and 8 after 200 (dropout 0.25); 23 after 100 epochs without dropout.

The pictures go to ``out/cnn_digits`` unless ``--out`` names another folder:
``filters.png`` (the learned 3 x 3 filters), ``feature_maps.png`` (one test digit as the
layers see it), ``training.png`` (seed 0's loss and validation accuracy per epoch) and
``graph.svg``/``graph.png`` (one forward pass and its loss, each module in a box).

    python demos/cnn_digits.py                    # seeds 0-4, about a minute and a half
    python demos/cnn_digits.py --quick --out /tmp/cnn
    python demos/cnn_digits.py --out docs/images/cnn_digits

The code is PyTorch's: with its four imports of ``tinygrad_edu`` switched to ``torch``
(``import torch``, ``import torch.nn.functional as F``, ``from torch import nn, optim``,
``from torch.utils.data import ...``) it trains on PyTorch; only the graph drawing
(``torch.draw_graph``) is tinygrad_edu's own.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import _common
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import tinygrad_edu as torch
import tinygrad_edu.nn.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.utils.data import DataLoader, TensorDataset

DEFAULT_OUT = Path("out") / "cnn_digits"
MLP_ACCURACY = 0.975  # demos/digits.py's library network on the same test set
EPOCHS, QUICK_EPOCHS = 150, 8
BATCH_SIZE = 64
LR = 3e-3
DROPOUT = 0.25
VAL_FRACTION = 0.1


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``X_train, X_test, y_train, y_test``: images (N, 1, 8, 8) float32 in [0, 1] and labels
    (N,) int64, split as demos/digits.py splits them (1,437 training, 360 test)."""
    digits = load_digits()
    images = (digits.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    return train_test_split(images, digits.target, test_size=0.2, random_state=42)


def validation_split(X: np.ndarray, y: np.ndarray) -> tuple:
    """``X_fit, X_val, y_fit, y_val``: a tenth of the training set held out, as many of each
    digit as its share (stratified), the same for every seed."""
    return train_test_split(X, y, test_size=VAL_FRACTION, random_state=0, stratify=y)


class DigitCNN(nn.Module):
    """(N, 1, 8, 8) images -> (N, 10) logits (the softmax lives in the loss)."""

    def __init__(self, dropout: float = DROPOUT) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)  # 8 filters of 3 x 3
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)  # 16 filters of 8 x 3 x 3
        self.bn2 = nn.BatchNorm2d(16)
        self.relu2 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)  # the largest of each 2 x 2 block: 8 x 8 -> 4 x 4
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        x = self.relu1(self.bn1(self.conv1(x)))  # (N, 8, 8, 8)
        x = self.relu2(self.bn2(self.conv2(x)))  # (N, 16, 8, 8)
        x = self.pool(x)  # (N, 16, 4, 4)
        return self.fc(self.dropout(x.flatten(1)))  # (N, 256) -> (N, 10)


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of images whose largest logit is their label, in eval mode (dropout off,
    BatchNorm with its running statistics)."""
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(X))
    return float((logits.argmax(dim=1).numpy() == y).mean())


def train(
    seed: int,
    X_fit: np.ndarray,
    y_fit: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    epochs: int = EPOCHS,
    lr: float = LR,
) -> tuple[nn.Module, dict]:
    """Adam on shuffled mini-batches of 64 for ``epochs`` epochs, the lr annealed along a
    cosine. Returns the model and its history: the mean training loss and the validation
    accuracy of every epoch."""
    torch.manual_seed(seed)  # the initial weights, the batches' order, the dropout masks
    model = DigitCNN()
    optimizer = optim.Adam(model.parameters(), lr=lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    dataset = TensorDataset(torch.from_numpy(X_fit), torch.from_numpy(y_fit))
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True)
    history = {"loss": [], "val_accuracy": []}
    for _ in range(epochs):
        model.train()
        total = 0.0
        for images, labels in loader:
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(labels)
        scheduler.step()
        history["loss"].append(total / len(X_fit))
        history["val_accuracy"].append(accuracy(model, X_val, y_val))
    return model, history


# ---- pictures -----------------------------------------------------------------------------------


def plot_training(history: dict, seed: int, path: Path) -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    epochs = np.arange(1, len(history["loss"]) + 1)
    left.plot(epochs, history["loss"])
    left.set_yscale("log")
    left.set_ylabel("mean cross-entropy of the epoch's batches")
    left.set_title("training loss")
    right.plot(epochs, history["val_accuracy"], color="tab:orange")
    right.axhline(
        MLP_ACCURACY, color="grey", linestyle="--", label="the MLP's test accuracy (digits.py)"
    )
    right.set_ylim(max(0.0, min(history["val_accuracy"]) - 0.02), 1.005)
    right.set_ylabel("accuracy")
    right.set_title(f"validation accuracy ({len(epochs)} epochs)")
    right.legend(loc="lower right")
    for ax in (left, right):
        ax.set_xlabel("epoch")
    fig.suptitle(f"DigitCNN, seed {seed}: Adam, batches of 64, cosine lr, dropout {DROPOUT}")
    return _common.save_figure(fig, path)


def _kernel_mosaic(weight: np.ndarray) -> np.ndarray:
    """(out, in, 3, 3) kernels -> one image of out x in tiles with a blank (NaN) pixel
    between them: row o, column i is the kernel that output channel o applies to input
    channel i."""
    out, inp, k, _ = weight.shape
    mosaic = np.full((out * (k + 1) - 1, inp * (k + 1) - 1), np.nan)
    for o in range(out):  # 16 x 8 small tiles: a loop over pictures, not over pixels
        for i in range(inp):
            mosaic[o * (k + 1) : o * (k + 1) + k, i * (k + 1) : i * (k + 1) + k] = weight[o, i]
    return mosaic


def plot_filters(model: DigitCNN, path: Path) -> Path:
    """conv1's eight 3 x 3 filters; conv2's 16 x 8 kernels as one mosaic; and how strongly
    each conv2 filter reads each conv1 channel (the norm of its kernel)."""
    w1 = model.conv1.weight.detach().numpy()[:, 0]  # (8, 3, 3)
    w2 = model.conv2.weight.detach().numpy()  # (16, 8, 3, 3)
    fig = plt.figure(figsize=(12, 8.5))
    grid = fig.add_gridspec(2, 8, height_ratios=[1, 3.2], hspace=0.3)
    m1 = np.abs(w1).max()
    for c in range(8):
        ax = fig.add_subplot(grid[0, c])
        image = ax.imshow(w1[c], cmap="RdBu_r", vmin=-m1, vmax=m1)
        ax.set_title(f"conv1 filter {c}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=fig.axes, location="right", shrink=0.9, fraction=0.02)
    ax = fig.add_subplot(grid[1, :5])
    m2 = np.abs(w2).max()
    ax.imshow(_kernel_mosaic(w2), cmap="RdBu_r", vmin=-m2, vmax=m2)
    ax.set_xticks(np.arange(8) * 4 + 1, [str(i) for i in range(8)])
    ax.set_yticks(np.arange(16) * 4 + 1, [str(o) for o in range(16)])
    ax.set_xlabel("input channel (conv1 filter)")
    ax.set_ylabel("conv2 filter")
    ax.set_title(f"conv2's 3 x 3 kernels (colour scale +-{m2:.2f})", fontsize=10)
    ax = fig.add_subplot(grid[1, 5:])
    norms = np.sqrt((w2**2).sum(axis=(2, 3)))  # (16, 8)
    image = ax.imshow(norms, cmap="viridis", aspect="auto")
    ax.set_xticks(range(8))
    ax.set_yticks(range(16))
    ax.set_xlabel("input channel (conv1 filter)")
    ax.set_title("norm of each conv2 kernel", fontsize=10)
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.suptitle(
        "Learned filters (red positive, blue negative; conv1 colour scale "
        f"+-{m1:.2f}, shared by its filters)"
    )
    return _common.save_figure(fig, path)


def feature_maps(model: DigitCNN, image: np.ndarray) -> dict[str, np.ndarray]:
    """The outputs of relu1, relu2 and pool for one (1, 8, 8) image, caught with forward
    hooks (eval mode)."""
    caught = {}
    handles = [
        getattr(model, name).register_forward_hook(
            lambda module, inputs, output, name=name: caught.update({name: output.numpy()[0]})
        )
        for name in ("relu1", "relu2", "pool")
    ]
    model.eval()
    with torch.no_grad():
        model(torch.from_numpy(image[None]))
    for handle in handles:
        handle.remove()
    return caught


def plot_feature_maps(model: DigitCNN, image: np.ndarray, label: int, path: Path) -> Path:
    """The image, and each channel's map after conv1, conv2 and the pooling; one colour scale
    per layer (0 black, the layer's largest value white)."""
    maps = feature_maps(model, image)
    rows = [  # (layer, first channel of the row, row label)
        ("relu1", 0, "conv1, BN, ReLU"),
        ("relu2", 0, "conv2, BN, ReLU"),
        ("relu2", 8, "conv2, BN, ReLU"),
        ("pool", 0, "max pool 2 x 2"),
        ("pool", 8, "max pool 2 x 2"),
    ]
    fig = plt.figure(figsize=(13, 7.5))
    # a wide column for the image, a gap, then eight columns of maps
    grid = fig.add_gridspec(len(rows), 10, width_ratios=[3, 0.8] + [1] * 8, wspace=0.15, hspace=0.3)
    ax = fig.add_subplot(grid[1:4, 0])
    ax.imshow(image[0], cmap="gray_r")
    ax.set_title(f"test image (label {label})")
    ax.set_axis_off()
    for r, (layer, first, title) in enumerate(rows):
        top = maps[layer].max()
        for c in range(8):
            ax = fig.add_subplot(grid[r, 2 + c])
            ax.imshow(maps[layer][first + c], cmap="magma", vmin=0, vmax=top)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(f"{title}\nch {first}-{first + 7}", fontsize=8)
    fig.suptitle("What the layers see: each channel's map (0 black; one colour scale per layer)")
    return _common.save_figure(fig, path)


def draw_network(model: DigitCNN, X: np.ndarray, y: np.ndarray, stem: Path) -> tuple:
    """The graph of one forward pass and its loss on 2 images, each module's operations and
    parameters in a labelled box (a Graphviz cluster). Returns the files and the diagram.

    It is drawn as training records it (batch statistics, dropout), on a copy of the model:
    a forward pass in training mode updates BatchNorm's running statistics."""
    model = copy.deepcopy(model).train()
    images = torch.from_numpy(X[:2])
    loss = F.cross_entropy(model(images), torch.from_numpy(y[:2]))
    loss.name = "loss"
    diagram = torch.draw_graph(loss, model=model, rankdir="TB", legend=False)
    return _common.save_diagram(diagram, stem), diagram


# ---- the run ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict:
    with _common.one_blas_thread():
        return run(argv)


def run(argv: list[str] | None = None) -> dict:
    p = _common.parser(__doc__, DEFAULT_OUT)
    p.add_argument("--seeds", type=int, nargs="+", help="seeds to train (default 0 1 2 3 4)")
    p.add_argument("--epochs", type=int, help=f"epochs per seed (default {EPOCHS})")
    args = p.parse_args(argv)
    seeds = args.seeds or ([0] if args.quick else [0, 1, 2, 3, 4])
    epochs = args.epochs or (QUICK_EPOCHS if args.quick else EPOCHS)
    start = time.perf_counter()
    print(f"pictures go to {args.out}/")
    X_train, X_test, y_train, y_test = load_data()
    X_fit, X_val, y_fit, y_val = validation_split(X_train, y_train)
    print(
        f"{len(X_fit)} training, {len(X_val)} validation and {len(X_test)} test images of "
        f"8 x 8 pixels; {epochs} epochs per seed\n"
    )
    models, histories, accuracies, train_seconds = [], [], [], []
    for seed in seeds:
        t0 = time.perf_counter()
        model, history = train(seed, X_fit, y_fit, X_val, y_val, epochs=epochs)
        train_seconds.append(time.perf_counter() - t0)
        accuracies.append(accuracy(model, X_test, y_test))  # the test set, once per seed
        models.append(model)
        histories.append(history)
        print(
            f"seed {seed}: test accuracy {accuracies[-1]:.2%} "
            f"(validation {history['val_accuracy'][-1]:.2%}), trained in {train_seconds[-1]:.1f} s"
        )
    print(
        f"\ntest accuracy over {len(seeds)} seed(s): min {min(accuracies):.2%}, "
        f"mean {np.mean(accuracies):.2%} (the MLP of demos/digits.py: {MLP_ACCURACY:.1%})"
    )

    graph_files, diagram = draw_network(models[0], X_test, y_test, args.out / "graph")
    files = [
        plot_training(histories[0], seeds[0], args.out / "training.png"),
        plot_filters(models[0], args.out / "filters.png"),
        plot_feature_maps(models[0], X_test[0], int(y_test[0]), args.out / "feature_maps.png"),
        *graph_files,
    ]
    seconds = time.perf_counter() - start
    print(f"done in {seconds:.0f} s; pictures in {args.out}/")
    return {
        "seeds": seeds,
        "epochs": epochs,
        "accuracies": accuracies,
        "min_accuracy": min(accuracies),
        "mean_accuracy": float(np.mean(accuracies)),
        "train_seconds": train_seconds,
        "models": models,
        "histories": histories,
        "diagram": diagram,
        "files": files,
        "seconds": seconds,
    }


if __name__ == "__main__":
    main()
