"""Each demo runs as a new user would run it (``--quick``, pictures into a temporary folder),
and its results hold."""

from pathlib import Path

import numpy as np
import pytest
from _demos import load_demo

import tinygrad_edu as tg


def assert_written(paths):
    assert paths, "the demo wrote no file"
    for path in paths:
        path = Path(path)
        assert path.is_file(), f"{path} was not written"
        assert path.stat().st_size > 0, f"{path} is empty"


def test_perceptron_reproduces_the_article_output(capsys):
    perceptron = load_demo("perceptron")
    output = perceptron.main(["--quick"])
    np.testing.assert_array_equal(np.round(output, 8), perceptron.ARTICLE_OUTPUT)
    assert "matches the article's printed output to 8 decimals: True" in capsys.readouterr().out


# ---- backprop by hand (001, section 3.4) --------------------------------------------------------


def test_backprop_by_hand_equals_the_closed_forms(tmp_path, capsys):
    demo = load_demo("backprop_by_hand")
    result = demo.main(["--quick", "--out", str(tmp_path)])
    names = [name for name, _, _ in result["rows"]]
    # every forward value and every gradient of the network is in the table
    for name in ["z1", "h1", "z2", "h2", "z3", "a", "L"]:
        assert name in names
    for name in ["w11", "w12", "w21", "w22", "b1", "b2", "w31", "w32", "b3", "z3", "a"]:
        assert f"dL/d{name}" in names
    for name, engine, hand in result["rows"]:
        assert engine == pytest.approx(hand, rel=1e-12, abs=1e-15), name
    assert result["all_equal"]
    # the values the docstring promises: neuron 1 active, neuron 2 switched off
    rows = {name: engine for name, engine, _ in result["rows"]}
    assert rows["z1"] > 0 > rows["z2"]
    assert rows["dL/dw21"] == rows["dL/dw22"] == rows["dL/db2"] == 0
    assert rows["dL/dz3"] == pytest.approx(rows["a"] - demo.LABEL, rel=1e-12)
    assert result["loss_after"] < result["loss_before"]
    assert_written(result["files"])
    assert "all equal to float64 rounding: True" in capsys.readouterr().out


# ---- the article's hand-derived backward against autograd ---------------------------------------


def test_hand_vs_autograd_classifies_the_branches():
    demo = load_demo("hand_vs_autograd")
    results = demo.main(["--quick"])
    assert set(results) == {"categorical_crossentropy", "mse", "log_loss"}
    for branch, r in results.items():
        # the referee agrees with the engine on every branch
        assert r["gradcheck_engine"] is True, branch
        # and the sigmoid's derivative is exactly what the wrong branches lack
        assert r["relative_error_with_sigmoid_derivative"] < 1e-12, branch
    right = results["categorical_crossentropy"]
    assert right["gradcheck_hand"] is True and right["hand_is_right"]
    assert right["relative_error"] < 1e-12
    for branch in ("mse", "log_loss"):
        wrong = results[branch]
        assert wrong["gradcheck_hand"] is False and not wrong["hand_is_right"], branch
        assert wrong["relative_error"] > 0.1, branch


# ---- scalars and tensors ------------------------------------------------------------------------


def test_scalar_and_matrix_networks_have_identical_gradients(tmp_path):
    demo = load_demo("scalar_vs_tensor")
    result = demo.main(["--quick", "--out", str(tmp_path)])
    assert result["identical"]
    assert result["worst_difference"] < 1e-12
    assert_written(result["files"])


# ---- surface regression (000) -------------------------------------------------------------------


def test_surface_agrees_with_the_article_numpy_algorithm(tmp_path):
    demo = load_demo("surface")
    result = demo.main(["--quick", "--out", str(tmp_path)])
    check = result["check"]
    # the engine and the article's hand-written NumPy algorithm, epoch by epoch
    assert check["epochs"] >= 3
    np.testing.assert_allclose(check["engine_losses"], check["numpy_losses"], rtol=1e-12)
    assert check["loss_relative_difference"] < 1e-12
    assert check["weight_difference"] < 1e-12
    # the first epoch's loss is the article's network's, before any update
    assert check["engine_losses"][0] == pytest.approx(166.515654132578788, rel=1e-12)
    # training reduces the loss, and the recipe beats the article's network on held-out points
    history = result["grid_history"]
    assert history[-1] < history[0]
    held_out = result["held_out"]
    assert held_out["recipe"]["standardised"] < held_out["article (grid)"]["standardised"]
    for scores in held_out.values():
        assert np.isfinite(scores["standardised"]) and np.isfinite(scores["original"])
    assert_written(result["files"])


