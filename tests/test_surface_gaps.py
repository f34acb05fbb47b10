"""What nanoGPT-style code needs beyond the basics: nn.ModuleDict, torch.topk / sort / argsort
as free functions, and ignore_index in cross_entropy / nll_loss (and their layers), each
checked against PyTorch where it is installed."""

from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F
from tinygrad_edu import nn


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


# ---- nn.ModuleDict ------------------------------------------------------------------------------


def _transformer() -> nn.ModuleDict:
    return nn.ModuleDict(
        dict(
            wte=nn.Embedding(7, 4),
            wpe=nn.Embedding(5, 4),
            h=nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4)]),
            ln_f=nn.LayerNorm(4),
        )
    )


def test_module_dict_registers_its_modules_under_their_keys():
    blocks = _transformer()
    assert list(blocks) == ["wte", "wpe", "h", "ln_f"]
    assert list(blocks.keys()) == ["wte", "wpe", "h", "ln_f"]
    assert [type(m).__name__ for m in blocks.values()] == [
        "Embedding",
        "Embedding",
        "ModuleList",
        "LayerNorm",
    ]
    assert [k for k, _ in blocks.items()] == list(blocks)
    assert len(blocks) == 4 and "wte" in blocks and "nope" not in blocks and 0 not in blocks
    assert blocks["wte"] is blocks.wte and blocks.h[1] is blocks["h"][1]
    assert list(blocks.state_dict()) == [
        "wte.weight",
        "wpe.weight",
        "h.0.weight",
        "h.0.bias",
        "h.1.weight",
        "h.1.bias",
        "ln_f.weight",
        "ln_f.bias",
    ]
    assert len(list(blocks.parameters())) == 8


def test_module_dict_inside_a_model_gives_pytorch_paths_and_modes():
    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = _transformer()
            self.lm_head = nn.Linear(4, 7, bias=False)

    model = Tiny()
    names = [name for name, _ in model.named_parameters()]
    assert names[:2] == ["transformer.wte.weight", "transformer.wpe.weight"]
    assert names[-1] == "lm_head.weight"
    model.eval()
    assert not model.transformer.training and not model.transformer.h[0].training
    model.train()
    assert model.transformer.ln_f.training
    model.to(tg.float32)
    assert model.transformer.wte.weight.dtype == np.float32


def test_module_dict_update_pop_delete_clear():
    blocks = nn.ModuleDict([("a", nn.ReLU()), ("b", nn.Tanh())])
    blocks.update(OrderedDict(c=nn.Linear(2, 2)))
    blocks.update([("a", nn.Linear(2, 3)), ("d", nn.GELU())])  # "a" keeps its place
    blocks.update(nn.ModuleDict({"e": nn.Sigmoid()}))
    assert list(blocks) == ["a", "b", "c", "d", "e"]
    assert isinstance(blocks.a, nn.Linear) and blocks.a.out_features == 3
    assert list(blocks.state_dict()) == ["a.weight", "a.bias", "c.weight", "c.bias"]
    popped = blocks.pop("c")
    assert isinstance(popped, nn.Linear) and "c" not in blocks and not hasattr(blocks, "c")
    assert list(blocks.state_dict()) == ["a.weight", "a.bias"]
    del blocks["a"]
    assert list(blocks) == ["b", "d", "e"] and not hasattr(blocks, "a")
    assert list(blocks.parameters()) == []
    blocks.clear()
    assert len(blocks) == 0 and list(blocks) == [] and not hasattr(blocks, "b")
    assert repr(nn.ModuleDict({"x": nn.ReLU()})) == "ModuleDict(\n  (x): ReLU()\n)"


