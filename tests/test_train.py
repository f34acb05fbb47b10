"""tg.train: fit, evaluate, History, EarlyStopping, metrics, progress output."""

import sys

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F
from tinygrad_edu import nn, optim
from tinygrad_edu.data import DataLoader, TensorDataset
from tinygrad_edu.train import EarlyStopping, History, accuracy, evaluate, fit


def regression_data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2))
    y = x @ np.array([[2.0], [-1.0]]) + 0.5
    return TensorDataset(x, y)


def classification_data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    centres = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]])
    x = centres[labels] + rng.normal(scale=0.3, size=(n, 2))
    return TensorDataset(x, labels)


def linear_model(seed=0):
    tg.manual_seed(seed)
    return nn.Linear(2, 1)


class Recorder(nn.Module):
    """A linear model that records grad mode and training mode at every call."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.calls = []

    def forward(self, x):
        out = self.inner(x)
        self.calls.append((tg.is_grad_enabled(), self.training, out.grad_fn is not None))
        return out


def test_fit_decreases_the_loss_and_fills_the_history():
    model = linear_model()
    loader = DataLoader(regression_data(), batch_size=8, shuffle=True, seed=0)
    val = DataLoader(regression_data(seed=1), batch_size=16)
    history = fit(
        model, F.mse_loss, optim.SGD(model.parameters(), lr=0.1), loader, 15, val, progress=False
    )
    assert isinstance(history, History)
    assert list(history.history) == ["loss", "val_loss"]
    assert history.epochs == 15
    assert len(history["loss"]) == len(history.val_loss) == 15
    assert history["loss"] is history.loss
    assert history.loss[-1] < 0.1 * history.loss[0]
    assert history.val_loss[-1] < 0.1 * history.val_loss[0]
    assert "15 epochs" in repr(history)
    with pytest.raises(AttributeError, match="recorded"):
        getattr(history, "accuracy")  # noqa: B009


def test_training_loss_is_the_sample_weighted_mean():
    # lr = 0: the weights never change, so the epoch's training loss must equal the loss on
    # the whole dataset, which the plain mean of the batch means (4 + 4 + 2 rows) would miss
    model = linear_model()
    data = regression_data(n=10)
    history = fit(
        model,
        F.mse_loss,
        optim.SGD(model.parameters(), lr=0.0),
        DataLoader(data, batch_size=4),
        2,
        progress=False,
    )
    with tg.no_grad():
        whole = F.mse_loss(model(data.tensors[0]), data.tensors[1]).item()
    assert history.loss == pytest.approx([whole, whole], rel=1e-12)
    batch_means = [F.mse_loss(model(x), y).item() for x, y in DataLoader(data, batch_size=4)]
    assert abs(np.mean(batch_means) - whole) > 1e-6  # the test can tell the two apart


def test_one_optimizer_step_per_batch_with_fresh_gradients():
    model = linear_model()
    steps = []

    class CountingSGD(optim.SGD):
        def step(self, closure=None):
            steps.append(self.param_groups[0]["params"][0].grad.data.copy())
            return super().step(closure)

    opt = CountingSGD(model.parameters(), lr=0.0)
    fit(model, F.mse_loss, opt, DataLoader(regression_data(n=10), batch_size=5), 2, progress=False)
    assert len(steps) == 4
    assert np.array_equal(steps[0], steps[2])  # zero_grad each batch: no accumulation


def test_validation_runs_under_no_grad_in_eval_mode_and_mode_is_restored():
    model = Recorder(linear_model())
    loader = DataLoader(regression_data(n=8), batch_size=4)
    fit(model, F.mse_loss, optim.SGD(model.parameters(), lr=0.1), loader, 2, loader, progress=False)
    # per epoch: 2 training batches, then 2 validation batches
    assert (
        model.calls
        == [(True, True, True)] * 2
        + [(False, False, False)] * 2
        + [(True, True, True)] * 2
        + [(False, False, False)] * 2
    )
    assert model.training  # it was in training mode before fit
    model.eval()
    fit(model, F.mse_loss, optim.SGD(model.parameters(), lr=0.1), loader, 1, loader, progress=False)
    assert not model.training  # and eval mode is restored too
    assert tg.is_grad_enabled()


def test_evaluate_returns_mean_loss_and_metrics_under_no_grad():
    model = Recorder(nn.Linear(2, 3))
    data = classification_data(n=10)
    result = evaluate(model, F.cross_entropy, DataLoader(data, batch_size=3), metrics=["accuracy"])
    assert set(result) == {"loss", "accuracy"}
    with tg.no_grad():
        logits = model.inner(data.tensors[0])
        whole = F.cross_entropy(logits, data.tensors[1]).item()
    assert result["loss"] == pytest.approx(whole, rel=1e-12)
    assert result["accuracy"] == pytest.approx(
        np.mean(logits.data.argmax(1) == data.tensors[1].data)
    )
    assert all(call == (False, False, False) for call in model.calls)
    assert model.training


def test_accuracy_metric_in_history():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))
    train = DataLoader(classification_data(), batch_size=16, shuffle=True, seed=1)
    val = DataLoader(classification_data(seed=2), batch_size=30)
    history = fit(
        model,
        F.cross_entropy,
        optim.Adam(model.parameters(), lr=0.05),
        train,
        20,
        val,
        metrics=["accuracy"],
        progress=False,
    )
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert all(0.0 <= a <= 1.0 for a in history.accuracy + history.val_accuracy)
    assert history.val_accuracy[-1] == 1.0  # well separated clusters


def test_custom_metrics_dict():
    model = linear_model()
    loader = DataLoader(regression_data(n=12), batch_size=5)

    def mae(output, target):
        return float(np.mean(np.abs(output.data - target.data)))

    history = fit(
        model,
        F.mse_loss,
        optim.SGD(model.parameters(), lr=0.0),
        loader,
        1,
        loader,
        metrics={"mae": mae},
        progress=False,
    )
    with tg.no_grad():
        x, y = loader.dataset.tensors
        expected = mae(model(x), y)
    assert history.mae == pytest.approx([expected])
    assert history.val_mae == pytest.approx([expected])


def test_accuracy_function():
    logits = tg.Tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0], [5.0, 0.0, 0.0], [0.0, 2.0, 1.0]])
    assert accuracy(logits, tg.Tensor([0, 2, 1, 1])) == 0.75
    one_hot = np.eye(3)[[0, 2, 1, 1]]
    assert accuracy(logits, tg.Tensor(one_hot)) == 0.75
    probabilities = tg.Tensor([0.9, 0.2, 0.6, 0.4])
    assert accuracy(probabilities, tg.Tensor([1.0, 0.0, 0.0, 0.0])) == 0.75
    assert accuracy(probabilities.reshape(4, 1), tg.Tensor([[1], [0], [0], [0]])) == 0.75
    with pytest.raises(ValueError, match="do not match"):
        accuracy(logits, tg.Tensor([0, 1]))


# ---- early stopping ------------------------------------------------------------------------


def scripted_validation(values, model):
    """A loss_fn that trains on MSE but reports the scripted `values` as validation losses,
    and remembers the weights at each validation."""
    snapshots = []

    def loss_fn(output, target):
        if tg.is_grad_enabled():
            return F.mse_loss(output, target)
        snapshots.append(model.state_dict())
        return tg.Tensor(values[len(snapshots) - 1])

    return loss_fn, snapshots


def run_scripted(values, epochs, stopper):
    model = linear_model()
    loader = DataLoader(regression_data(n=8), batch_size=8)
    loss_fn, snapshots = scripted_validation(values, model)
    history = fit(
        model,
        loss_fn,
        optim.SGD(model.parameters(), lr=0.1),
        loader,
        epochs,
        loader,
        early_stopping=stopper,
        progress=False,
    )
    return model, history, snapshots


def assert_weights(model, state):
    for key, value in model.state_dict().items():
        assert np.array_equal(value, state[key])


def test_early_stopping_stops_after_patience_and_restores_the_best_weights():
    values = [5.0, 4.0, 3.0, 3.5, 3.2, 1.0, 0.5]
    stopper = EarlyStopping(patience=2)
    model, history, snapshots = run_scripted(values, 7, stopper)
    assert history.epochs == 5  # epochs 4 and 5 did not improve on epoch 3
    assert history.val_loss == [5.0, 4.0, 3.0, 3.5, 3.2]
    assert stopper.best_epoch == 3 and stopper.best == 3.0 and stopper.stopped_epoch == 5
    assert_weights(model, snapshots[2])
    assert not np.array_equal(model.state_dict()["weight"], snapshots[4]["weight"])


def test_early_stopping_min_delta_and_patience_zero():
    stopper = EarlyStopping(patience=2, min_delta=0.1)
    _, history, _ = run_scripted([5.0, 4.95, 4.9, 4.0], 4, stopper)
    assert history.epochs == 3  # 4.95 and 4.9 are not better than 5.0 by more than 0.1
    stopper = EarlyStopping(patience=0)
    _, history, _ = run_scripted([5.0, 4.0, 4.0, 1.0], 4, stopper)
    assert history.epochs == 3  # a tie is no improvement


def test_early_stopping_without_restore_keeps_the_last_weights():
    stopper = EarlyStopping(patience=1, restore_best=False)
    model, history, snapshots = run_scripted([1.0, 2.0, 3.0], 3, stopper)
    assert history.epochs == 2
    assert_weights(model, snapshots[1])


def test_early_stopping_that_never_triggers_still_restores_the_best():
    stopper = EarlyStopping(patience=5)
    model, history, snapshots = run_scripted([3.0, 1.0, 2.0, 2.5], 4, stopper)
    assert history.epochs == 4 and stopper.stopped_epoch is None and stopper.best_epoch == 2
    assert_weights(model, snapshots[1])


def test_early_stopping_monitors_loss_without_val_loader():
    model = linear_model()
    stopper = EarlyStopping(patience=1)
    loader = DataLoader(regression_data(n=8), batch_size=4)
    history = fit(
        model,
        F.mse_loss,
        optim.SGD(model.parameters(), lr=0.1),
        loader,
        6,
        early_stopping=stopper,
        progress=False,
    )
    assert stopper.monitored == "loss"
    assert history.epochs == 6 and stopper.best_epoch == 6  # the training loss keeps falling


def test_early_stopping_on_accuracy_maximises():
    stopper = EarlyStopping(patience=1, monitor="val_accuracy")
    model = nn.Linear(2, 3)
    loader = DataLoader(classification_data(n=12), batch_size=12)
    fit(
        model,
        F.cross_entropy,
        optim.SGD(model.parameters(), lr=0.0),
        loader,
        3,
        loader,
        metrics=["accuracy"],
        early_stopping=stopper,
        progress=False,
    )
    assert stopper._sign == -1.0 and stopper.stopped_epoch == 2  # lr 0: accuracy cannot rise


def test_early_stopping_errors():
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="min_delta"):
        EarlyStopping(patience=1, min_delta=-0.1)
    model = linear_model()
    loader = DataLoader(regression_data(n=4), batch_size=4)
    with pytest.raises(ValueError, match="monitors 'val_mae'"):
        fit(
            model,
            F.mse_loss,
            optim.SGD(model.parameters(), lr=0.1),
            loader,
            2,
            early_stopping=EarlyStopping(1, monitor="val_mae"),
            progress=False,
        )


# ---- progress output -----------------------------------------------------------------------


def small_fit(progress, epochs=3):
    model = linear_model()
    loader = DataLoader(regression_data(n=8), batch_size=4)
    return fit(
        model,
        F.mse_loss,
        optim.SGD(model.parameters(), lr=0.1),
        loader,
        epochs,
        loader,
        progress=progress,
    )


def test_progress_false_prints_nothing(capsys):
    small_fit(progress=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_plain_lines_without_tqdm(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now raises ImportError
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    history = small_fit(progress=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("Epoch 1/3: loss: ") and "val_loss: " in lines[0]
    assert lines[2].startswith("Epoch 3/3")
    assert f"{history.loss[2]:.4g}" in lines[2]


def test_tqdm_bar_shows_the_loss(capsys):
    pytest.importorskip("tqdm")
    history = small_fit(progress=True, epochs=2)
    captured = capsys.readouterr()
    # one bar over the epochs, ending at 2/2 with the last epoch's losses
    final = captured.err.strip().split("\r")[-1]
    assert final.startswith("fit: 100%") and "2/2" in final
    assert f"loss={history.loss[-1]:.4g}" in final and f"val_loss={history.val_loss[-1]:.4g}" in final
    assert captured.out == ""


# ---- errors --------------------------------------------------------------------------------


def test_fit_errors():
    model = linear_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(regression_data(n=4), batch_size=2)
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="epochs"):
            fit(model, F.mse_loss, opt, loader, bad, progress=False)
    empty = DataLoader(regression_data(n=3), batch_size=4, drop_last=True)
    with pytest.raises(ValueError, match="train_loader yields no batches"):
        fit(model, F.mse_loss, opt, empty, 1, progress=False)
    with pytest.raises(ValueError, match="val_loader yields no batches"):
        fit(model, F.mse_loss, opt, loader, 1, empty, progress=False)
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        fit(model, F.mse_loss, opt, loader, 1, metrics=["f1"], progress=False)
    with pytest.raises(ValueError, match="no batches"):
        evaluate(model, F.mse_loss, empty)
    with pytest.raises(ValueError, match="no batches"):
        fit(model, F.mse_loss, opt, iter([]), 1, progress=False)


def test_loss_that_is_not_a_single_element_is_refused_and_mode_is_restored():
    model = linear_model()
    model.eval()
    opt = optim.SGD(model.parameters(), lr=0.1)
    before = model.state_dict()
    loader = DataLoader(regression_data(n=4), batch_size=2)
    with pytest.raises(ValueError, match=r"single-element Tensor, got shape \(2, 1\)"):
        fit(
            model,
            lambda out, y: F.mse_loss(out, y, reduction="none"),
            opt,
            loader,
            1,
            progress=False,
        )
    assert not model.training
    assert_weights(model, before)
    with pytest.raises(TypeError, match="must return a Tensor"):
        fit(model, lambda out, y: 1.0, opt, loader, 1, progress=False)
