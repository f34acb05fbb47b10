"""Regression of a 2-D surface (the 000 article), with autograd, and then a recipe that fits it.

The target is ``f(x, y) = sin(x) + x*cos(y) + y + 3**(x/3)`` on [-10, 10]^2. The article's
network is ``[2, 64, 64, 64, 1]`` with ReLU after every hidden layer and a linear output,
weights drawn from uniform(-1, 1) after ``np.random.seed(99)`` and zero biases. It trains on
a 100 x 100 grid, inputs and outputs standardised, by full-batch gradient descent with
learning rate 0.001 for 2,000 epochs, printing the MSE every 20 epochs. Its backward is
written by hand: the output error ``pred - y``, every weight gradient divided by the batch
size m, which makes it the gradient of ``0.5 * mean((pred - y)**2)``. Here that loss is
written down and the engine differentiates it.

1. The article's run, on the grid and on 10,000 random points. Its first epochs are checked
   against the article's hand-written NumPy algorithm (``article_numpy`` below): the same
   losses and weights to float64 precision.
2. A recipe that fits the surface well; the article calls its own result "okay" and names
   the remedies (learning rate, more epochs, annealing, ...). Here: PyTorch's default
   initialisation instead of uniform(-1, 1), Adam, mini-batches of 100 and a learning rate
   annealed from 3e-3 to 3e-5 (cosine) over 150 epochs; same architecture, same grid.
3. Both models measured on 2,000 held-out random points, as MSE in standardised units (the
   fraction of the target's variance left unexplained) and in the target's own units.

    python demos/surface.py                  # a few minutes; writes docs/images/surface.png
    python demos/surface.py --quick --out /tmp/surface
"""

from __future__ import annotations

import math
import time

import _common
import matplotlib.pyplot as plt
import numpy as np

import tinygrad_edu as tg
from tinygrad_edu import nn, optim

ARCHITECTURE = [2, 64, 64, 64, 1]
LR = 0.001
EPOCHS = 2000