def test_module_dict_errors():
    blocks = nn.ModuleDict({"a": nn.ReLU()})
    with pytest.raises(TypeError, match="ModuleDict keys must be strings, got int"):
        blocks[0] = nn.ReLU()
    with pytest.raises(TypeError, match=r"ModuleDict\['b'\]: expected an nn.Module, got int"):
        blocks["b"] = 3
    with pytest.raises(TypeError, match="expected an nn.Module, got NoneType"):
        nn.ModuleDict({"b": None})
    with pytest.raises(KeyError, match="non-empty and without '.'"):
        blocks["a.b"] = nn.ReLU()
    with pytest.raises(KeyError, match="non-empty"):
        blocks[""] = nn.ReLU()
    with pytest.raises(KeyError, match="'keys' is already an attribute"):
        blocks["keys"] = nn.ReLU()
    with pytest.raises(KeyError, match="'training' is already an attribute"):
        blocks["training"] = nn.ReLU()
    with pytest.raises(KeyError, match=r"no key 'z'; its keys are \['a'\]"):
        blocks["z"]
    with pytest.raises(KeyError, match="keys are strings, got int"):
        blocks[0]
    with pytest.raises(KeyError, match="no key 'z'"):
        del blocks["z"]
    with pytest.raises(KeyError, match="no key 'z'"):
        blocks.pop("z")
    with pytest.raises(TypeError, match="mapping or an iterable of .key, module. pairs, got int"):
        nn.ModuleDict(3)
    with pytest.raises(TypeError, match="element #0 must be a .key, module. pair, got int"):
        nn.ModuleDict([5])
    with pytest.raises(ValueError, match="element #1 has length 1"):
        nn.ModuleDict([("a", nn.ReLU()), ("b",)])
    with pytest.raises(NotImplementedError, match="ModuleDict has no forward"):
        blocks(tg.ones(2))
    assert list(blocks) == ["a"]  # nothing above changed it


