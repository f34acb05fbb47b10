"""Attention: scaled_dot_product_attention and MultiheadAttention against PyTorch in float64
(values, weights, gradients of inputs, masks and parameters, state_dict both ways), their
gradients against finite differences, their errors, and detect_anomaly with -inf masks."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F
from tinygrad_edu import nn
from tinygrad_edu.nn.attention import MultiheadAttention, NonDynamicallyQuantizableLinear
from tinygrad_edu.nn.functional import scaled_dot_product_attention

try:
    import torch
except ImportError:  # the comparisons are skipped, the rest runs
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def rng(seed=0):
    return np.random.default_rng(seed)


def to_torch(value, requires_grad=False):
    if isinstance(value, np.ndarray):
        t = torch.tensor(value)
        return t.requires_grad_() if requires_grad and t.dtype.is_floating_point else t
    return value


def close(ours, theirs, tol=1e-12):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    ours = ours.data if isinstance(ours, tg.Tensor) else ours
    assert np.shape(ours) == np.shape(theirs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=tol)


# ---- scaled_dot_product_attention against PyTorch ---------------------------------------------


def sdpa_both(q, k, v, upstream_seed=1, mask_grad=False, **kwargs):
    """Run both implementations on the same arrays and the same upstream gradient; return
    (ours, theirs, our input grads, their input grads)."""
    ours_in = [tg.Tensor(a, requires_grad=True) for a in (q, k, v)]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    ours_kw, theirs_kw = dict(kwargs), {k_: to_torch(v_) for k_, v_ in kwargs.items()}
    mask = kwargs.get("attn_mask")
    if mask_grad:
        ours_kw["attn_mask"] = tg.Tensor(mask, requires_grad=True)
        theirs_kw["attn_mask"] = torch.tensor(mask, requires_grad=True)
        ours_in.append(ours_kw["attn_mask"])
        theirs_in.append(theirs_kw["attn_mask"])
    out = scaled_dot_product_attention(*ours_in[:3], **ours_kw)
    expected = torch.nn.functional.scaled_dot_product_attention(*theirs_in[:3], **theirs_kw)
    upstream = rng(upstream_seed).normal(size=out.shape)
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    return out, expected, [t.grad for t in ours_in], [t.grad for t in theirs_in]


def qkv(batch=(2,), L=3, S=5, E=4, Ev=6, seed=0):
    r = rng(seed)
    return (
        r.normal(size=(*batch, L, E)),
        r.normal(size=(*batch, S, E)),
        r.normal(size=(*batch, S, Ev)),
    )


def masks(L=3, S=5, seed=2):
    keep = rng(seed).random((L, S)) > 0.4
    keep[:, 0] = True  # every query keeps at least one key
    return {
        "none": None,
        "bool": keep,
        "float": np.where(keep, 0.0, -np.inf),
        "float_bias": rng(seed + 1).normal(size=(L, S)),
    }


@needs_torch
@pytest.mark.parametrize("mask", ["none", "bool", "float", "float_bias"])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_sdpa_matches_torch_with_masks(mask, scale):
    q, k, v = qkv(batch=(2, 3))
    out, expected, grads, expected_grads = sdpa_both(q, k, v, attn_mask=masks()[mask], scale=scale)
    close(out, expected)
    for g, e in zip(grads, expected_grads):
        close(g, e)


@needs_torch
@pytest.mark.parametrize("L,S", [(4, 4), (3, 5), (5, 3)])
def test_sdpa_causal_matches_torch(L, S):
    q, k, v = qkv(L=L, S=S)
    out, expected, grads, expected_grads = sdpa_both(q, k, v, is_causal=True)
    close(out, expected)
    for g, e in zip(grads, expected_grads):
        close(g, e)


@needs_torch
def test_sdpa_gradient_of_a_float_mask_and_broadcast_batches():
    r = rng(5)
    q, k, v = r.normal(size=(2, 1, 3, 4)), r.normal(size=(1, 2, 5, 4)), r.normal(size=(5, 2))
    bias = r.normal(size=(2, 1, 3, 5))
    out, expected, grads, expected_grads = sdpa_both(q, k, v, attn_mask=bias, mask_grad=True)
    close(out, expected)
    for g, e in zip(grads, expected_grads):
        close(g, e)


@needs_torch
@pytest.mark.parametrize("mask", ["bool", "float"])
def test_sdpa_query_without_keys_gets_zero_like_torch(mask):
    q, k, v = qkv()
    m = masks()[mask].copy()
    m[1] = False if mask == "bool" else -np.inf  # query 1 may look at nothing
    out, expected, grads, expected_grads = sdpa_both(q, k, v, attn_mask=m)
    close(out, expected)
    assert np.all(out.data[:, 1] == 0)
    for g, e in zip(grads, expected_grads):
        close(g, e)
    assert np.all(grads[0].data[:, 1] == 0)


def test_sdpa_masked_keys_get_exactly_zero_weight():
    q, k, _ = qkv()
    keep = masks()["bool"]
    v = np.eye(5)[None].repeat(2, axis=0)  # the output is the weights themselves
    for m in (keep, np.where(keep, 0.0, -np.inf)):
        weights = scaled_dot_product_attention(tg.Tensor(q), tg.Tensor(k), tg.Tensor(v), m).data
        assert np.all(weights[:, ~keep] == 0)
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0)


def test_sdpa_unbatched_and_default_scale():
    q, k, v = qkv(batch=())
    out = scaled_dot_product_attention(tg.Tensor(q), tg.Tensor(k), tg.Tensor(v))
    scores = q @ k.T / math.sqrt(q.shape[-1])
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(out.data, weights @ v, rtol=1e-12)


def test_sdpa_dropout_uses_the_library_generator():
    q, k, v = (tg.Tensor(a) for a in qkv())
    tg.manual_seed(7)
    out = scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    tg.manual_seed(7)
    keep = tg.creation.generator().random((2, 3, 5)) >= 0.4
    plain = scaled_dot_product_attention(q, k, tg.Tensor(np.eye(5)[None].repeat(2, 0)))
    expected = (plain.data * keep / 0.6) @ v.data
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    assert np.all(scaled_dot_product_attention(q, k, v, dropout_p=1.0).data == 0)


small_sizes = st.integers(min_value=1, max_value=3)


@settings(max_examples=12, deadline=None)
@given(
    L=small_sizes,
    S=small_sizes,
    E=small_sizes,
    mask=st.sampled_from(["none", "bool", "float", "causal"]),
    seed=st.integers(0, 1000),
)
def test_sdpa_gradcheck_and_gradgradcheck(L, S, E, mask, seed):
    r = rng(seed)
    q, k, v = (
        tg.Tensor(r.normal(size=shape), requires_grad=True)
        for shape in ((2, L, E), (2, S, E), (2, S, E + 1))
    )
    keep = r.random((L, S)) > 0.3
    keep[:, 0] = True
    kwargs = {
        "none": {},
        "bool": {"attn_mask": keep},
        "float": {"attn_mask": np.where(keep, r.normal(size=(L, S)), -np.inf)},
        "causal": {"is_causal": True},
    }[mask]

    def fn(a, b, c):
        return scaled_dot_product_attention(a, b, c, **kwargs)

    assert tg.gradcheck(fn, [q, k, v])
    assert tg.gradgradcheck(fn, [q, k, v])


# ---- scaled_dot_product_attention errors ------------------------------------------------------


def test_sdpa_errors_name_the_shapes():
    q, k, v = (tg.Tensor(a) for a in qkv())
    with pytest.raises(ValueError, match=r"at least 2 dimensions.*query \(4,\)"):
        scaled_dot_product_attention(q[0, 0], k, v)
    with pytest.raises(ValueError, match=r"key's last dimension.*key \(2, 5, 3\)"):
        scaled_dot_product_attention(q, k[..., :3], v)
    with pytest.raises(ValueError, match=r"as many rows as key.*value \(2, 4, 6\)"):
        scaled_dot_product_attention(q, k, v[:, :4])
    with pytest.raises(ValueError, match="leading .batch. dimensions do not broadcast"):
        scaled_dot_product_attention(
            q, tg.Tensor(np.zeros((3, 5, 4))), tg.Tensor(np.zeros((3, 5, 6)))
        )
    with pytest.raises(TypeError, match="one floating dtype.*float32"):
        scaled_dot_product_attention(q, k, v.float())
    with pytest.raises(
        ValueError, match=r"attn_mask of shape \(4, 5\) does not broadcast.*\(2, 3, 5\)"
    ):
        scaled_dot_product_attention(q, k, v, attn_mask=np.ones((4, 5), dtype=bool))
    with pytest.raises(TypeError, match="attn_mask must be boolean or floating point.*int64"):
        scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 5), dtype=np.int64))
    with pytest.raises(ValueError, match="not both"):
        scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 5), dtype=bool), is_causal=True)
    for p in (-0.1, 1.5, True):
        with pytest.raises(ValueError, match="dropout_p must be a probability"):
            scaled_dot_product_attention(q, k, v, dropout_p=p)


# ---- MultiheadAttention against PyTorch -------------------------------------------------------


def twin_layers(embed_dim=8, num_heads=2, seed=0, **kwargs):
    """A PyTorch MultiheadAttention and ours with its weights."""
    torch.manual_seed(seed)
    theirs = torch.nn.MultiheadAttention(embed_dim, num_heads, dtype=torch.float64, **kwargs)
    with torch.no_grad():  # nonzero biases, so that their gradients and use are tested too
        for name, p in theirs.named_parameters():
            if "bias" in name:
                p.normal_()
    ours = MultiheadAttention(embed_dim, num_heads, **kwargs)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def mha_both(ours, theirs, arrays, seed=3, **kwargs):
    """Forward both layers on the same arrays; backpropagate the same upstream gradient into
    the output (and weights); return outputs, weights and the gradients of inputs and params."""
    ours_in = [tg.Tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    if len(arrays) == 2:  # key is value
        ours_in.append(ours_in[1])
        theirs_in.append(theirs_in[1])
    out, weights = ours(*ours_in, **kwargs)
    t_out, t_weights = theirs(*theirs_in, **{k: to_torch(v) for k, v in kwargs.items()})
    r = rng(seed)
    g_out = r.normal(size=out.shape)
    loss = (out * tg.Tensor(g_out)).sum()
    t_loss = (t_out * torch.tensor(g_out)).sum()
    if weights is not None:
        g_w = r.normal(size=weights.shape)
        loss = loss + (weights * tg.Tensor(g_w)).sum()
        t_loss = t_loss + (t_weights * torch.tensor(g_w)).sum()
    loss.backward()
    t_loss.backward()
    return {
        "out": (out, t_out),
        "weights": (weights, t_weights),
        "input grads": [(a.grad, b.grad) for a, b in zip(ours_in, theirs_in)],
        "param grads": [
            (dict(ours.named_parameters())[name].grad, p.grad)
            for name, p in theirs.named_parameters()
        ],
    }


def assert_mha_same(result):
    close(*result["out"])
    weights, t_weights = result["weights"]
    assert (weights is None) == (t_weights is None)
    if weights is not None:
        close(weights, t_weights)
    for ours, theirs in result["input grads"] + result["param grads"]:
        close(ours, theirs)


def mha_inputs(batch_first, N=2, L=3, S=5, E=8, kdim=8, vdim=8, batched=True, seed=1):
    r = rng(seed)
    shapes = [(L, E), (S, kdim), (S, vdim)]
    arrays = [r.normal(size=s) for s in shapes]
    if batched:
        arrays = [np.stack([a, r.normal(size=a.shape)][:N]) for a in arrays]
        if not batch_first:
            arrays = [np.ascontiguousarray(a.transpose(1, 0, 2)) for a in arrays]
    return arrays


def mask_cases(N=2, L=3, S=5, H=2, batched=True):
    r = rng(4)
    causal = np.triu(np.ones((L, S), dtype=bool), k=1)
    padding = np.zeros((N, S), dtype=bool)
    padding[1, 3:] = True
    if not batched:
        padding = padding[1]
    per_head = r.random((N * H if batched else H, L, S)) > 0.7
    per_head[..., 0] = False
    return {
        "none": {},
        "bool attn_mask": {"attn_mask": causal},
        "float attn_mask": {"attn_mask": np.where(causal, -np.inf, r.normal(size=(L, S)))},
        "3-d attn_mask": {"attn_mask": per_head},
        "key_padding_mask": {"key_padding_mask": padding},
        "float key_padding_mask": {"key_padding_mask": np.where(padding, -np.inf, 0.0)},
        "both": {"attn_mask": causal, "key_padding_mask": padding},
        "causal hint": {"attn_mask": causal, "is_causal": True},
        "per head weights": {"attn_mask": causal, "average_attn_weights": False},
        "no weights": {"key_padding_mask": padding, "need_weights": False},
        "no weights, causal": {"attn_mask": causal, "need_weights": False, "is_causal": True},
    }


@needs_torch
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("case", list(mask_cases()))
def test_mha_matches_torch(batch_first, case):
    ours, theirs = twin_layers(batch_first=batch_first)
    arrays = mha_inputs(batch_first)
    assert_mha_same(mha_both(ours, theirs, arrays, **mask_cases()[case]))


@needs_torch
@pytest.mark.parametrize(
    "case", ["none", "both", "3-d attn_mask", "per head weights", "no weights"]
)
def test_mha_unbatched_matches_torch(case):
    ours, theirs = twin_layers(batch_first=True)
    arrays = mha_inputs(True, batched=False)
    assert_mha_same(mha_both(ours, theirs, arrays, **mask_cases(batched=False)[case]))


@needs_torch
@pytest.mark.parametrize("batch_first", [True, False])
def test_mha_self_attention_kdim_vdim_and_no_bias_match_torch(batch_first):
    ours, theirs = twin_layers(batch_first=batch_first)
    x = mha_inputs(batch_first)[0]
    assert_mha_same(mha_both(ours, theirs, [x, x]))  # one tensor as query, key and value

    ours, theirs = twin_layers(kdim=3, vdim=5, batch_first=batch_first)
    arrays = mha_inputs(batch_first, kdim=3, vdim=5)
    assert_mha_same(mha_both(ours, theirs, arrays, **mask_cases()["both"]))

    ours, theirs = twin_layers(bias=False, batch_first=batch_first)
    assert_mha_same(mha_both(ours, theirs, mha_inputs(batch_first), **mask_cases()["both"]))


@needs_torch
def test_mha_query_with_every_key_masked_is_nan_with_weights_zero_without_like_torch():
    ours, theirs = twin_layers(batch_first=True)
    arrays = mha_inputs(True)
    padding = np.zeros((2, 5), dtype=bool)
    padding[0] = True  # sequence 0 has no key at all
    with_weights = mha_both(ours, theirs, arrays, key_padding_mask=padding)
    out, t_out = with_weights["out"]
    assert np.isnan(out.data[0]).all() and np.isnan(t_out.detach().numpy()[0]).all()
    close(out.data[1], t_out.detach().numpy()[1])
    ours.zero_grad()
    theirs.zero_grad()
    assert_mha_same(mha_both(ours, theirs, arrays, key_padding_mask=padding, need_weights=False))


@needs_torch
def test_mha_dropout_only_in_training_mode():
    ours, theirs = twin_layers(batch_first=True, dropout=0.5)
    arrays = mha_inputs(True)
    ours.eval()
    theirs.eval()
    assert_mha_same(mha_both(ours, theirs, arrays))
    ours.train()
    tg.manual_seed(3)
    out, weights = ours(*(tg.Tensor(a) for a in arrays))
    assert np.all((weights.data == 0) | (weights.data > 0))
    plain, _ = ours.eval()(*(tg.Tensor(a) for a in arrays))
    assert not np.allclose(out.data, plain.data)


@needs_torch
@pytest.mark.parametrize(
    "kwargs", [{}, {"bias": False}, {"kdim": 3, "vdim": 5}, {"kdim": 3, "bias": False}]
)
def test_mha_state_dict_keys_shapes_and_loading_both_ways(kwargs):
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True, dtype=torch.float64, **kwargs)
    ours = MultiheadAttention(8, 2, batch_first=True, **kwargs)
    expected = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == expected
    assert list(ours.state_dict()) == list(expected)  # the same order too
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]

    # ours -> torch
    tg.manual_seed(1)
    ours = MultiheadAttention(8, 2, batch_first=True, **kwargs)
    for p in ours.parameters():
        nn.init.normal_(p)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    arrays = mha_inputs(True, kdim=kwargs.get("kdim", 8), vdim=kwargs.get("vdim", 8))
    assert_mha_same(mha_both(ours, theirs, arrays))
    # torch -> ours
    with torch.no_grad():
        for p in theirs.parameters():
            p.uniform_(-1, 1)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours.zero_grad()
    theirs.zero_grad()
    assert_mha_same(mha_both(ours, theirs, arrays))


def test_mha_initialisation_as_torch():
    tg.manual_seed(0)
    layer = MultiheadAttention(16, 4)
    assert np.all(layer.in_proj_bias.data == 0) and np.all(layer.out_proj.bias.data == 0)
    xavier = math.sqrt(6 / (16 + 48))  # fan_in 16, fan_out 48 for the stacked (48, 16)
    assert np.abs(layer.in_proj_weight.data).max() <= xavier
    assert np.abs(layer.in_proj_weight.data).max() > 0.8 * xavier
    linear = 1 / math.sqrt(16)
    assert np.abs(layer.out_proj.weight.data).max() <= linear
    assert isinstance(layer.out_proj, NonDynamicallyQuantizableLinear)
    assert isinstance(layer.out_proj, nn.Linear)
    separate = MultiheadAttention(16, 4, kdim=3, vdim=5)
    assert separate.in_proj_weight is None
    assert np.abs(separate.k_proj_weight.data).max() <= math.sqrt(6 / (16 + 3))
    assert layer.batch_first is False  # PyTorch's default
    assert layer.in_proj_weight.dtype == np.float64
    assert MultiheadAttention(4, 2, dtype=np.float32).out_proj.weight.dtype == np.float32


def test_mha_repr_names_the_output_projection_as_torch():
    text = repr(MultiheadAttention(8, 2, batch_first=True))
    assert text.startswith("MultiheadAttention(")
    assert "embed_dim=8, num_heads=2, batch_first=True" in text
    assert "(out_proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=8" in text


def test_mha_gradcheck_and_gradgradcheck():
    tg.manual_seed(2)
    layer = MultiheadAttention(4, 2, batch_first=True)
    for p in layer.parameters():
        nn.init.normal_(p, std=0.5)
    r = rng(9)
    x = tg.Tensor(r.normal(size=(1, 3, 4)), requires_grad=True)
    y = tg.Tensor(r.normal(size=(1, 2, 4)), requires_grad=True)
    padding = np.array([[False, True]])
    causal = np.triu(np.ones((3, 2), dtype=bool), k=1)

    def fn(q, kv):
        out, weights = layer(q, kv, kv, key_padding_mask=padding, attn_mask=causal)
        return out.sum(axis=2) + weights.sum(axis=2)

    assert tg.gradcheck(fn, [x, y])
    assert tg.gradgradcheck(fn, [x, y])


def parameter_gradients_by_finite_differences(layer, loss_fn, eps=1e-6):
    """d loss / d parameter for every parameter of ``layer``, by central differences: each
    element is nudged in place and put back."""
    grads = {}
    for name, p in layer.named_parameters():
        data = p.data
        g = np.zeros(data.shape)
        for index in np.ndindex(data.shape):
            original = data[index]
            data[index] = original + eps
            above = loss_fn()
            data[index] = original - eps
            below = loss_fn()
            data[index] = original
            g[index] = (above - below) / (2 * eps)
        grads[name] = g
    return grads


@settings(max_examples=10, deadline=None)
@given(
    heads=st.sampled_from([1, 2]),
    head_dim=st.integers(1, 2),
    L=st.integers(1, 3),
    S=st.integers(1, 3),
    need_weights=st.booleans(),
    masked=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_mha_gradcheck_inputs_and_parameters(heads, head_dim, L, S, need_weights, masked, seed):
    E = heads * head_dim
    tg.manual_seed(seed)
    layer = MultiheadAttention(E, heads, batch_first=True)
    for p in layer.parameters():
        nn.init.normal_(p, std=0.5)
    r = rng(seed)
    q = tg.Tensor(r.normal(size=(2, L, E)), requires_grad=True)
    kv = tg.Tensor(r.normal(size=(2, S, E)), requires_grad=True)
    padding = None
    if masked:
        padding = r.random((2, S)) > 0.6
        padding[:, 0] = False  # every query keeps a key

    def fn(query, key_value):
        out, _ = layer(
            query, key_value, key_value, key_padding_mask=padding, need_weights=need_weights
        )
        return out

    assert tg.gradcheck(fn, [q, kv])

    upstream = r.normal(size=(2, L, E))

    def loss():
        return float((fn(q, kv).data * upstream).sum())

    layer.zero_grad()
    (fn(q, kv) * tg.Tensor(upstream)).sum().backward()
    expected = parameter_gradients_by_finite_differences(layer, loss)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad.data, expected[name], rtol=1e-5, atol=1e-7)


# ---- MultiheadAttention errors ----------------------------------------------------------------


def test_mha_constructor_errors():
    with pytest.raises(ValueError, match=r"embed_dim \(5\) must be divisible by num_heads \(2\)"):
        MultiheadAttention(5, 2)
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="must be a positive int"):
            MultiheadAttention(bad, 1)
        with pytest.raises(ValueError, match="num_heads must be a positive int"):
            MultiheadAttention(4, bad)
    with pytest.raises(ValueError, match="kdim must be a positive int"):
        MultiheadAttention(4, 2, kdim=0)
    with pytest.raises(ValueError, match="dropout must be a probability"):
        MultiheadAttention(4, 2, dropout=1.5)


def test_mha_forward_errors_name_the_layer_and_shapes():
    layer = MultiheadAttention(8, 2, batch_first=True)
    q, k, v = (tg.Tensor(a) for a in mha_inputs(True))
    name = r"MultiheadAttention\(embed_dim=8, num_heads=2\)"
    with pytest.raises(ValueError, match=name + r": query must be 3-d .batched. or 2-d.*\(8,\)"):
        layer(q[0, 0], k, v)
    with pytest.raises(ValueError, match=name + r".*query must be 3-d"):
        layer(q.reshape(1, 2, 3, 8), k, v)
    with pytest.raises(ValueError, match=r"key and value must be 3-d like query.*key \(5, 8\)"):
        layer(q, k[0], v[0])
    with pytest.raises(ValueError, match=r"query's last dimension must be embed_dim=8"):
        layer(q[..., :6], k, v)
    with pytest.raises(ValueError, match=r"key's last dimension must be kdim=8"):
        layer(q, k[..., :6], v)
    with pytest.raises(ValueError, match=r"value's last dimension must be vdim=8"):
        layer(q, k, v[..., :6])
    with pytest.raises(ValueError, match="same sequence length and batch size"):
        layer(q, k, v[:, :4])
    with pytest.raises(ValueError, match=r"different batch sizes \(axis 0 of \(N, L, E\)"):
        layer(q[:1], k, v)
    seq_first = MultiheadAttention(8, 2)
    with pytest.raises(ValueError, match=r"different batch sizes \(axis 1 of \(L, N, E\)"):
        seq_first(q, k, v)  # batch-first data given to a sequence-first layer


def test_mha_mask_errors():
    layer = MultiheadAttention(8, 2, batch_first=True)
    q, k, v = (tg.Tensor(a) for a in mha_inputs(True))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(3, 4\) should be \(3, 5\)"):
        layer(q, k, v, attn_mask=np.zeros((3, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(3, 3, 5\) should be \(4, 3, 5\)"):
        layer(q, k, v, attn_mask=np.zeros((3, 3, 5), dtype=bool))
    with pytest.raises(ValueError, match=r"attn_mask must be 2-d \(L, S\) or 3-d"):
        layer(q, k, v, attn_mask=np.zeros((2, 2, 3, 5), dtype=bool))
    with pytest.raises(ValueError, match=r"key_padding_mask of shape \(2, 4\) should be \(2, 5\)"):
        layer(q, k, v, key_padding_mask=np.zeros((2, 4), dtype=bool))
    with pytest.raises(
        TypeError, match="attn_mask must be boolean or floating point, got dtype int64"
    ):
        layer(q, k, v, attn_mask=np.zeros((3, 5), dtype=np.int64))
    with pytest.raises(TypeError, match="key_padding_mask must be boolean or floating"):
        layer(q, k, v, key_padding_mask=np.zeros((2, 5), dtype=np.int64))
    with pytest.raises(ValueError, match="is_causal=True is a hint.*needs attn_mask"):
        layer(q, k, v, is_causal=True)
    one = (tg.Tensor(a) for a in mha_inputs(True, batched=False))
    with pytest.raises(ValueError, match=r"key_padding_mask of shape \(2, 5\) should be \(5,\)"):
        layer(*one, key_padding_mask=np.zeros((2, 5), dtype=bool))


def test_mha_float32_layer_accepts_float64_inputs():
    layer = MultiheadAttention(8, 2, batch_first=True, dtype=np.float32)
    out, weights = layer(*(tg.Tensor(a) for a in mha_inputs(True)))
    assert out.dtype == np.float32 and weights.dtype == np.float32


# ---- detect_anomaly with -inf masks ------------------------------------------------------------


def test_detect_anomaly_lets_a_masked_attention_run_forward_and_backward():
    q, k, v = (tg.Tensor(a, requires_grad=True) for a in qkv())
    keep = masks()["bool"]
    with tg.detect_anomaly():
        for m in (keep, np.where(keep, 0.0, -np.inf)):
            scaled_dot_product_attention(q, k, v, attn_mask=m).sum().backward()
        scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
        empty = keep.copy()
        empty[1] = False  # a query with no key: weights 0, no NaN anywhere
        scaled_dot_product_attention(q, k, v, attn_mask=empty).sum().backward()
        layer = MultiheadAttention(8, 2, batch_first=True)
        x, y = (tg.Tensor(a, requires_grad=True) for a in mha_inputs(True)[:2])
        padding = np.zeros((2, 5), dtype=bool)
        padding[1, 3:] = True
        causal = np.triu(np.ones((3, 5), dtype=bool), k=1)
        out, weights = layer(x, y, y, key_padding_mask=padding, attn_mask=causal)
        (out.sum() + weights.sum()).backward()
    for t in (q, k, v, x, y, layer.in_proj_weight):
        assert np.isfinite(t.grad.data).all()


def test_detect_anomaly_still_stops_at_an_overflow_and_at_nan():
    with pytest.raises(tg.AnomalyError) as caught:
        with tg.detect_anomaly():
            tg.Tensor([1.0, 1000.0], requires_grad=True).exp()
    assert (caught.value.op, caught.value.kind) == ("Exp", "inf")
    assert "from finite inputs" in str(caught.value)
    with pytest.raises(tg.AnomalyError, match="Div produced inf"):
        with tg.detect_anomaly():
            1.0 / tg.Tensor([0.0, 2.0])
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(tg.AnomalyError) as caught:
        with tg.detect_anomaly():
            masked = tg.where(np.array([True, False]), x, -math.inf)  # an infinity given: fine
            masked - masked  # -inf - -inf is NaN: an anomaly
    assert (caught.value.op, caught.value.kind) == ("Sub", "nan")
    # a query whose every key is masked, with weights: NaN in the softmax, as in PyTorch
    layer = MultiheadAttention(8, 2, batch_first=True)
    x, y = (tg.Tensor(a) for a in mha_inputs(True)[:2])
    with pytest.raises(tg.AnomalyError) as caught:
        with tg.detect_anomaly():
            layer(x, y, y, key_padding_mask=np.ones((2, 5), dtype=bool))
    assert (caught.value.phase, caught.value.kind) == ("forward", "nan")
    assert "Softmax" in caught.value.op


def test_detect_anomaly_passes_infinities_given_as_inputs():
    x = tg.Tensor([1.0, -math.inf, 3.0], requires_grad=True)
    with tg.detect_anomaly():
        y = (x * 2 + tg.Tensor([0.0, 1.0, 5.0])).sum()  # inf in, inf out
        y.backward()
        z = tg.maximum(tg.Tensor([1.0, 2.0]), np.array([math.inf, 0.0]))  # an array argument
        w = tg.Tensor([1.0, 2.0]) * math.inf  # a number argument
    assert y.item() == -math.inf
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0, 2.0])
    assert z.data[0] == math.inf and np.all(w.data == math.inf)


# ---- re-exports (once tinygrad_edu/nn/__init__.py and functional.py carry them) ----------------


@pytest.mark.skipif(
    not hasattr(nn, "MultiheadAttention") or not hasattr(F, "scaled_dot_product_attention"),
    reason="the re-exports in tinygrad_edu/nn are not added yet",
)
def test_reexports():
    assert nn.MultiheadAttention is MultiheadAttention
    assert F.scaled_dot_product_attention is scaled_dot_product_attention
    assert nn.utils.clip_grad_norm_ is tg.nn.utils.clip_grad_norm_


# ---- the Attention primitive against its composition ------------------------------------------


def _composed_attention(q, k, v, mask, scale):
    scores = (q @ k.transpose(-2, -1)) * scale
    weights = F._softmax_rows(scores, mask, empty_rows_to_zero=True)
    return weights @ v


@pytest.mark.parametrize(
    "shapes, mask",
    [
        (((2, 3, 4), (2, 5, 4), (2, 5, 2)), None),
        (((2, 2, 4, 3), (2, 2, 4, 3), (2, 2, 4, 3)), np.tril(np.ones((4, 4), dtype=bool))),
        # the first query sees no key: its weights are 0
        (((3, 4), (3, 4), (3, 2)), np.array([[0, 0, 0], [1, 0, 1], [1, 1, 1]], dtype=bool)),
        (((1, 3, 4), (2, 3, 4), (1, 3, 4)), None),  # broadcast batch dimensions
        (((2, 3, 4), (2, 0, 4), (2, 0, 5)), None),  # no keys at all
    ],
)
def test_attention_primitive_equals_its_composition(shapes, mask):
    rng = np.random.default_rng(12)
    arrays = [rng.standard_normal(shape) for shape in shapes]
    fused_inputs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    composed_inputs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    fused = scaled_dot_product_attention(*fused_inputs, attn_mask=mask)
    assert fused.grad_fn.name == "Attention"
    composed = _composed_attention(*composed_inputs, mask, 1 / math.sqrt(shapes[0][-1]))
    upstream = rng.standard_normal(fused.shape)
    fused.backward(upstream)
    composed.backward(upstream)
    np.testing.assert_allclose(fused.data, composed.data, rtol=1e-12, atol=1e-13)
    for a, b in zip(fused_inputs, composed_inputs):
        np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=1e-11, atol=1e-12)
    if min(a.size for a in arrays) > 0:
        inputs = [tg.Tensor(a, requires_grad=True) for a in arrays]
        attend = lambda q, k, v: scaled_dot_product_attention(q, k, v, attn_mask=mask)  # noqa: E731
        assert tg.gradcheck(attend, inputs)
        assert tg.gradgradcheck(attend, inputs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_attention_gradients_of_transposed_views_come_back_in_their_layout(dtype):
    """nanoGPT's q, k, v: (B, heads, T, hs) transposed views of one (B, T, 3C) projection. Their
    gradients are laid out in memory as the views are, so that they go back through the
    transposes and the views without a copy, and they equal the composition's."""
    B, T, heads, hs = 2, 5, 3, 4
    C = heads * hs
    rng = np.random.default_rng(3)
    projection = rng.standard_normal((B, T, 3 * C)).astype(dtype)
    upstream = rng.standard_normal((B, heads, T, hs)).astype(dtype)
    mask = np.tril(np.ones((T, T), dtype=bool))

    def heads_of(x):
        return [p.view(B, T, heads, hs).transpose(1, 2) for p in x.split(C, dim=2)]

    fused_x, composed_x = (tg.Tensor(projection, requires_grad=True) for _ in range(2))
    q, k, v = heads_of(fused_x)
    layouts = {}
    for name, t in zip("qkv", (q, k, v)):
        assert not t.data.flags.c_contiguous  # a transposed view, as in nanoGPT
        t.register_hook(lambda g, name=name: layouts.__setitem__(name, g.data.strides))
    fused = scaled_dot_product_attention(q, k, v, is_causal=True)
    assert fused.grad_fn.name == "Attention"
    fused.backward(upstream)
    for name, t in zip("qkv", (q, k, v)):
        order = np.argsort(t.data.strides)  # the axes from the fastest-changing in memory
        assert list(np.argsort(layouts[name])) == list(order), name
    composed = _composed_attention(*heads_of(composed_x), mask, 1 / math.sqrt(hs))
    composed.backward(upstream)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(fused_x.grad.data, composed_x.grad.data, rtol=tol, atol=tol)
    if torch is not None:
        expected_x = torch.tensor(projection, requires_grad=True)
        tq, tk, tv = (
            p.view(B, T, heads, hs).transpose(1, 2) for p in expected_x.split(C, dim=2)
        )
        expected = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=True)
        expected.backward(torch.tensor(upstream))
        np.testing.assert_allclose(fused_x.grad.data, expected_x.grad.numpy(), rtol=tol, atol=tol)
