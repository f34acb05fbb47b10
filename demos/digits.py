"""Handwritten digits (the 001 article): its network from scratch, then with the library's tools.

scikit-learn's 1,797 digits (8 x 8 images), pixels scaled to [0, 1], labels one-hot,
80% for training and 20% for testing (``train_test_split(test_size=0.2, random_state=42)``).

1. **The article's experiment.** 64 sigmoid hidden units, a softmax output, cross-entropy,
   full-batch gradient descent with learning rate 0.1 for 1,000 epochs, the weights drawn
   from a standard normal and the biases zero. The article derives every gradient by hand;
   here the engine derives them from the loss. Like the article's ``Trainer``, it records
   the training and test loss of every epoch (plotted to ``article_loss.png``).
2. **The library version of the article's section 4.2** (there written with Keras): ReLU
   hidden units, softmax output, Adam, mini-batches of 32, trained with ``tg.train.fit``.
   Against overfitting, the remedies the article lists: a validation set (10% of the
   training set), early stopping on the validation loss (patience 50, keeping the best
   epoch's weights) and dropout (0.2, ``--dropout``). The test set is used once, at the
   end.

Both test accuracies are printed; the pictures (loss curves and a diagram of the network's
graph) go to a folder, ``out/digits`` unless ``--out`` names another.

    python demos/digits.py                  # the flagship demo: well under a minute
    python demos/digits.py --dropout 0 --out /tmp/digits
"""

from __future__ import annotations

import time
from pathlib import Path

import _common
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.data import DataLoader, TensorDataset
from tinygrad_edu.train import EarlyStopping, evaluate, fit

DEFAULT_OUT = Path("out") / "digits"


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The article's data: MinMax-scaled pixels, one-hot labels, an 80/20 split."""
    digits = load_digits()
    X = MinMaxScaler().fit_transform(digits.data)
    y_onehot = np.eye(10)[digits.target]  # row i of the identity is the one-hot code of i
    return train_test_split(X, y_onehot, test_size=0.2, random_state=42)


def accuracy(model: nn.Module, X: np.ndarray, y_onehot: np.ndarray) -> float:
    """Fraction of examples whose most probable class is the right one (in eval mode, so
    dropout is off, as it must be for predictions)."""
    model.eval()
    with tg.no_grad():
        logits = model(tg.Tensor(X))
    return float(np.mean(logits.numpy().argmax(axis=1) == y_onehot.argmax(axis=1)))


# ---- 1. the article's experiment ----------------------------------------------------------------


def article_network(seed: int = 0) -> nn.Sequential:
    """64 -> 64 sigmoid -> 10, weights from a standard normal (the article's
    ``np.random.randn``, input-major; ``nn.Linear`` keeps them transposed), biases zero.

    The softmax is not a layer here: ``F.cross_entropy`` applies it to the outputs (the
    logits) itself, in a form that cannot overflow, and the largest logit is also the most
    probable class."""
    rng = np.random.default_rng(seed)
    W1, W2 = rng.standard_normal((64, 64)), rng.standard_normal((64, 10))
    model = nn.Sequential(nn.Linear(64, 64), nn.Sigmoid(), nn.Linear(64, 10))
    model.load_state_dict(
        {
            "0.weight": W1.T.copy(),
            "0.bias": np.zeros(64),
            "2.weight": W2.T.copy(),
            "2.bias": np.zeros(10),
        }
    )
    return model


def article_experiment(X_train, X_test, y_train, y_test, epochs: int = 1000, lr: float = 0.1):
    """Full-batch gradient descent on cross-entropy (-mean over the examples of
    sum_k y_k log softmax_k), as the article's ``NeuralNetwork.backward`` does by hand.
    Returns the model and the training and test loss of every epoch. (The article's
    Trainer also averages over the ten classes, which makes its numbers a tenth of these;
    the curves have the same shape.)"""
    model = article_network()
    optimizer = optim.SGD(model.parameters(), lr=lr)
    X, y, Xt, yt = (tg.Tensor(a) for a in (X_train, y_train, X_test, y_test))
    train_loss, test_loss = [], []
    for _ in range(epochs):
        loss = F.cross_entropy(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        # As the article's Trainer: the training loss of the forward pass that made the step,
        # and the test loss after it.
        train_loss.append(loss.item())
        with tg.no_grad():
            test_loss.append(F.cross_entropy(model(Xt), yt).item())
    return model, train_loss, test_loss


def plot_article(train_loss, test_loss, path):
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(train_loss, label="train")
    ax.plot(test_loss, label="test")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    ax.set_yscale("log")
    ax.set_title("The article's network: sigmoid, full batch, lr 0.1")
    ax.legend()
    return _common.save_figure(fig, path)


# ---- 2. the library version of section 4.2 ------------------------------------------------------


def library_network(dropout: float = 0.0) -> nn.Sequential:
    """64 -> 64 ReLU (-> dropout) -> 10. As above, the softmax lives in the loss."""
    layers = [nn.Linear(64, 64), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(64, 10))
    return nn.Sequential(*layers)


def library_experiment(
    X_train,
    y_train,
    epochs: int = 300,
    patience: int = 50,
    dropout: float = 0.2,
    lr: float = 1e-3,
    batch_size: int = 32,
    seed: int = 0,
    val_fraction: float = 0.1,
    weight_decay: float = 0.0,
    progress: bool = True,
):
    """Adam on mini-batches with ``tg.train.fit``; a part of the training set is held out
    for validation, and early stopping keeps the weights of the best validation loss."""
    X_fit, X_val, y_fit, y_val = train_test_split(
        X_train, y_train, test_size=val_fraction, random_state=seed
    )
    tg.manual_seed(seed)  # the initial weights and the dropout masks
    model = library_network(dropout)
    train_loader = DataLoader(
        TensorDataset(X_fit, y_fit), batch_size=batch_size, shuffle=True, seed=seed
    )
    val_loader = DataLoader(TensorDataset(X_val, y_val), batch_size=len(X_val))
    stopper = EarlyStopping(patience=patience, restore_best=True)
    history = fit(
        model,
        F.cross_entropy,
        optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay),
        train_loader,
        epochs=epochs,
        val_loader=val_loader,
        metrics=["accuracy"],
        early_stopping=stopper,
        progress=progress,
    )
    return model, history, stopper


