"""demos/makemore.py: the makemore models, from bigram counts to a Transformer, on real names.

The quick run (a few seconds) is run once and its results checked against what they must be:
every model's losses finite and better than guessing, the counts' loss equal to a NumPy
computation of the same smoothed counts, reproducible samples of a-z only. The full run's
ladder of dev losses is checked only by ``python -m pytest -m slow`` (minutes).
"""

import math
import re
from pathlib import Path

import numpy as np
import pytest
from _demos import load_demo

import tinygrad_edu as tg

MODELS = ["bigram counts", "neural bigram", "MLP", "MLP + BatchNorm", "WaveNet", "Transformer"]
UNIFORM = math.log(27)


@pytest.fixture(scope="module")
def demo():
    return load_demo("makemore")


@pytest.fixture(scope="module")
def quick(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("makemore")
    return demo.main(["--quick", "--out", str(out)])


def numpy_counts_nll(names: list[str]) -> float:
    """The smoothed bigram model's mean NLL on its own training names, in NumPy alone."""
    index = {c: i + 1 for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")}
    pairs = np.array(
        [
            (a, b)
            for w in names
            for a, b in zip([0] + [index[c] for c in w], [index[c] for c in w] + [0])
        ]
    )
    N = np.zeros((27, 27))
    np.add.at(N, (pairs[:, 0], pairs[:, 1]), 1)
    P = (N + 1) / (N + 1).sum(axis=1, keepdims=True)
    return float(-np.log(P[pairs[:, 0], pairs[:, 1]]).mean())


# ---- the quick run ----------------------------------------------------------------------------


def test_every_model_has_finite_losses_better_than_guessing(quick):
    assert list(quick["models"]) == MODELS
    for name, r in quick["models"].items():
        for part in ("train", "dev"):
            assert np.isfinite(r[part]), (name, part)
            assert 1.0 < r[part] < UNIFORM, (name, part, r[part])
        assert r["parameters"] > 0, name
        if name != "bigram counts":
            assert len(r["losses"]) > 0 and all(np.isfinite(r["losses"])), name
    assert quick["best"] in MODELS
    assert quick["test_loss"] == pytest.approx(quick["models"][quick["best"]]["dev"], abs=0.1)
    for name in MODELS:
        assert f"| {name} |" in quick["table"]


def test_counts_loss_is_numpys_smoothed_bigram_nll(quick):
    expected = numpy_counts_nll(quick["split"]["train"])
    assert quick["models"]["bigram counts"]["train"] == pytest.approx(expected, rel=1e-5)
    # on this data the counts model sits well below uniform guessing
    assert 2.2 < expected < 2.6


def test_split_is_disjoint_and_covers_every_name(demo, quick):
    parts = quick["split"]
    train, dev, test = (set(parts[k]) for k in ("train", "dev", "test"))
    assert not (train & dev) and not (train & test) and not (dev & test)
    assert train | dev | test == set(demo.words())
    n = len(demo.words())
    assert len(train) == int(0.8 * n) and len(dev) == int(0.9 * n) - int(0.8 * n)
    assert demo.split_names(demo.words()) == parts  # the fixed seed gives the same split


def test_samples_are_lowercase_names_and_reproducible(demo, quick):
    for name, r in quick["models"].items():
        assert len(r["samples"]) == 8, name
        for s in r["samples"]:
            assert re.fullmatch("[a-z]*", s), (name, s)
        assert any(r["samples"]), name
    # the same seed gives the same names, from a counted model and from a trained one (eval mode)
    counts = demo.CountsBigram(demo.count_bigrams(quick["split"]["train"]))
    assert demo.sample(counts, 1) == quick["models"]["bigram counts"]["samples"]
    model, block_size, whole = quick["trained"]["MLP + BatchNorm"]
    first = demo.sample(model, block_size, whole, seed=7)
    assert demo.sample(model, block_size, whole, seed=7) == first
    assert demo.sample(model, block_size, whole, seed=8) != first
    transformer, T, whole = quick["trained"]["Transformer"]
    names = demo.sample(transformer, T, whole, count=20, max_len=T - 1)
    assert max(len(s) for s in names) <= T - 1


def test_pictures_are_written(quick):
    names = {Path(f).name for f in quick["files"]}
    assert names == {"lr_sweep.png", "losses.png"}
    for f in quick["files"]:
        assert Path(f).is_file() and Path(f).stat().st_size > 5000, f
    lre = quick["lr_sweep"]["lre"]
    assert lre[0] == pytest.approx(-3) and lre[-1] == pytest.approx(0)
    assert len(quick["lr_sweep"]["losses"]) == len(lre)


# ---- the pieces -------------------------------------------------------------------------------


def test_neural_bigram_learns_the_counts(demo):
    names = demo.split_names(demo.words())["train"]
    X, Y = demo.contexts(names, 1)
    model = demo.NeuralBigram(tg.Generator().manual_seed(2147483647))
    with demo._common.one_blas_thread():  # several BLAS threads make these products slower
        losses = demo.train_neural_bigram(model, X, Y, steps=100, lr=50)
    assert losses[-1] < losses[0] - 0.5
    nll = demo.split_loss(model, X, Y)
    assert nll == pytest.approx(numpy_counts_nll(names), abs=0.02)


def test_datasets_hold_the_same_predictions(demo):
    names = ["ava", "bo", "emmanuel"]
    X, Y = demo.contexts(names, 3)
    assert X.shape == (4 + 3 + 9, 3)
    assert X[0].tolist() == [0, 0, 0] and Y[0].item() == 1  # ... -> a
    assert X[3].tolist() == [1, 22, 1] and Y[3].item() == 0  # ava -> .
    Xs, Ys = demo.sequences(names, 9)
    assert Xs[1].tolist() == [0, 2, 15, 0, 0, 0, 0, 0, 0]  # . b o, padding
    assert Ys[1].tolist() == [2, 15, 0, -1, -1, -1, -1, -1, -1]  # b o ., no targets
    # every context example is exactly one target position of the whole-name sequences
    assert int((Ys >= 0).sum().item()) == Y.shape[0]
    assert sorted(Ys[Ys >= 0].tolist()) == sorted(Y.tolist())


def test_flatten_consecutive_pairs_neighbours(demo):
    """(B, 8, C) -> (B * 4, 2C): row 4b + j is positions 2j and 2j + 1 of example b, side by
    side: the lecture's (B, 4, 2C) with batch and position in the rows, which is what lets
    nn.BatchNorm1d take the mean over both."""
    x = np.random.default_rng(0).standard_normal((5, 8, 3))
    out = demo.FlattenConsecutive(2)(tg.tensor(x)).numpy()
    assert out.shape == (20, 6)
    np.testing.assert_array_equal(out[4 * 2 + 1], np.concatenate([x[2, 2], x[2, 3]]))
    np.testing.assert_array_equal(out, x.reshape(5, 4, 6).reshape(20, 6))
    model = demo.wavenet(8)
    model.eval()
    assert model(tg.randint(0, 27, (7, 8))).shape == (7, 27)


def test_transformer_is_causal(demo):
    tg.manual_seed(0)
    model = demo.Transformer(12)
    model.eval()
    x = tg.randint(0, 27, (2, 12))
    y = x.clone()
    y[:, 6] = (y[:, 6] + 1) % 27
    with tg.no_grad():
        a, b = model(x).numpy(), model(y).numpy()
    np.testing.assert_array_equal(a[:, :6], b[:, :6])  # earlier positions cannot see position 6
    assert np.abs(a[:, 6:] - b[:, 6:]).max() > 1e-3


def test_kaiming_init_as_the_lecture(demo):
    tg.manual_seed(0)
    model = demo.mlp_batchnorm()
    hidden, last = model[2], model[5]
    assert hidden.bias is None
    assert float(hidden.weight.std().item()) == pytest.approx((5 / 3) / 30**0.5, rel=0.05)
    # PyTorch's default U(-1/sqrt(200), 1/sqrt(200)), scaled by 0.1
    assert float(last.weight.std().item()) == pytest.approx(0.1 / 600**0.5, rel=0.05)
    assert float(last.bias.abs().max().item()) == 0


# ---- the full run -----------------------------------------------------------------------------


@pytest.mark.slow
def test_full_run_ladder(demo, tmp_path):
    result = demo.main(["--out", str(tmp_path)])
    dev = {name: r["dev"] for name, r in result["models"].items()}
    assert abs(dev["neural bigram"] - dev["bigram counts"]) < 0.02
    for name in ("MLP", "MLP + BatchNorm", "WaveNet", "Transformer"):
        assert dev[name] < dev["bigram counts"] - 0.2, name
    assert min(dev["WaveNet"], dev["Transformer"]) < min(dev["MLP"], dev["MLP + BatchNorm"])
    assert result["seconds"] < 600
