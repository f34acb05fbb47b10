"""Nothing silently wrong in nn: binary_cross_entropy refuses what PyTorch refuses (NaN, values
outside [0, 1]) and a module tree that contains itself is a clear error, not an endless walk."""

import itertools

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F
from tinygrad_edu import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# ---- binary_cross_entropy -------------------------------------------------------------------

NAN = float("nan")
BAD_BCE = {
    "NaN input": ([0.5, NAN, 0.2], [0.0, 1.0, 1.0], ["input", "1 NaN", "with_logits"]),
    "input above 1": ([0.5, 1.5, 0.2], [0.0, 1.0, 1.0], ["input", "1.5", "with_logits"]),
    "input below 0": ([-0.25, 0.5, 0.2], [0.0, 1.0, 1.0], ["input", "-0.25", "with_logits"]),
    "logits as input": ([-3.0, 2.0, 7.5], [0.0, 1.0, 1.0], ["input", "3 outside", "-3 to 7.5"]),
    "NaN and out of range input": ([NAN, 2.0, 0.2], [0.0, 1.0, 1.0], ["1 NaN and 1 outside"]),
    "target above 1": ([0.5, 0.5, 0.2], [0.0, 1.5, 1.0], ["target", "1.5"]),
    "target below 0": ([0.5, 0.5, 0.2], [0.0, -1.0, 1.0], ["target", "-1"]),
    "NaN target": ([0.5, 0.5, 0.2], [0.0, NAN, 1.0], ["target", "1 NaN"]),
}


@pytest.mark.parametrize("case", list(BAD_BCE), ids=list(BAD_BCE))
def test_bce_refuses_what_torch_refuses(case):
    p, y, words = BAD_BCE[case]
    with pytest.raises(RuntimeError, match="should be between 0 and 1"):
        TF.binary_cross_entropy(torch.tensor(p), torch.tensor(y))
    with pytest.raises(ValueError, match="binary_cross_entropy: ") as caught:
        F.binary_cross_entropy(tg.Tensor(p, requires_grad=True), tg.Tensor(y))
    message = str(caught.value)
    for word in words:
        assert word in message, message
    what = "input" if "input" in case or "logits" in case else "target"
    assert f"{what} must be probabilities in [0, 1]" in message
    assert ("binary_cross_entropy_with_logits" in message) == (what == "input")


