"""demos/tiny_gpt.py: the nanoGPT-style character Transformer learns from the names, samples
reproducibly, keeps its structural promises (tied weights, causal attention), and, as the same
code on PyTorch, computes PyTorch's logits, loss, gradients and training steps."""

import math
from pathlib import Path

import numpy as np
import pytest
from _demos import load_demo

LETTERS = set("abcdefghijklmnopqrstuvwxyz")


demo = load_demo("tiny_gpt")
tg = demo.torch


def small_config(**changes):
    settings = dict(block_size=8, vocab_size=27, n_layer=2, n_head=2, n_embd=16, dropout=0.0)
    settings.update(changes)
    return demo.GPTConfig(**settings)


def random_tokens(shape, seed=0, vocab=27):
    return np.random.default_rng(seed).integers(0, vocab, size=shape)


# ---- the quick run -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    pytest.importorskip("names")
    out = tmp_path_factory.mktemp("tiny_gpt")
    return demo.main(["--quick", "--out", str(out)])


def test_the_quick_run_learns(quick):
    vocab = len(quick["vocab"])
    assert vocab == 27 and quick["vocab"][0] == "\n"
    # 0.02-std weights: every character about equally likely at the start
    for split in ("train", "val"):
        assert quick[f"{split}_loss_before"] == pytest.approx(math.log(vocab), abs=0.2)
        assert quick[f"{split}_loss_after"] < quick[f"{split}_loss_before"] - 0.3
    assert quick["library"] == "tinygrad_edu"
    assert quick["n_params"] > 0 and quick["steps"] > 0
    assert len(quick["history"]["step"]) == len(quick["history"]["val"]) >= 2
    for path in quick["files"]:
        assert Path(path).is_file() and Path(path).stat().st_size > 0


def test_samples_are_names_over_the_vocabulary(quick):
    for key in ("samples_before", "samples_after"):
        samples = quick[key]
        assert len(samples) == 10
        assert all(isinstance(s, str) and set(s) <= LETTERS for s in samples), samples
    # before training nearly every character is equally likely: long names of random letters
    assert np.mean([len(s) for s in quick["samples_before"]]) > 5


def test_the_same_seed_gives_the_same_run(quick, tmp_path):
    again = demo.main(["--quick", "--out", str(tmp_path)])
    assert again["samples_before"] == quick["samples_before"]
    assert again["samples_after"] == quick["samples_after"]
    assert again["history"]["val"] == quick["history"]["val"]


def test_generate_is_reproducible_with_a_seeded_generator():
    tg.manual_seed(3)
    model = demo.GPT(small_config())
    start = tg.zeros((4, 1), dtype=tg.long)

    def draw(seed, **kwargs):
        g = tg.Generator().manual_seed(seed)
        return model.generate(start, 12, generator=g, **kwargs).tolist()

    assert draw(5) == draw(5)
    assert draw(5) != draw(6)
    rows = np.array(draw(5, temperature=0.8, top_k=3))
    assert rows.shape == (4, 13) and rows.min() >= 0 and rows.max() < 27
    # longer than block_size: the context is cropped to the last block_size characters
    assert len(model.generate(start, 20, generator=tg.Generator().manual_seed(0))[0]) == 21


def test_top_k_draws_only_the_k_likeliest():
    tg.manual_seed(0)
    model = demo.GPT(small_config())
    start = tg.tensor([[1, 2, 3]], dtype=tg.long)
    logits, _ = model(start)
    top2 = set(np.argsort(logits.detach().numpy()[0, -1])[-2:].tolist())
    g = tg.Generator().manual_seed(0)
    drawn = {model.generate(start, 1, top_k=2, generator=g)[0, -1].item() for _ in range(40)}
    assert drawn <= top2 and len(drawn) == 2


def test_get_lr_warms_up_then_follows_a_cosine():
    lr = [demo.get_lr(it, 1e-3, 1e-4, 10, 110) for it in range(130)]
    assert lr[0] == pytest.approx(1e-3 / 11) and lr[9] == pytest.approx(1e-3 * 10 / 11)
    assert lr[10] == pytest.approx(1e-3)
    assert lr[60] == pytest.approx((1e-3 + 1e-4) / 2)  # half way down the cosine
    assert lr[110] == pytest.approx(1e-4) and lr[129] == 1e-4
    assert all(a >= b for a, b in zip(lr[10:], lr[11:], strict=False))


# ---- structure ---------------------------------------------------------------------------------


def test_the_head_and_the_token_embedding_share_one_weight():
    model = demo.GPT(small_config())
    assert model.lm_head.weight is model.transformer.wte.weight
    names = [name for name, _ in model.named_parameters()]
    assert "transformer.wte.weight" in names and "lm_head.weight" not in names  # counted once
    assert model.get_num_params() == sum(p.numel() for p in model.parameters())
    idx = tg.tensor(random_tokens((2, 8)))
    _, loss = model(idx, tg.tensor(random_tokens((2, 8), seed=1)))
    loss.backward()
    # the one gradient adds the head's use and the embedding's use of the weight
    grad = model.transformer.wte.weight.grad.numpy()
    assert grad.shape == (27, 16) and np.all(np.isfinite(grad))
    used = np.unique(idx.numpy())
    unused = np.setdiff1d(np.arange(27), used)
    assert np.abs(grad[unused]).sum() > 0  # from the head alone: every class gets a gradient


