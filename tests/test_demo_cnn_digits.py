"""demos/cnn_digits.py: a small CNN on the digits, written as PyTorch code.

The quick run (one seed, a few epochs) is run once for the module; its results, pictures and
graph drawing are checked, its model is re-evaluated on the test set here and, with PyTorch
installed, by the same code running on PyTorch. The full claim (every seed 0-4 at least 98.5%
test accuracy) is the slow test.
"""

import sys
import types
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from _demos import DEMOS, load_demo

SOURCE = DEMOS / "cnn_digits.py"
IMPORTS = ("import tinygrad_edu", "from tinygrad_edu")


def load_demo_on_pytorch(torch):
    """The demo's code with its four import lines of tinygrad_edu switched to torch, and
    nothing else changed."""
    lines = SOURCE.read_text().splitlines(keepends=True)
    imports = [i for i, line in enumerate(lines) if line.startswith(IMPORTS)]
    assert len(imports) == 4, "the demo should import tinygrad_edu in exactly four lines"
    for i in imports:
        lines[i] = lines[i].replace("tinygrad_edu", "torch")
    source = "".join(lines)
    if str(DEMOS) not in sys.path:
        sys.path.insert(0, str(DEMOS))
    module = types.ModuleType("cnn_digits_on_torch")
    module.__file__ = str(SOURCE)
    exec(compile(source, str(SOURCE), "exec"), module.__dict__)
    assert module.torch is torch and module.nn is torch.nn
    return module


@pytest.fixture(scope="module")
def demo():
    return load_demo("cnn_digits")


@pytest.fixture(scope="module")
def data(demo):
    return demo.load_data()


@pytest.fixture(scope="module")
def quick(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("cnn_digits")
    return demo.main(["--quick", "--out", str(out)])


def test_the_data_is_the_flagships_split_as_images(demo, data):
    X_train, X_test, y_train, y_test = data
    assert X_train.shape == (1437, 1, 8, 8) and X_test.shape == (360, 1, 8, 8)
    assert X_train.dtype == np.float32 and 0 <= X_train.min() and X_train.max() == 1
    # the same test images (and order) as demos/digits.py, whose rows are MinMax-scaled
    digits = load_demo("digits")
    _, Xt_flagship, _, yt_flagship = digits.load_data()
    np.testing.assert_array_equal(y_test, yt_flagship.argmax(axis=1))
    np.testing.assert_array_equal(X_test.reshape(360, 64) > 0, Xt_flagship > 0)


def test_quick_run_learns_the_digits(quick, demo, capsys):
    assert quick["seeds"] == [0] and quick["epochs"] == demo.QUICK_EPOCHS
    (accuracy,) = quick["accuracies"]
    assert accuracy > 0.9  # chance is 0.1; 8 epochs reach about 0.98
    assert quick["min_accuracy"] == quick["mean_accuracy"] == accuracy
    history = quick["histories"][0]
    assert len(history["loss"]) == len(history["val_accuracy"]) == demo.QUICK_EPOCHS
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["val_accuracy"][-1] > 0.9
    assert len(quick["train_seconds"]) == 1 and quick["train_seconds"][0] > 0


def test_the_returned_accuracy_is_the_models_on_the_test_set(quick, demo, data):
    """Re-evaluated here, batch of one image at a time against all at once, eval mode."""
    import tinygrad_edu as tg

    _, X_test, _, y_test = data
    model = quick["models"][0]
    model.eval()
    with tg.no_grad():
        logits = np.concatenate(
            [model(tg.from_numpy(X_test[i : i + 1])).numpy() for i in range(40)]
        )
        all_logits = model(tg.from_numpy(X_test)).numpy()
    # eval-mode BatchNorm uses its running statistics: an image's logits do not depend on the
    # rest of the batch
    np.testing.assert_allclose(logits, all_logits[:40], rtol=1e-10, atol=1e-10)
    assert quick["accuracies"][0] == np.mean(all_logits.argmax(axis=1) == y_test)
    assert not model.training


def test_the_same_code_on_pytorch_gives_the_same_predictions(quick, data):
    """The trained weights loaded into the demo's DigitCNN built by PyTorch: the same logits
    (to float32 precision) and so the same test accuracy."""
    torch = pytest.importorskip("torch")
    twin_demo = load_demo_on_pytorch(torch)
    _, X_test, _, y_test = data
    ours = quick["models"][0]
    twin = twin_demo.DigitCNN()
    state = {k: torch.from_numpy(np.asarray(v)) for k, v in ours.state_dict().items()}
    twin.load_state_dict(state)
    twin.eval()
    with torch.no_grad():
        theirs = twin(torch.from_numpy(X_test)).numpy()
    import tinygrad_edu as tg

    ours.eval()
    with tg.no_grad():
        mine = ours(tg.from_numpy(X_test)).numpy()
    np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-4)
    assert twin_demo.accuracy(twin, X_test, y_test) == quick["accuracies"][0]