def _twin_gpts(torch):
    """The same small GPT-like model in both libraries, written once (nanoGPT's layout)."""

    def build(lib):
        class Block(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.ln_1 = lib.nn.LayerNorm(8)
                self.c_fc = lib.nn.Linear(8, 16)
                self.c_proj = lib.nn.Linear(16, 8)

            def forward(self, x):
                return x + self.c_proj(lib.nn.functional.gelu(self.c_fc(self.ln_1(x))))

        class GPT(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.transformer = lib.nn.ModuleDict(
                    dict(
                        wte=lib.nn.Embedding(11, 8),
                        wpe=lib.nn.Embedding(6, 8),
                        h=lib.nn.ModuleList([Block() for _ in range(2)]),
                        ln_f=lib.nn.LayerNorm(8),
                    )
                )
                self.lm_head = lib.nn.Linear(8, 11, bias=False)
                self.transformer.wte.weight = self.lm_head.weight  # weight tying

            def forward(self, idx, targets):
                pos = lib.arange(0, idx.shape[1], dtype=lib.long)
                x = self.transformer.wte(idx) + self.transformer.wpe(pos)
                for block in self.transformer.h:
                    x = block(x)
                logits = self.lm_head(self.transformer.ln_f(x))
                return lib.nn.functional.cross_entropy(
                    logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1
                )

        return GPT()

    return build(tg), build(torch)


def test_module_dict_state_dict_round_trip_with_pytorch(torch):
    ours, theirs = _twin_gpts(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    idx = np.array([[1, 4, 2, 9, 0], [3, 3, 7, 10, 5]])
    targets = np.array([[4, 2, 9, 0, -1], [3, 7, 10, 5, -1]])  # -1: no next token
    loss = ours(tg.tensor(idx), tg.tensor(targets))
    expected = theirs(torch.tensor(idx), torch.tensor(targets))
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-5)
    loss.backward()
    expected.backward()
    grads = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        np.testing.assert_allclose(param.grad.numpy(), grads[name].grad.numpy(), atol=1e-5)

    with torch.no_grad():  # and back: PyTorch's values into ours
        for p in theirs.parameters():
            p.add_(0.5)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[key], value.numpy())


def test_module_dict_behaves_as_pytorchs(torch):
    def steps(lib):
        blocks = lib.nn.ModuleDict({"b": lib.nn.ReLU(), "a": lib.nn.Tanh()})
        blocks["c"] = lib.nn.ReLU()
        blocks.update([("b", lib.nn.Tanh()), ("d", lib.nn.ReLU())])
        blocks.pop("a")
        del blocks["c"]
        return list(blocks), [type(m).__name__ for m in blocks.values()], len(blocks)

    assert steps(tg) == steps(torch)


# ---- topk, sort, argsort as functions ---------------------------------------------------------


def test_topk_sort_argsort_are_exported():
    for name in ("topk", "sort", "argsort"):
        assert name in tg.__all__ and callable(getattr(tg, name))


@pytest.mark.parametrize("dim", [-1, 0, 1])
@pytest.mark.parametrize("largest", [True, False])
def test_topk_matches_pytorch(torch, dim, largest):
    x = np.random.default_rng(3).normal(size=(4, 6, 5))  # no ties
    ours = tg.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    values, indices = tg.topk(ours, 3, dim=dim, largest=largest)
    expected = torch.topk(theirs, 3, dim=dim, largest=largest)
    np.testing.assert_array_equal(values.numpy(), expected.values.detach().numpy())
    np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())
    weights = np.random.default_rng(4).normal(size=values.shape)
    (values * tg.tensor(weights)).sum().backward()
    (expected.values * torch.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


def test_topk_as_nanogpt_samples(torch):
    logits = np.random.default_rng(5).normal(size=(2, 9))
    v, _ = tg.topk(tg.tensor(logits), min(4, logits.shape[-1]))
    tv, _ = torch.topk(torch.tensor(logits), min(4, logits.shape[-1]))
    ours, theirs = tg.tensor(logits), torch.tensor(logits)
    ours[ours < v[:, [-1]]] = -float("Inf")
    theirs[theirs < tv[:, [-1]]] = -float("Inf")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_allclose(F.softmax(ours, dim=-1).numpy(), theirs.softmax(-1).numpy())


@pytest.mark.parametrize("descending", [False, True])
def test_sort_and_argsort_match_pytorch(torch, descending):
    x = np.random.default_rng(6).integers(0, 4, size=(5, 7)).astype(np.float64)  # ties
    for dim in (0, 1, -1):
        values, indices = tg.sort(tg.tensor(x), dim=dim, descending=descending, stable=True)
        expected = torch.sort(torch.tensor(x), dim=dim, descending=descending, stable=True)
        np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
        np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())
        order = tg.argsort(tg.tensor(x), dim=dim, descending=descending, stable=True)
        expected = torch.argsort(torch.tensor(x), dim=dim, descending=descending, stable=True)
        np.testing.assert_array_equal(order.numpy(), expected.numpy())


def test_topk_errors():
    with pytest.raises(IndexError, match="topk: k .7. is out of range"):
        tg.topk(tg.ones(2, 3), 7)


# ---- ignore_index in cross_entropy and nll_loss -----------------------------------------------