def test_weight_decay_groups_hold_the_matrices_and_the_rest():
    model = demo.GPT(small_config())
    optimizer = model.configure_optimizers(0.1, 1e-3, (0.9, 0.99))
    decay, no_decay = optimizer.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"])
    assert all(p.dim() == 1 for p in no_decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def test_initial_weights_follow_gpt2():
    tg.manual_seed(0)
    config = small_config(n_layer=4, n_embd=64)
    model = demo.GPT(config)
    scaled = 0.02 / math.sqrt(2 * config.n_layer)
    for name, p in model.named_parameters():
        values = p.detach().numpy()
        if name.endswith("c_proj.weight"):
            assert values.std() == pytest.approx(scaled, rel=0.15), name
        elif name.endswith(".bias"):
            assert np.all(values == 0), name
        elif ".ln_" in "." + name:  # the LayerNorms' gains
            assert np.all(values == 1), name
        else:
            assert values.std() == pytest.approx(0.02, rel=0.15), name


@pytest.mark.parametrize("bias", [True, False])
def test_a_later_token_does_not_change_earlier_logits(bias):
    tg.manual_seed(1)
    model = demo.GPT(small_config(bias=bias))
    model.eval()
    idx = random_tokens((3, 8), seed=2)
    changed = idx.copy()
    changed[:, 5] = (changed[:, 5] + 1) % 27
    with tg.no_grad():
        a, _ = model(tg.tensor(idx))
        b, _ = model(tg.tensor(changed))
    a, b = a.numpy(), b.numpy()
    assert a.shape == (3, 8, 27)
    np.testing.assert_array_equal(a[:, :5], b[:, :5])
    assert np.all(np.abs(a[:, 5:] - b[:, 5:]).max(axis=-1) > 0)  # the later ones do change


def test_a_sequence_longer_than_block_size_is_refused():
    model = demo.GPT(small_config())
    with pytest.raises(AssertionError, match="block size is only 8"):
        model(tg.tensor(random_tokens((1, 9))))


# ---- the same code on PyTorch ------------------------------------------------------------------


@pytest.fixture(scope="module")
def pt():
    pytest.importorskip("torch")
    return demo.load(use_torch=True)


def twin_models(pt, config, seed=0):
    """A tinygrad_edu model and a PyTorch one built from the same code, holding the same
    float64 weights (moved through NumPy arrays)."""
    tg.manual_seed(seed)
    ours = demo.GPT(config).double()
    theirs = pt.GPT(config).double()
    state = {k: pt.torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(state)
    return ours, theirs


def grads(model):
    return {name: p.grad.detach().numpy().copy() for name, p in model.named_parameters()}


@pytest.mark.parametrize("bias", [True, False])
def test_logits_loss_and_gradients_are_pytorchs(pt, bias):
    config = small_config(bias=bias)
    ours, theirs = twin_models(pt, config)
    assert ours.get_num_params() == theirs.get_num_params()
    idx, targets = random_tokens((4, 8), seed=3), random_tokens((4, 8), seed=4)
    logits, loss = ours(tg.tensor(idx), tg.tensor(targets))
    t_logits, t_loss = theirs(pt.torch.tensor(idx), pt.torch.tensor(targets))
    np.testing.assert_allclose(
        logits.detach().numpy(), t_logits.detach().numpy(), rtol=1e-10, atol=1e-12
    )
    assert loss.item() == pytest.approx(t_loss.item(), rel=1e-12)
    loss.backward()
    t_loss.backward()
    ours_g, theirs_g = grads(ours), grads(theirs)
    assert ours_g.keys() == theirs_g.keys()
    for name in ours_g:
        np.testing.assert_allclose(
            ours_g[name], theirs_g[name], rtol=1e-8, atol=1e-12, err_msg=name
        )


def test_training_steps_are_pytorchs(pt):
    """AdamW in two weight-decay groups, the warm-up learning rate set in every group,
    gradients clipped to norm 1: three steps on the same batches give the same weights."""
    config = small_config()
    ours, theirs = twin_models(pt, config, seed=5)
    pairs = []
    for lib, model in ((tg, ours), (pt.torch, theirs)):
        optimizer = model.configure_optimizers(0.1, 3e-3, (0.9, 0.99))
        pairs.append((lib, model, optimizer))
    norms = {0: [], 1: []}
    for it in range(3):
        idx, targets = random_tokens((4, 8), seed=10 + it), random_tokens((4, 8), seed=20 + it)
        lr = demo.get_lr(it, 3e-3, 3e-4, 2, 10)
        for k, (lib, model, optimizer) in enumerate(pairs):
            for group in optimizer.param_groups:
                group["lr"] = lr
            _, loss = model(lib.tensor(idx), lib.tensor(targets))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            norms[k].append(float(lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)))
            optimizer.step()
    np.testing.assert_allclose(norms[0], norms[1], rtol=1e-10)
    theirs_state = theirs.state_dict()
    for name, value in ours.state_dict().items():
        np.testing.assert_allclose(
            np.array(value), theirs_state[name].numpy(), rtol=1e-9, atol=1e-12, err_msg=name
        )


def test_the_data_pipeline_is_pytorchs(pt):
    """Text.tensor, get_batch (with a long tensor of indices iterated and used as slice
    bounds) and torch.stack work the same on both libraries."""
    names = ["ann", "bob", "eve"]
    ours_text, theirs_text = demo.Text(names), pt.Text(names)
    data = ours_text.tensor(names)
    np.testing.assert_array_equal(data.numpy(), theirs_text.tensor(names).numpy())
    assert str(data.dtype) == "int64"
    assert ours_text.decode(data.tolist()) == "ann\nbob\neve\n"
    x, y = demo.get_batch(data, 4, 5, tg.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 4) and str(x.dtype) == "int64"
    text = data.numpy()
    for row_x, row_y in zip(x.numpy(), y.numpy(), strict=True):
        start = next(i for i in range(len(text) - 4) if np.array_equal(text[i : i + 4], row_x))
        np.testing.assert_array_equal(row_y, text[start + 1 : start + 5])