def test_surface_loads_the_article_weights_transposed():
    demo = load_demo("surface")
    model = demo.article_model()
    weights = demo.article_weights()
    linears = [m for m in model if isinstance(m, demo.nn.Linear)]
    assert [lin.weight.shape for lin in linears] == [W.T.shape for W in weights]
    for lin, W in zip(linears, weights):
        np.testing.assert_array_equal(lin.weight.numpy(), W.T)
        np.testing.assert_array_equal(lin.bias.numpy(), 0)


# ---- digits (001), the flagship -----------------------------------------------------------------


def test_digits_quick_run_writes_its_pictures(tmp_path, capsys):
    demo = load_demo("digits")
    result = demo.main(["--quick", "--out", str(tmp_path)])
    # seeded and deterministic: 100 epochs of the article's network, 5 of the library's
    assert result["article_accuracy"] >= 0.6
    assert result["library_accuracy"] >= 0.85
    assert len(result["article_train_loss"]) == len(result["article_test_loss"]) == 100
    assert result["article_train_loss"][-1] < result["article_train_loss"][0]
    names = {Path(f).name for f in result["files"]}
    assert names == {
        "article_loss.png",
        "library_training.png",
        "network_graph.svg",
        "network_graph.png",
    }
    assert_written(result["files"])
    out = capsys.readouterr()
    assert "Accuracy:" in out.out and "Test accuracy:" in out.out
    assert "fit: 100%" in out.err and "5/5" in out.err  # tg.train.fit's progress bar


def test_digits_library_recipe_reaches_97_percent():
    """The section-4.2 recipe exactly as the flagship runs it (seeded, deterministic)."""
    demo = load_demo("digits")
    X_train, X_test, y_train, y_test = demo.load_data()
    with demo._common.one_blas_thread():
        model, history, stopper = demo.library_experiment(X_train, y_train, progress=False)
    assert stopper.best_epoch is not None and history.epochs >= stopper.best_epoch
    assert demo.accuracy(model, X_test, y_test) >= 0.97


# ---- find the bug (the debugging tools) ---------------------------------------------------------


def test_find_the_bug_names_the_wrong_activation(tmp_path, capsys):
    demo = load_demo("find_the_bug")
    result = demo.main(["--quick", "--out", str(tmp_path)])
    # training with the wrong backward goes worse, and its loss climbs under gradient descent
    right, buggy = result["training"]["Swish"], result["training"]["BuggySwish"]
    assert buggy["losses"][-1] > right["losses"][-1]
    assert buggy["rises"] > right["rises"]
    # gradcheck_graph names the custom op, its module and the line that applied it
    first = result["report"].first_failure
    assert first.op == "BuggySwish" and first.module == "1 (Activation)"
    assert {f.op for f in result["report"].failures} == {"BuggySwish"}
    assert Path(first.origin.filename).name == "find_the_bug.py"
    assert "self.function.apply(x)" in first.origin.line
    assert result["healthy_ok"]
    # the traced step sends what the wrong formula gives, not the right derivative
    step = result["swish_step"]
    assert not np.allclose(step.inputs[0].grad.values, result["right_swish_grad"])
    # detect_anomaly stops the log in forward and the sqrt in backward
    log_error, sqrt_error = result["anomalies"]["LogFeatures"], result["anomalies"]["SqrtFeatures"]
    assert (log_error.op, log_error.phase, log_error.kind) == ("Log", "forward", "nan")
    assert (sqrt_error.op, sqrt_error.phase, sqrt_error.kind) == ("Sqrt", "backward", "inf")
    assert "return x.log()" in str(log_error)
    assert len(result["files"]) == len(result["trace"]) + 1
    assert_written(result["files"])
    assert "BuggySwish" in capsys.readouterr().out


def test_a_demo_without_graphviz_writes_the_dot_source_and_says_how_to_install(
    tmp_path, monkeypatch, capsys
):
    common = load_demo("_common")
    diagram = tg.draw_graph(tg.Tensor(2.0, requires_grad=True) * 3)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no `dot` to be found
    written = common.save_diagram(diagram, tmp_path / "graph")
    assert [p.name for p in written] == ["graph.gv"]
    assert (tmp_path / "graph.gv").read_text() == diagram.source
    out = capsys.readouterr().out
    assert "was not rendered" in out and "apt install graphviz" in out