def _loss_pair(name: str):
    """(ours, PyTorch's, whether the input is log-probabilities) for a loss name."""
    import torch.nn.functional as TF

    if name == "cross_entropy":
        return F.cross_entropy, TF.cross_entropy, False
    return F.nll_loss, TF.nll_loss, True


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    "target, ignore_index",
    [
        ([0, -100, 3, -100, 2, 1], -100),  # PyTorch's default
        ([0, -1, 3, -1, 2, 1], -1),  # nanoGPT's
        ([0, 1, 3, 1, 2, 1], 1),  # a class index can be the one ignored
        ([0, 1, 3, 0, 2, 1], -1),  # nothing ignored: the fast path
        ([-1] * 6, -1),  # everything ignored: the mean is NaN, the gradient 0
    ],
)
def test_ignore_index_matches_pytorch(torch, name, weighted, reduction, target, ignore_index):
    ours_fn, torch_fn, log_probs = _loss_pair(name)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6, 4))
    weight = rng.uniform(0.5, 2.0, size=4) if weighted else None
    upstream = rng.normal(size=6 if reduction == "none" else ())
    ours = tg.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    loss = ours_fn(
        ours.log_softmax(1) if log_probs else ours,
        tg.tensor(target),
        weight=None if weight is None else tg.tensor(weight),
        reduction=reduction,
        ignore_index=ignore_index,
    )
    expected = torch_fn(
        theirs.log_softmax(1) if log_probs else theirs,
        torch.tensor(target),
        weight=None if weight is None else torch.tensor(weight),
        reduction=reduction,
        ignore_index=ignore_index,
    )
    np.testing.assert_allclose(loss.numpy(), expected.detach().numpy(), rtol=1e-12)
    (loss * tg.tensor(upstream)).sum().backward()
    (expected * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_ignore_index_keeps_float32_and_the_primitive(reduction):
    x = tg.randn(5, 3, dtype=tg.float32, requires_grad=True)
    target = tg.tensor([0, -1, 2, -1, 1])
    loss = F.cross_entropy(x, target, reduction=reduction, ignore_index=-1)
    assert loss.dtype == np.float32 and loss.grad_fn.name == "CrossEntropy"
    weighted = F.cross_entropy(x, target, tg.ones(3), reduction=reduction, ignore_index=-1)
    assert weighted.dtype == np.float32
    np.testing.assert_allclose(weighted.numpy(), loss.numpy(), rtol=1e-6)
    if reduction == "none":
        assert loss.numpy()[1] == 0 and loss.numpy()[3] == 0


def test_ignored_rows_need_no_finite_logits():
    """A row left out may hold -inf logits (a masked vocabulary): its loss is still 0."""
    x = np.array([[0.5, -1.0, 2.0], [-np.inf, -np.inf, 1.0]])
    for weight in (None, tg.tensor([1.0, 2.0, 3.0])):
        loss = F.cross_entropy(tg.tensor(x), tg.tensor([2, -1]), weight, "none", ignore_index=-1)
        assert loss.numpy()[1] == 0 and np.isfinite(loss.numpy()).all()


def test_one_sample_with_an_ignored_target(torch):
    x = np.random.default_rng(8).normal(size=4)
    for reduction in ("mean", "sum", "none"):
        ours = F.cross_entropy(tg.tensor(x), tg.tensor(-100), reduction=reduction)
        theirs = torch.nn.functional.cross_entropy(
            torch.tensor(x), torch.tensor(-100), reduction=reduction
        )
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


_ROWS = st.integers(1, 5).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.integers(2, 4),
        st.lists(st.booleans(), min_size=n, max_size=n).filter(lambda kept: any(kept)),
    )
)


@settings(max_examples=12, deadline=None)
@given(
    rows=_ROWS,
    name=st.sampled_from(["cross_entropy", "nll_loss"]),
    weighted=st.booleans(),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    seed=st.integers(0, 2**16),
)
def test_ignore_index_gradcheck_and_gradgradcheck(rows, name, weighted, reduction, seed):
    n, c, kept = rows
    rng = np.random.default_rng(seed)
    target = np.where(kept, rng.integers(0, c, size=n), -1)
    weight = tg.tensor(rng.uniform(0.5, 2.0, size=c)) if weighted else None
    x = tg.tensor(rng.normal(size=(n, c)), requires_grad=True)
    if name == "cross_entropy":

        def loss(x):
            return F.cross_entropy(x, target, weight, reduction, ignore_index=-1)

    else:

        def loss(x):
            return F.nll_loss(x.log_softmax(1), target, weight, reduction, ignore_index=-1)

    assert tg.gradcheck(loss, [x])
    assert tg.gradgradcheck(loss, [x])


def test_everything_ignored_gives_nan_and_a_zero_gradient_without_warnings():
    x = tg.randn(3, 4, requires_grad=True)
    loss = F.cross_entropy(x, tg.tensor([-1, -1, -1]), ignore_index=-1)  # RuntimeWarning: error
    assert np.isnan(loss.item())
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4)))
    (g,) = tg.grad(F.nll_loss(x, tg.tensor([-1, -1, -1]), ignore_index=-1), [x])
    np.testing.assert_array_equal(g.numpy(), np.zeros((3, 4)))