def test_the_training_code_runs_on_pytorch(data):
    """The demo's train() itself, on PyTorch, learns as well (3 epochs: the random numbers
    differ, so only the level is compared)."""
    torch = pytest.importorskip("torch")
    twin_demo = load_demo_on_pytorch(torch)
    X_train, X_test, y_train, y_test = data
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        X_fit, X_val, y_fit, y_val = twin_demo.validation_split(X_train, y_train)
        model, history = twin_demo.train(0, X_fit, y_fit, X_val, y_val, epochs=3)
    finally:
        torch.set_num_threads(threads)
    assert history["loss"][-1] < history["loss"][0]
    assert twin_demo.accuracy(model, X_test, y_test) > 0.9


def test_feature_maps_are_the_layers_outputs(quick, demo, data):
    _, X_test, _, _ = data
    model = quick["models"][0]
    maps = demo.feature_maps(model, X_test[5])
    assert maps["relu1"].shape == (8, 8, 8)
    assert maps["relu2"].shape == (16, 8, 8)
    assert maps["pool"].shape == (16, 4, 4)
    assert all((m >= 0).all() for m in maps.values())  # after ReLU, and max of ReLU
    # pool is the max of each 2 x 2 block of relu2
    blocks = maps["relu2"].reshape(16, 4, 2, 4, 2).max(axis=(2, 4))
    np.testing.assert_array_equal(maps["pool"], blocks)
    # and the hooks were removed
    assert all(not getattr(model, n)._forward_hooks for n in ("relu1", "relu2", "pool"))


def test_pictures_are_written_and_not_blank(quick):
    names = {Path(f).name for f in quick["files"]}
    assert names == {"training.png", "filters.png", "feature_maps.png", "graph.svg", "graph.png"}
    for path in map(Path, quick["files"]):
        assert path.is_file() and path.stat().st_size > 5000, path
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
            pixels = matplotlib.image.imread(path)
            assert min(pixels.shape[:2]) > 200, path
            assert pixels[..., :3].std() > 0.05, f"{path} is (almost) one colour"


def test_graph_draws_each_module_as_a_cluster(quick):
    source = quick["diagram"].source
    assert source.count("subgraph cluster") >= 9  # DigitCNN and its eight children
    for label in [
        "conv1: Conv2d",
        "bn1: BatchNorm2d",
        "conv2: Conv2d",
        "bn2: BatchNorm2d",
        "pool: MaxPool2d",
        "dropout: Dropout",
        "fc: Linear",
    ]:
        assert label in source, label
    # the parameters are named by their path in the model
    for name in ["conv1.weight", "conv2.weight", "conv2.bias", "fc.weight"]:
        assert name in source, name
    assert "crossentropy" in source


def test_drawing_leaves_the_model_as_it_was(quick, demo, data, tmp_path):
    """The graph is drawn in training mode, whose forward pass updates BatchNorm's running
    statistics: on a copy, so the returned model is the one that was tested."""
    _, X_test, _, y_test = data
    model = quick["models"][0]
    before = {k: np.array(v, copy=True) for k, v in model.state_dict().items()}
    demo.draw_network(model, X_test, y_test, tmp_path / "graph")
    after = model.state_dict()
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value, err_msg=key)
    assert not model.training


@pytest.mark.slow
def test_every_seed_reaches_98_5_percent(demo, tmp_path):
    """The demo's claim, the full run: seeds 0-4, each at least 98.5% test accuracy (at most
    5 of the 360 test images wrong), where the MLP of demos/digits.py reaches 97.5%.
    About a minute and a half (``python -m pytest -m slow``)."""
    result = demo.main(["--out", str(tmp_path)])
    assert result["seeds"] == [0, 1, 2, 3, 4]
    for seed, accuracy in zip(result["seeds"], result["accuracies"]):
        assert accuracy >= 0.985, f"seed {seed}: {accuracy:.2%}"
    assert result["mean_accuracy"] > 0.985
