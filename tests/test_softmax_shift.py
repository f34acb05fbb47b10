"""Softmax without the shift by the rows' max (`ops._exp_unshifted`): where every element is
at most 60 and no row's sum of exp underflows, log_softmax, cross_entropy and attention skip
the shift; elsewhere they take it. Both ways the results must be the exact softmax to the
dtype's precision: checked against a float64 reference computed with the shift, on rows in
every regime (ordinary, large, far negative, mixed, -inf, NaN)."""

import math

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F
from tinygrad_edu import ops


def reference_log_softmax(x):
    """log_softmax along the last axis in float64, shifted by each row's max."""
    x = np.asarray(x, dtype=np.float64)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def rows(kind, dtype, seed=0):
    """(8, 33) scores of one regime."""
    x = np.random.default_rng(seed).standard_normal((8, 33)) * 3
    if kind == "large":  # beyond exp's safe range: the shift is needed
        x = x + 200
    elif kind == "far negative":  # exp underflows to 0 in every row without the shift
        x = x - 200
    elif kind == "one row far negative":
        x[3] -= 200
    elif kind == "one row large":
        x[5] += 70
    return x.astype(dtype)


TOLERANCE = {np.float32: 2e-6, np.float64: 1e-13}
KINDS = ["ordinary", "large", "far negative", "one row far negative", "one row large"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_log_softmax_and_softmax_are_exact_in_every_regime(kind, dtype):
    x = rows(kind, dtype)
    expected = reference_log_softmax(x)
    log_probs = tg.tensor(x).log_softmax(-1).numpy()
    assert log_probs.dtype == dtype
    # an absolute error: a log-probability near 0 is a probability near 1
    np.testing.assert_allclose(log_probs, expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    probs = tg.tensor(x).softmax(-1).numpy()
    np.testing.assert_allclose(probs, np.exp(expected), rtol=TOLERANCE[dtype] * 4, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_cross_entropy_and_its_gradient_in_every_regime(kind, dtype):
    x = rows(kind, dtype)
    target = np.arange(8) % 33
    logits = tg.tensor(x, requires_grad=True)
    loss = F.cross_entropy(logits, tg.tensor(target))
    expected = reference_log_softmax(x)
    tol = TOLERANCE[dtype]
    assert math.isclose(loss.item(), -expected[np.arange(8), target].mean(), rel_tol=tol)
    loss.backward()
    one_hot = np.eye(33)[target]
    np.testing.assert_allclose(logits.grad.numpy(), (np.exp(expected) - one_hot) / 8, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1.0, 40.0])  # scores of a few units, and up to about 1000
@pytest.mark.parametrize("causal", [False, True])
def test_attention_weights_are_exact_for_small_and_large_scores(size, causal, dtype):
    gen = np.random.default_rng(1)
    q, k, v = (gen.standard_normal((2, 3, 5, 4)).astype(dtype) for _ in range(3))
    q = q * np.asarray(size, dtype)
    out = F.scaled_dot_product_attention(tg.tensor(q), tg.tensor(k), tg.tensor(v), is_causal=causal)
    scores = q.astype(np.float64) @ k.astype(np.float64).swapaxes(-1, -2) / 2  # scale 1/sqrt(4)
    if causal:
        scores = np.where(np.tril(np.ones((5, 5), bool)), scores, -np.inf)
    expected = np.exp(reference_log_softmax(scores)) @ v.astype(np.float64)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=TOLERANCE[dtype] * 4)


def test_the_shift_is_skipped_only_where_it_is_not_needed():
    ordinary = rows("ordinary", np.float32)
    exps, sums = ops._exp_unshifted(ordinary, -1)
    np.testing.assert_allclose(sums[:, 0], np.exp(ordinary.astype(np.float64)).sum(-1), rtol=1e-6)
    assert exps.shape == ordinary.shape and sums.shape == (8, 1)
    for kind in ("large", "far negative", "one row far negative", "one row large"):
        assert ops._exp_unshifted(rows(kind, np.float32), -1) is None, kind
    with_nan = ordinary.copy()
    with_nan[2, 4] = np.nan
    assert ops._exp_unshifted(with_nan, -1) is None
    all_masked = ordinary.copy()
    all_masked[1] = -np.inf  # a row whose sum is 0: the shifted path decides what it gives
    assert ops._exp_unshifted(all_masked, -1) is None
    assert ops._exp_unshifted(ordinary.astype(np.float16), -1) is None  # exp(60) overflows it
    assert ops._exp_unshifted(np.zeros((0, 3), np.float32), -1) is None


def test_rows_with_nan_inf_and_all_minus_inf_keep_their_meaning():
    x = np.array(
        [[0.0, 1.0, 2.0], [np.nan, 0.0, 1.0], [np.inf, 0.0, 1.0], [-np.inf] * 3, [-np.inf, 0, 0]],
        dtype=np.float32,
    )
    log_probs = tg.tensor(x).log_softmax(-1).numpy()
    np.testing.assert_allclose(log_probs[0], reference_log_softmax(x[0]), rtol=1e-6)
    assert np.isnan(log_probs[1:4]).all()  # as PyTorch: NaN, +inf and a row all -inf give NaN
    np.testing.assert_allclose(log_probs[4], [-np.inf, -math.log(2), -math.log(2)], rtol=1e-6)


def test_masked_scores_count_for_nothing_however_large_or_small():
    """A key the mask hides gets weight 0 even when its score is huge (the shift is then
    taken, with -inf written where the mask is False) or far negative."""
    gen = np.random.default_rng(2)
    q = gen.standard_normal((2, 4, 3))
    k = gen.standard_normal((2, 5, 3))
    v = gen.standard_normal((2, 5, 2))
    mask = np.ones((4, 5), bool)
    mask[:, 1] = False
    for size in (1e4, -1e4, 1.0):
        k_big = k.copy()
        k_big[:, 1] = size * q[:, 0]  # key 1's scores: huge (or far negative) for query 0
        out = F.scaled_dot_product_attention(
            tg.tensor(q), tg.tensor(k_big), tg.tensor(v), attn_mask=tg.tensor(mask)
        )
        scores = q @ np.delete(k_big, 1, axis=1).swapaxes(-1, -2) / math.sqrt(3)
        expected = np.exp(reference_log_softmax(scores)) @ np.delete(v, 1, axis=1)
        np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=1e-13)
    x = rows("ordinary", np.float32)
    keep = np.ones(33, bool)
    keep[[0, 7]] = False
    exps, sums = ops._exp_unshifted(x, -1, keep)
    assert (exps[:, [0, 7]] == 0).all()
    np.testing.assert_allclose(sums[:, 0], np.exp(x[:, keep].astype(np.float64)).sum(-1), rtol=1e-6)
    x[:, 7] = 100.0  # beyond the safe range, though masked: the shift decides
    assert ops._exp_unshifted(x, -1, keep) is None