def test_class_index_check_knows_about_ignore_index():
    x = tg.randn(3, 4)
    with pytest.raises(ValueError, match=r"class index -1, out of range .*ignore_index=-100"):
        F.cross_entropy(x, tg.tensor([0, -1, 2]))
    with pytest.raises(ValueError, match="class index 4, out of range for 4 classes"):
        F.cross_entropy(x, tg.tensor([0, -1, 4]), ignore_index=-1)
    with pytest.raises(ValueError, match="class index -100, out of range"):
        F.nll_loss(x, tg.tensor([0, -100, 1]), ignore_index=-1)
    with pytest.raises(TypeError, match="cross_entropy: ignore_index must be an int"):
        F.cross_entropy(x, tg.tensor([0, 1, 2]), ignore_index=-1.0)
    with pytest.raises(TypeError, match="nll_loss: ignore_index must be an int"):
        F.nll_loss(x, tg.tensor([0, 1, 2]), ignore_index=True)


def test_probability_targets_do_not_use_ignore_index():
    x = tg.randn(2, 3)
    probs = tg.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(
        F.cross_entropy(x, probs, ignore_index=0).numpy(), F.cross_entropy(x, probs).numpy()
    )


@pytest.mark.parametrize("layer", ["CrossEntropyLoss", "NLLLoss"])
def test_loss_layers_take_ignore_index(torch, layer):
    x = np.random.default_rng(9).normal(size=(5, 3))
    target = np.array([2, -1, 0, -1, 1])
    for reduction in ("mean", "sum", "none"):
        ours = getattr(nn, layer)(reduction=reduction, ignore_index=-1)
        theirs = getattr(torch.nn, layer)(reduction=reduction, ignore_index=-1)
        assert ours.ignore_index == theirs.ignore_index == -1
        np.testing.assert_allclose(
            ours(tg.tensor(x).log_softmax(1), tg.tensor(target)).numpy(),
            theirs(torch.tensor(x).log_softmax(1), torch.tensor(target)).numpy(),
            rtol=1e-12,
        )
    assert getattr(nn, layer)().ignore_index == -100
    assert repr(getattr(nn, layer)()) == f"{layer}(reduction='mean')"
    assert repr(getattr(nn, layer)(ignore_index=-1)) == (
        f"{layer}(reduction='mean', ignore_index=-1)"
    )
    with pytest.raises(TypeError, match=f"{layer}: ignore_index must be an int"):
        getattr(nn, layer)(ignore_index="pad")


def test_a_module_dict_and_ignore_index_move_to_pytorch_and_back():
    pytest.importorskip("torch")
    model = nn.ModuleDict({"head": nn.Linear(2, 3), "loss": nn.CrossEntropyLoss(ignore_index=-1)})
    theirs = tg.to_torch(model)
    assert type(theirs).__name__ == "ModuleDict" and list(theirs.keys()) == ["head", "loss"]
    assert theirs["loss"].ignore_index == -1
    back = tg.from_torch(theirs)
    assert isinstance(back, nn.ModuleDict) and back["loss"].ignore_index == -1
    np.testing.assert_array_equal(back["head"].weight.data, model["head"].weight.data)


def test_reshape_takes_numpy_ints_and_returns_python_ints():
    """A shape of NumPy integers (sizes computed with NumPy) is taken as ints, as the plain
    one is; zero sizes and one -1 work as in PyTorch."""
    x = tg.arange(6.0)
    for shape in [(np.int64(3), 2), (3, np.int32(2)), (3, -1), (np.int64(-1), 2)]:
        y = x.view(*shape)
        assert y.shape == (3, 2) and all(type(n) is int for n in y.shape)
        np.testing.assert_array_equal(y.numpy(), np.arange(6.0).reshape(3, 2))
    assert tg.zeros(0, 3).view(3, 0).shape == (3, 0)
    assert tg.zeros(0, 3).reshape(-1, 3).shape == (0, 3)
