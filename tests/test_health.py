"""tg.debug.HealthMonitor: statistics equal to those computed by hand, the four figures drawn
from them, and each warning firing on a network built to have the problem (and none on a
well-initialised one)."""

from __future__ import annotations

import importlib.util
import math
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import tinygrad_edu as tg  # noqa: E402
import tinygrad_edu.nn.functional as F  # noqa: E402
from tinygrad_edu import nn, optim  # noqa: E402
from tinygrad_edu.debug import HealthMonitor, HealthWarning  # noqa: E402

DEMOS = Path(__file__).resolve().parent.parent / "demos"


def std(values) -> float:
    """PyTorch's Tensor.std(): unbiased."""
    return float(np.std(np.asarray(values, dtype=float).ravel(), ddof=1))


def mlp(widths, activation, gain, seed=0, bias=0.0):
    """Linear layers with N(0, gain²/fan_in) weights and constant biases, activation between."""
    tg.manual_seed(seed)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(widths, widths[1:])):
        linear = nn.Linear(fan_in, fan_out)
        nn.init.normal_(linear.weight, 0.0, gain / math.sqrt(fan_in))
        nn.init.constant_(linear.bias, bias)
        layers.append(linear)
        if i < len(widths) - 2 and activation is not None:
            layers.append(activation())
    return nn.Sequential(*layers)