def plot_library(history, stopper, path):
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    epochs = np.arange(1, history.epochs + 1)
    left.plot(epochs, history["loss"], label="train")
    left.plot(epochs, history["val_loss"], label="validation")
    left.set_ylabel("cross-entropy")
    left.set_yscale("log")
    right.plot(epochs, history["accuracy"], label="train")
    right.plot(epochs, history["val_accuracy"], label="validation")
    right.set_ylabel("accuracy")
    for ax in (left, right):
        if stopper.best_epoch is not None:
            ax.axvline(stopper.best_epoch, color="grey", linestyle="--", label="best epoch")
        ax.set_xlabel("epoch")
        ax.legend()
    fig.suptitle("ReLU, Adam, dropout, mini-batches, early stopping (tg.train.fit)")
    return _common.save_figure(fig, path)


def draw_network(model: nn.Module, X: np.ndarray, y: np.ndarray, stem) -> list:
    """The graph of the loss on a batch of 4 examples, each layer (and the loss, written as
    a module for that) drawn as one box."""
    images, labels = tg.Tensor(X[:4], name="images"), tg.Tensor(y[:4], name="labels")
    loss = nn.CrossEntropyLoss()(model(images), labels)
    loss.name = "loss"
    diagram = tg.draw_graph(loss, model=model, collapse_modules=True)
    return _common.save_diagram(diagram, stem)


def main(argv: list[str] | None = None) -> dict:
    with _common.one_blas_thread():
        return run(argv)


def run(argv: list[str] | None = None) -> dict:
    p = _common.parser(__doc__, DEFAULT_OUT)
    p.add_argument("--dropout", type=float, default=0.2, help="after the hidden layer (0.2)")
    p.add_argument("--weight-decay", type=float, default=0.0, help="Adam's L2 penalty (0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    start = time.perf_counter()
    print(f"pictures go to {args.out}/")
    X_train, X_test, y_train, y_test = load_data()
    print(f"{len(X_train)} training and {len(X_test)} test images of 8 x 8 pixels\n")

    article_epochs = 100 if args.quick else 1000
    print(f"1. The article's network: sigmoid, full batch, lr 0.1, {article_epochs} epochs")
    model_a, train_loss, test_loss = article_experiment(
        X_train, X_test, y_train, y_test, epochs=article_epochs
    )
    article_acc = accuracy(model_a, X_test, y_test)
    print(f"   final loss: train {train_loss[-1]:.4f}, test {test_loss[-1]:.4f}")
    print(f"   Accuracy: {article_acc:.2%}\n")

    epochs = 5 if args.quick else 300
    print(
        f"2. With the library: ReLU, Adam, mini-batches of 32, dropout {args.dropout}, "
        "early stopping on a validation split"
    )
    model_b, history, stopper = library_experiment(
        X_train,
        y_train,
        epochs=epochs,
        dropout=args.dropout,
        weight_decay=args.weight_decay,
        progress=not args.no_progress,
    )
    library_acc = accuracy(model_b, X_test, y_test)
    test = evaluate(model_b, F.cross_entropy, DataLoader(TensorDataset(X_test, y_test), 400))
    stopped = (
        f"stopped after epoch {stopper.stopped_epoch}"
        if stopper.stopped_epoch
        else f"ran all {history.epochs} epochs"
    )
    print(f"   {stopped}; best validation loss at epoch {stopper.best_epoch}, weights restored")
    print(f"   test loss {test['loss']:.4f}")
    print(f"   Test accuracy: {library_acc:.2%}\n")

    files = [
        plot_article(train_loss, test_loss, args.out / "article_loss.png"),
        plot_library(history, stopper, args.out / "library_training.png"),
        *draw_network(model_b, X_test, y_test, args.out / "network_graph"),
    ]
    seconds = time.perf_counter() - start
    print(f"\narticle's network {article_acc:.2%}, library version {library_acc:.2%} test accuracy")
    print(f"done in {seconds:.0f} s; pictures in {args.out}/")
    return {
        "article_accuracy": article_acc,
        "article_train_loss": train_loss,
        "article_test_loss": test_loss,
        "library_accuracy": library_acc,
        "history": history,
        "best_epoch": stopper.best_epoch,
        "files": files,
        "seconds": seconds,
    }


if __name__ == "__main__":
    main()