def random_function(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.sin(x) + x * np.cos(y) + y + 3 ** (x / 3)


def grid(n: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The article's grid: X, Y, Z as (n, n) arrays over [-10, 10]^2."""
    X, Y = np.meshgrid(np.linspace(-10, 10, n), np.linspace(-10, 10, n))
    return X, Y, random_function(X, Y)


def random_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n points drawn uniformly from [-10, 10]^2: inputs (n, 2) and targets (n,)."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-10, 10, (n, 2))
    return xy, random_function(xy[:, 0], xy[:, 1])


class Standardizer:
    """Inputs and outputs to mean 0 and standard deviation 1, with the training set's
    statistics (and back, to plot predictions in the target's own units)."""

    def __init__(self, inputs: np.ndarray, outputs: np.ndarray) -> None:
        self.in_mean, self.in_std = inputs.mean(axis=0), inputs.std(axis=0)
        self.out_mean, self.out_std = outputs.mean(), outputs.std()

    def inputs(self, xy: np.ndarray) -> np.ndarray:
        return (xy - self.in_mean) / self.in_std

    def outputs(self, z: np.ndarray) -> np.ndarray:
        return (z - self.out_mean) / self.out_std

    def unscale(self, z: np.ndarray) -> np.ndarray:
        return z * self.out_std + self.out_mean


# ---- the article's network and training, on the engine -----------------------------------------


def article_weights() -> list[np.ndarray]:
    """The article's initial weights, input-major (n_in, n_out), drawn layer by layer."""
    np.random.seed(99)
    return [
        np.random.uniform(low=-1, high=1, size=(n_in, n_out))
        for n_in, n_out in zip(ARCHITECTURE[:-1], ARCHITECTURE[1:])
    ]


def make_model() -> nn.Sequential:
    """[2, 64, 64, 64, 1]: Linear layers with ReLU between them, linear output."""
    layers = []
    for n_in, n_out in zip(ARCHITECTURE[:-1], ARCHITECTURE[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def article_model() -> nn.Sequential:
    """The network with the article's weights. ``nn.Linear`` stores its weight output-major,
    (out, in), as PyTorch does, so each of the article's matrices goes in transposed."""
    model = make_model()
    state = {}
    # the Linear layers are modules 0, 2, 4, 6 of the Sequential (ReLUs in between)
    for index, W in zip(range(0, len(model), 2), article_weights()):
        state[f"{index}.weight"] = W.T.copy()
        state[f"{index}.bias"] = np.zeros(W.shape[1])
    model.load_state_dict(state)
    return model


def train_full_batch(model, inputs, targets, epochs, lr=LR, log_every=20, label=""):
    """The article's training: full-batch gradient descent on 0.5 * mean((pred - y)^2).
    Prints, as the article does, the MSE of each logged epoch's forward pass (before its
    update). Returns the MSE of every epoch."""
    X, y = tg.Tensor(inputs), tg.Tensor(targets.reshape(-1, 1))
    optimizer = optim.SGD(model.parameters(), lr=lr)
    history = []
    for epoch in range(epochs):
        pred = model(X)
        loss = 0.5 * ((pred - y) ** 2).mean()
        mse = 2 * loss.item()
        history.append(mse)
        if log_every and (epoch % log_every == 0 or epoch == epochs - 1):
            print(f"{label}EPOCH {epoch}: Loss = {mse:.4f}")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return history


# ---- the article's own algorithm in NumPy, to check the engine against ------------------------


def article_numpy(inputs: np.ndarray, targets: np.ndarray, epochs: int, lr: float = LR):
    """The article's hand-written algorithm: forward keeping each layer's input and
    pre-activation, backward with ReLU's derivative as 0/1 "weights", gradients divided by m,
    then the update. Returns the MSE of every epoch and the final weights and biases."""
    weights = article_weights()
    biases = [np.zeros((1, W.shape[1])) for W in weights]
    y = targets.reshape(-1, 1)
    m = len(y)
    losses = []
    for _ in range(epochs):
        layer_inputs, pre_activations = [inputs], []
        for i, (W, b) in enumerate(zip(weights, biases)):
            Z = layer_inputs[-1] @ W + b
            pre_activations.append(Z)
            layer_inputs.append(Z if i == len(weights) - 1 else np.maximum(0, Z))
        losses.append(np.mean((layer_inputs[-1] - y) ** 2))
        dA = layer_inputs[-1] - y
        changes = []
        for i in reversed(range(len(weights))):
            relu_as_weights = (pre_activations[i] > 0).astype(float)
            dZ = dA if i == len(weights) - 1 else dA * relu_as_weights
            changes.append((layer_inputs[i].T @ dZ / m, dZ.sum(axis=0, keepdims=True) / m))
            dA = dZ @ weights[i].T
        for i, (dW, db) in enumerate(reversed(changes)):
            weights[i] -= lr * dW
            biases[i] -= lr * db
    return losses, weights, biases


def check_against_numpy(inputs: np.ndarray, targets: np.ndarray, epochs: int) -> dict:
    """Train the engine's model and the article's NumPy algorithm side by side for a few
    epochs; return the largest differences of the losses and of the parameters."""
    model = article_model()
    engine_losses = train_full_batch(model, inputs, targets, epochs, log_every=0)
    numpy_losses, weights, biases = article_numpy(inputs, targets, epochs)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    weight_diff = max(
        max(np.max(np.abs(lin.weight.numpy().T - W)), np.max(np.abs(lin.bias.numpy() - b[0])))
        for lin, W, b in zip(linears, weights, biases)
    )
    loss_diff = max(abs(a - b) / abs(b) for a, b in zip(engine_losses, numpy_losses))
    return {
        "epochs": epochs,
        "engine_losses": engine_losses,
        "numpy_losses": numpy_losses,
        "loss_relative_difference": loss_diff,
        "weight_difference": weight_diff,
    }


# ---- a recipe that fits -----------------------------------------------------------------------


def train_recipe(inputs, targets, epochs, batch_size=100, lr=3e-3, final_lr=3e-5, seed=0):
    """Adam on mini-batches with a cosine-annealed learning rate, PyTorch's initialisation."""
    tg.manual_seed(seed)
    model = make_model()
    optimizer = optim.Adam(model.parameters(), lr=lr)
    loader = tg.data.DataLoader(
        tg.data.TensorDataset(inputs, targets.reshape(-1, 1)),
        batch_size=batch_size,
        shuffle=True,
        seed=seed,
    )
    log_every = max(1, epochs // 10)
    for epoch in range(epochs):
        # annealing: the step size shrinks smoothly from lr to final_lr over the run
        progress = epoch / max(1, epochs - 1)
        optimizer.param_groups[0]["lr"] = final_lr + (lr - final_lr) * 0.5 * (
            1 + math.cos(math.pi * progress)
        )
        total = 0.0
        for xb, yb in loader:
            loss = 0.5 * ((model(xb) - yb) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += 2 * loss.item() * len(xb)
        if epoch % log_every == 0 or epoch == epochs - 1:
            print(f"recipe EPOCH {epoch}: Loss = {total / len(inputs):.4f}")
    return model


@tg.no_grad()
def predict(model, inputs: np.ndarray) -> np.ndarray:
    return model(tg.Tensor(inputs)).numpy().ravel()


def held_out_mse(model, scaler: Standardizer, xy: np.ndarray, z: np.ndarray) -> dict:
    """MSE on points the model never saw: standardised, and in the target's own units."""
    pred = predict(model, scaler.inputs(xy))
    standardised = float(np.mean((pred - scaler.outputs(z)) ** 2))
    original = float(np.mean((scaler.unscale(pred) - z) ** 2))
    return {"standardised": standardised, "original": original}


def plot(X, Y, Z, predictions: dict[str, np.ndarray], path):
    """Contour plots of the true surface next to each model's prediction, on one colour scale."""
    panels = {"true function": Z, **predictions}
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.4))
    levels = np.linspace(Z.min(), Z.max(), 21)
    for ax, (title, values) in zip(axes, panels.items()):
        filled = ax.contourf(X, Y, values, levels=levels, cmap="viridis", extend="both")
        ax.set_title(title)
        ax.set_xlabel("x")
    axes[0].set_ylabel("y")
    fig.colorbar(filled, ax=list(axes), label="f(x, y)")
    return _common.save_figure(fig, path)


def main(argv: list[str] | None = None) -> dict:
    with _common.one_blas_thread():
        return run(argv)


def run(argv: list[str] | None = None) -> dict:
    p = _common.parser(__doc__, _common.IMAGES)
    p.add_argument("--epochs", type=int, default=None, help=f"article's epochs (default {EPOCHS})")
    args = p.parse_args(argv)
    quick = args.quick
    epochs = args.epochs or (40 if quick else EPOCHS)
    recipe_epochs = 3 if quick else 150
    check_epochs = 5

    X, Y, Z = grid()
    inputs_raw = np.column_stack([X.ravel(), Y.ravel()])
    scaler = Standardizer(inputs_raw, Z.ravel())
    inputs, outputs = scaler.inputs(inputs_raw), scaler.outputs(Z.ravel())
    held_xy, held_z = random_points(2000, seed=1)

    # 1. The engine against the article's NumPy algorithm, epoch by epoch.
    check = check_against_numpy(inputs, outputs, check_epochs)
    print(f"first {check_epochs} epochs, engine vs the article's NumPy algorithm:")
    for i, (a, b) in enumerate(zip(check["engine_losses"], check["numpy_losses"])):
        print(f"  epoch {i}: MSE {a:.15f} (engine)  {b:.15f} (NumPy)")
    print(
        f"  largest relative difference of the losses {check['loss_relative_difference']:.1e}, "
        f"largest difference of a weight {check['weight_difference']:.1e}"
    )
    if check["loss_relative_difference"] > 1e-12 or check["weight_difference"] > 1e-12:
        raise AssertionError("the engine does not reproduce the article's algorithm")

    # 2. The article's run on the grid.
    print(f"\nThe article's network on the 100 x 100 grid, {epochs} epochs, lr {LR}:")
    start = time.perf_counter()
    article = article_model()
    grid_history = train_full_batch(article, inputs, outputs, epochs)
    print(f"({time.perf_counter() - start:.1f} s)")

    # 2b. The article's other run: 10,000 random points instead of the grid.
    n_random = 1000 if quick else 10_000
    print(f"\nThe same on {n_random} random points, {epochs} epochs:")
    rand_xy, rand_z = random_points(n_random, seed=0)
    rand_scaler = Standardizer(rand_xy, rand_z)
    article_random = article_model()
    random_history = train_full_batch(
        article_random, rand_scaler.inputs(rand_xy), rand_scaler.outputs(rand_z), epochs
    )

    # 3. The recipe.
    print(f"\nThe recipe: Adam, mini-batches of 100, cosine annealing, {recipe_epochs} epochs:")
    start = time.perf_counter()
    recipe = train_recipe(inputs, outputs, recipe_epochs)
    print(f"({time.perf_counter() - start:.1f} s)")

    scores = {
        "article (grid)": held_out_mse(article, scaler, held_xy, held_z),
        "article (random points)": held_out_mse(article_random, rand_scaler, held_xy, held_z),
        "recipe": held_out_mse(recipe, scaler, held_xy, held_z),
    }
    print(f"\nMSE on {len(held_z)} held-out random points:")
    print(f"  {'model':<25} {'standardised':>13} {'original units':>15}")
    for name, s in scores.items():
        print(f"  {name:<25} {s['standardised']:>13.4f} {s['original']:>15.3f}")

    predictions = {
        f"article's network ({epochs} epochs)": scaler.unscale(predict(article, inputs)),
        f"recipe ({recipe_epochs} epochs of Adam)": scaler.unscale(predict(recipe, inputs)),
    }
    picture = plot(X, Y, Z, {k: v.reshape(X.shape) for k, v in predictions.items()},
                   args.out / "surface.png")  # fmt: skip
    return {
        "check": check,
        "grid_history": grid_history,
        "random_history": random_history,
        "held_out": scores,
        "files": [picture],
    }


if __name__ == "__main__":
    main()