def train(model, steps, lr, batch=64, inputs=None, classes=4, seed=0, monitor=None, **kwargs):
    """SGD on a fixed random classification problem, the monitor stepping after each update."""
    rng = np.random.default_rng(seed)
    n_in = inputs or model[0].in_features
    X = rng.standard_normal((256, n_in))
    Y = rng.integers(0, classes, 256)
    opt = optim.SGD(model.parameters(), lr=lr)
    monitor = monitor or HealthMonitor(model, **kwargs)
    for _ in range(steps):
        idx = rng.integers(0, 256, batch)
        loss = F.cross_entropy(model(tg.tensor(X[idx])), tg.tensor(Y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        monitor.step(loss)
    return monitor


# ---- the statistics, by hand -------------------------------------------------------------------


@pytest.fixture
def small():
    """A 3-4-2 tanh network, two SGD steps on fixed data, everything recomputed with NumPy."""
    tg.manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    for p in model.parameters():
        p.data = p.data.astype(np.float64) * 3  # big enough that some tanh outputs saturate
    x = np.random.default_rng(0).standard_normal((6, 3))
    lr = 0.1
    opt = optim.SGD(model.parameters(), lr=lr)
    monitor = HealthMonitor(model, warn=False, bins=10)
    hand = []
    for _ in range(2):
        W1, b1 = model[0].weight.data.copy(), model[0].bias.data.copy()
        W2, b2 = model[2].weight.data.copy(), model[2].bias.data.copy()
        z = x @ W1.T + b1
        h = np.tanh(z)
        y = h @ W2.T + b2
        # loss = mean(y²): dL/dy = 2y / y.size, dL/dh = dL/dy @ W2, dL/dz = dL/dh * (1 - h²)
        dy = 2 * y / y.size
        dh = dy @ W2
        dz = dh * (1 - h**2)
        grads = {
            "0.weight": dz.T @ x,
            "0.bias": dz.sum(0),
            "2.weight": dy.T @ h,
            "2.bias": dy.sum(0),
        }
        loss = (model(tg.tensor(x)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        before = {n: p.data.copy() for n, p in model.named_parameters()}
        opt.step()
        monitor.step(loss)
        after = {n: p.data.copy() for n, p in model.named_parameters()}
        hand.append(
            {
                "z": z,
                "h": h,
                "y": y,
                "dh": dh,
                "dy": dy,
                "grads": grads,
                "before": before,
                "after": after,
                "z_grad": dz,
            }
        )
    return model, monitor, hand, lr


def test_layer_statistics_equal_the_hand_computed_ones(small):
    model, monitor, hand, _ = small
    assert monitor.order == ["0 (Linear)", "1 (Tanh)", "2 (Linear)"]
    assert monitor.kinds["1 (Tanh)"] == "tanh"
    for step, by_hand in enumerate(hand):
        tanh = monitor.layers["1 (Tanh)"][step]
        h, dh = by_hand["h"], by_hand["dh"]
        assert tanh.step == step + 1
        assert tanh.mean == pytest.approx(h.mean(), rel=1e-12)
        assert tanh.std == pytest.approx(std(h), rel=1e-12)
        assert tanh.saturated == pytest.approx(np.mean(np.abs(h) > 0.97))
        assert tanh.grad_mean == pytest.approx(dh.mean(), rel=1e-10, abs=1e-15)
        assert tanh.grad_std == pytest.approx(std(dh), rel=1e-10)
        assert tanh.grad_norm == pytest.approx(np.linalg.norm(dh), rel=1e-10)
        assert math.isnan(tanh.dead)
        linear = monitor.layers["0 (Linear)"][step]
        assert linear.mean == pytest.approx(by_hand["z"].mean(), rel=1e-12)
        assert linear.grad_std == pytest.approx(std(by_hand["z_grad"]), rel=1e-10)
        assert math.isnan(linear.saturated)
    assert 0 < monitor.layers["1 (Tanh)"][0].saturated < 1  # the case is not trivial


def test_parameter_statistics_equal_the_hand_computed_ones(small):
    model, monitor, hand, lr = small
    for step, by_hand in enumerate(hand):
        for name, grad in by_hand["grads"].items():
            stats = monitor.params[name][step]
            data = by_hand["after"][name]
            assert stats.grad_std == pytest.approx(std(grad), rel=1e-10)
            assert stats.data_std == pytest.approx(std(data), rel=1e-12)
            assert stats.grad_to_data == pytest.approx(std(grad) / std(data), rel=1e-10)
            update = by_hand["after"][name] - by_hand["before"][name]
            np.testing.assert_allclose(update, -lr * grad, rtol=1e-10, atol=1e-15)
            assert stats.update_to_data == pytest.approx(
                np.log10(std(update) / std(data)), rel=1e-10
            )


def test_the_four_figures_are_drawn_from_those_statistics(small):
    model, monitor, hand, _ = small
    last = hand[-1]
    fig = monitor.plot()
    try:
        a_act, a_grad, a_weight, a_update = fig.axes[:4]
        # activations: the tanh layer only (the nonlinear one), its histogram by hand
        (line,) = a_act.lines
        density, edges = np.histogram(last["h"].ravel(), bins=10, density=True)
        np.testing.assert_allclose(line.get_ydata(), density, rtol=1e-12)
        np.testing.assert_allclose(line.get_xdata(), (edges[:-1] + edges[1:]) / 2, rtol=1e-12)
        label = line.get_label()
        assert f"mean {last['h'].mean():+.2f}" in label and f"std {std(last['h']):.2f}" in label
        assert f"saturated {np.mean(np.abs(last['h']) > 0.97):.1%}" in label
        # gradients of the activations
        (line,) = a_grad.lines
        density, _ = np.histogram(last["dh"].ravel(), bins=10, density=True)
        np.testing.assert_allclose(line.get_ydata(), density, rtol=1e-12)
        # the weights' gradients (matrices only), with their grad:data ratio
        assert [ln.get_label().split()[0] for ln in a_weight.lines] == ["0.weight", "2.weight"]
        for ln, name in zip(a_weight.lines, ["0.weight", "2.weight"]):
            density, _ = np.histogram(last["grads"][name].ravel(), bins=10, density=True)
            np.testing.assert_allclose(ln.get_ydata(), density, rtol=1e-10)
            ratio = std(last["grads"][name]) / std(last["after"][name])
            assert f"grad:data ratio {ratio:.3g}" in ln.get_label()
        # log10 update:data over the steps, and the 1e-3 guide line
        curves = {ln.get_label(): ln for ln in a_update.lines}
        for name in ["0.weight", "2.weight"]:
            expected = [
                np.log10(std(h["after"][name] - h["before"][name]) / std(h["after"][name]))
                for h in hand
            ]
            np.testing.assert_allclose(curves[name].get_ydata(), expected, rtol=1e-10)
            np.testing.assert_array_equal(curves[name].get_xdata(), [1, 2])
        guide = curves["1e-3 (about right)"]
        assert list(guide.get_ydata()) == [-3, -3]
    finally:
        plt.close(fig)


def test_plot_on_given_axes_and_summary(small, capsys):
    model, monitor, _, _ = small
    fig, axes = plt.subplots(1, 2)
    try:
        out = monitor.plot(axes=[axes[0], None, None, axes[1]], title="small")
        assert out is fig and len(fig.axes) == 2
        assert axes[0].lines and axes[1].lines
    finally:
        plt.close(fig)
    text = monitor.summary()
    assert capsys.readouterr().out.strip() == text.strip()
    for name in ["1 (Tanh)", "0.weight", "2.bias", "log10 update:data"]:
        assert name in text


def test_only_training_forward_passes_count_and_hooks_come_off():
    model = mlp([4, 8, 3], nn.Tanh, 1.0)
    monitor = HealthMonitor(model, warn=False)
    x = tg.randn(5, 4)
    with tg.no_grad():
        model(x)  # evaluation: not recorded
    monitor.step()
    assert all(not stats for stats in monitor.layers.values())
    (model(x) ** 2).mean().backward()
    monitor.step()
    assert len(monitor.layers["1 (Tanh)"]) == 1
    monitor.remove()
    (model(x) ** 2).mean().backward()
    monitor.step()
    assert len(monitor.layers["1 (Tanh)"]) == 1


def test_as_a_fit_callback_it_steps_after_every_batch():
    model = mlp([4, 8, 3], nn.Tanh, 5 / 3)
    X, Y = tg.randn(40, 4), tg.randint(0, 3, (40,))
    loader = tg.data.DataLoader(tg.data.TensorDataset(X, Y), batch_size=10)
    monitor = HealthMonitor(model, warn=False)
    opt = optim.SGD(model.parameters(), lr=0.01)
    tg.train.fit(model, F.cross_entropy, opt, loader, epochs=3, progress=False, callbacks=monitor)
    assert monitor.steps == 12 and len(monitor.losses) == 12
    assert len(monitor.params["0.weight"]) == 12
    assert np.isfinite(monitor.update_ratios("0.weight")).all()


# ---- the warnings ------------------------------------------------------------------------------


def kinds(monitor):
    return {(w.kind, w.layer) for w in monitor.warnings}


def test_a_dead_relu_layer_is_named():
    model = mlp([8, 32, 32, 4], nn.ReLU, math.sqrt(2))
    nn.init.constant_(model[2].bias, -100.0)  # the second ReLU never fires
    with pytest.warns(HealthWarning, match=r"dead ReLU units in layer 3 \(ReLU\)"):
        monitor = train(model, steps=3, lr=0.01)
    assert ("dead", "3 (ReLU)") in kinds(monitor)
    assert ("dead", "1 (ReLU)") not in kinds(monitor)
    assert monitor.layers["3 (ReLU)"][-1].dead == 1.0
    message = next(w for w in monitor.warnings if w.kind == "dead")
    assert "100%" in message and "LeakyReLU" in message


def test_a_saturated_tanh_layer_is_named():
    model = mlp([16, 64, 64, 4], nn.Tanh, 6.0)
    with pytest.warns(HealthWarning, match="saturated tanh in layer"):
        monitor = train(model, steps=2, lr=0.01)
    saturated = {layer for kind, layer in kinds(monitor) if kind == "saturated"}
    assert saturated == {"1 (Tanh)", "3 (Tanh)"}
    assert all(monitor.layers[n][0].saturated > 0.25 for n in saturated)


def test_a_saturated_sigmoid_layer_is_named():
    model = mlp([16, 64, 4], nn.Sigmoid, 12.0)
    monitor = train(model, steps=1, lr=0.01, warn=False)
    assert ("saturated", "1 (Sigmoid)") in kinds(monitor)


def test_exploding_gradients_are_named():
    # each linear layer multiplies the gradient's size by about 3 on the way back
    model = mlp([16] * 7, None, 3.0)
    monitor = train(model, steps=1, lr=1e-6, warn=False)
    assert ("exploding", "0 (Linear)") in kinds(monitor)
    first, last = monitor.layers["0 (Linear)"][0], monitor.layers["5 (Linear)"][0]
    assert first.grad_std / last.grad_std > 100


def test_vanishing_gradients_are_named():
    model = mlp([16] * 7, None, 0.3)
    monitor = train(model, steps=1, lr=1e-6, warn=False)
    assert ("vanishing", "0 (Linear)") in kinds(monitor)


def test_diverged_training_is_exploding():
    model = mlp([8, 16, 4], nn.Tanh, 5 / 3)
    monitor = train(model, steps=6, lr=1e6, warn=False)
    assert any(w.kind == "exploding" for w in monitor.warnings)


def test_update_ratios_far_from_1e_3_are_named():
    fast = train(mlp([16, 32, 32, 4], nn.Tanh, 5 / 3), steps=10, lr=20.0, warn=False)
    assert ("update", "0.weight") in kinds(fast)
    message = next(w for w in fast.warnings if w.kind == "update" and w.layer == "0.weight")
    assert "too high" in message
    slow = train(mlp([16, 32, 32, 4], nn.Tanh, 5 / 3), steps=10, lr=1e-6, warn=False)
    assert ("update", "0.weight") in kinds(slow)
    assert "too low" in next(w for w in slow.warnings if w.layer == "0.weight")
    # biases are not judged (the rule of thumb is for weight matrices)
    assert not any(w.layer.endswith("bias") for w in fast.warnings + slow.warnings)


@pytest.mark.parametrize(
    "activation, gain", [(nn.Tanh, 5 / 3), (nn.ReLU, math.sqrt(2))], ids=["tanh", "relu"]
)
def test_no_warning_on_a_well_initialised_network(activation, gain):
    model = mlp([16, 64, 64, 64, 4], activation, gain)
    with warnings.catch_warnings():
        warnings.simplefilter("error", HealthWarning)
        monitor = train(model, steps=25, lr=0.02)
    assert monitor.warnings == []
    ratios = monitor.update_ratios("2.weight")[-10:]
    assert -4.5 < ratios.mean() < -1.5


def test_each_warning_is_given_once():
    model = mlp([16, 64, 4], nn.Tanh, 8.0)
    monitor = train(model, steps=5, lr=0.001, warn=False)
    assert len(monitor.warnings) == len(set(kinds(monitor)))


# ---- the demo ----------------------------------------------------------------------------------


def load_demo():
    if str(DEMOS) not in sys.path:
        sys.path.insert(0, str(DEMOS))
    spec = importlib.util.spec_from_file_location("training_health", DEMOS / "training_health.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_demo_flags_the_bad_initialisation_only(tmp_path):
    demo = load_demo()
    result = demo.main(["--quick", "--out", str(tmp_path)])
    for path in result["paths"]:
        assert Path(path).stat().st_size > 10_000
    bad = {w.kind for w in result["warnings"]["too large"]}
    assert "saturated" in bad
    assert result["warnings"]["kaiming"] == []
    assert result["warnings"]["batchnorm"] == []
    bad_first = result["monitors"]["too large"].layers["1 (Tanh)"][0]
    good_first = result["monitors"]["kaiming"].layers["1 (Tanh)"][0]
    assert bad_first.saturated > 0.25 > good_first.saturated
    assert result["losses"]["too large"][0] > 2 * result["losses"]["kaiming"][0]