def test_bce_refuses_a_bad_target_given_as_an_array():
    with pytest.raises(ValueError, match="target must be probabilities"):
        F.binary_cross_entropy(tg.Tensor([0.5, 0.5]), np.array([1.0, 2.0]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_on_valid_values_still_matches_torch(reduction):
    rng = np.random.default_rng(0)
    # inside (0, 1): exactly at 0 or 1 torch's hand-written backward divides by a clamped
    # p (1 - p) and differs from the derivative of the formula, which is what ours gives
    p = np.concatenate([[1e-6, 1 - 1e-6, 0.5], rng.uniform(0.01, 0.99, size=9)])
    y = np.concatenate([[0.0, 1.0, 0.5], rng.uniform(0, 1, size=6), [0.0, 1.0, 1.0]])
    weight = rng.uniform(0.5, 2.0, size=p.shape)
    ours_p = tg.Tensor(p, requires_grad=True)
    theirs_p = torch.tensor(p, requires_grad=True)
    ours = F.binary_cross_entropy(ours_p, tg.Tensor(y), tg.Tensor(weight), reduction=reduction)
    theirs = TF.binary_cross_entropy(
        theirs_p, torch.tensor(y), torch.tensor(weight), reduction=reduction
    )
    upstream = rng.normal(size=ours.shape)
    ours.backward(upstream)
    theirs.backward(torch.tensor(upstream))
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-9)
    np.testing.assert_allclose(ours_p.grad.data, theirs_p.grad.numpy(), rtol=1e-9)


# ---- module cycles --------------------------------------------------------------------------


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(2, 3)
        self.head = nn.Linear(3, 1)

    def forward(self, x):
        return self.head(self.encoder(x))


def net_with_a_parent_reference():
    model = Net()
    model.encoder.parent = model  # registers model as a sub-module of its own encoder
    return model


CYCLE_MESSAGE = "module cycle: 'encoder.parent' is the module at '' (Net) again"
WALKS = {  # at most 1000 steps, so that a regression fails instead of filling memory
    "named_modules": lambda m: list(itertools.islice(m.named_modules(), 1000)),
    "named_modules no dedup": lambda m: list(
        itertools.islice(m.named_modules(remove_duplicate=False), 1000)
    ),
    "modules": lambda m: list(itertools.islice(m.modules(), 1000)),
    "named_parameters": lambda m: list(itertools.islice(m.named_parameters(), 1000)),
    "named_parameters no dedup": lambda m: list(
        itertools.islice(m.named_parameters(remove_duplicate=False), 1000)
    ),
    "parameters": lambda m: list(itertools.islice(m.parameters(), 1000)),
}
WHOLE_TREE = {  # these walk everything at once; with the walk checked they stop
    "state_dict": lambda m: m.state_dict(),
    "load_state_dict": lambda m: m.load_state_dict({}),
    "train": lambda m: m.train(),
    "eval": lambda m: m.eval(),
    "zero_grad": lambda m: m.zero_grad(),
    "apply": lambda m: m.apply(lambda module: None),
}


@pytest.mark.parametrize("name", [*WALKS, *WHOLE_TREE])
def test_a_module_inside_itself_is_an_error_naming_the_path(name):
    model = net_with_a_parent_reference()
    with pytest.raises(RuntimeError) as caught:
        {**WALKS, **WHOLE_TREE}[name](model)
    message = str(caught.value)
    assert message.startswith(CYCLE_MESSAGE), message
    assert "object.__setattr__ or a weakref" in message


def test_apply_calls_nothing_on_a_cyclic_tree():
    model = net_with_a_parent_reference()
    called = []
    with pytest.raises(RuntimeError, match="module cycle"):
        model.apply(called.append)
    assert called == []


def test_the_error_names_the_deeper_ancestor_and_the_prefix():
    block = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    model = nn.Sequential(nn.Linear(2, 2), block)
    block[1].back = block  # a loop below the root: 1.1.back is the module at 1
    with pytest.raises(RuntimeError, match=r"'1\.1\.back' is the module at '1' \(Sequential\)"):
        model.state_dict()
    with pytest.raises(RuntimeError, match=r"'top\.1\.1\.back' is the module at 'top\.1'"):
        list(itertools.islice(model.named_modules(prefix="top"), 1000))


def test_a_module_that_holds_itself():
    model = nn.Linear(2, 2)
    model.me = model
    with pytest.raises(RuntimeError, match=r"'me' is the module at '' \(Linear\) again"):
        list(itertools.islice(model.parameters(), 1000))


def test_a_cycle_prints_without_endless_recursion():
    text = repr(net_with_a_parent_reference())
    assert "(parent): <cycle: Net inside itself>" in text
    assert "(head): Linear(in_features=3, out_features=1, bias=True)" in text


def test_a_parent_reference_kept_out_of_the_tree_is_fine():
    model = Net()
    object.__setattr__(model.encoder, "parent", model)  # the fix the message suggests
    assert model.encoder.parent is model
    keys = ["encoder.weight", "encoder.bias", "head.weight", "head.bias"]
    assert list(model.state_dict()) == keys


def test_a_shared_module_is_no_cycle_and_is_listed_once_like_torch():
    tg.manual_seed(0)
    shared = nn.Linear(2, 2)
    inner = nn.Sequential(shared, nn.Tanh())
    model = nn.Sequential(shared, nn.ReLU(), inner, shared)  # the same layer three times
    tshared = torch.nn.Linear(2, 2)
    tinner = torch.nn.Sequential(tshared, torch.nn.Tanh())
    tmodel = torch.nn.Sequential(tshared, torch.nn.ReLU(), tinner, tshared)

    assert [n for n, _ in model.named_modules()] == [n for n, _ in tmodel.named_modules()]
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in tmodel.named_parameters()]
    assert list(model.state_dict()) == list(tmodel.state_dict())
    assert len(list(model.parameters())) == 2
    assert [n for n, _ in model.named_modules(remove_duplicate=False)] == [
        n for n, _ in tmodel.named_modules(remove_duplicate=False)
    ]
    model.eval()
    assert not any(m.training for m in model.modules())
    model.load_state_dict(model.state_dict())
    assert "(3): Linear" in repr(model)


def test_a_diamond_of_shared_sub_trees_is_no_cycle():
    leaf = nn.Linear(1, 1)
    left, right = nn.Sequential(leaf), nn.Sequential(leaf)
    model = nn.ModuleList([left, right, nn.Sequential(left, right)])
    paths = ["", "0", "0.0", "1", "1.0", "2", "2.0", "2.0.0", "2.1", "2.1.0"]
    assert [n for n, _ in model.named_modules(remove_duplicate=False)] == paths
    assert list(model.state_dict()) == [
        "0.0.weight", "0.0.bias", "1.0.weight", "1.0.bias",
        "2.0.0.weight", "2.0.0.bias", "2.1.0.weight", "2.1.0.bias",
    ]  # fmt: skip
    visits = []
    model.apply(visits.append)
    assert visits.count(leaf) == 4  # apply visits a shared module once per place, as torch
