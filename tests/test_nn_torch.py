"""tg.nn against PyTorch (skipped where PyTorch is not installed): values and gradients of
activations, losses and layers in float64, Linear's layout and initialisation, state_dict keys."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F
from tinygrad_edu import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def run_both(ours, theirs, arrays, seed=0):
    """Apply both functions to the same float64 arrays, backpropagate the same random upstream
    gradient, and return (our value, their value, our grads, their grads)."""
    xs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = ours(*xs), theirs(*ts)
    upstream = np.random.default_rng(seed).normal(size=out.shape)
    out.backward(upstream)
    tout.backward(torch.tensor(upstream))
    return (
        out.data,
        tout.detach().numpy(),
        [x.grad.data for x in xs],
        [t.grad.numpy() for t in ts],
    )


def assert_same(ours, theirs, arrays, rtol=1e-10, atol=1e-12):
    value, expected, grads, expected_grads = run_both(ours, theirs, arrays)
    assert value.shape == expected.shape
    np.testing.assert_allclose(value, expected, rtol=rtol, atol=atol)
    for g, e in zip(grads, expected_grads):
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


ACTIVATIONS = [
    ("relu", F.relu, TF.relu),
    ("sigmoid", F.sigmoid, torch.sigmoid),
    ("tanh", F.tanh, torch.tanh),
    ("leaky_relu", F.leaky_relu, TF.leaky_relu),
    ("leaky_relu 0.2", lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    ("elu", F.elu, TF.elu),
    ("elu 0.5", lambda x: F.elu(x, 0.5), lambda x: TF.elu(x, 0.5)),
    ("softmax", F.softmax, lambda x: TF.softmax(x, -1)),
    ("softmax 0", lambda x: F.softmax(x, 0), lambda x: TF.softmax(x, 0)),
    ("log_softmax", F.log_softmax, lambda x: TF.log_softmax(x, -1)),
]


@pytest.mark.parametrize("name, ours, theirs", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activations_match_pytorch(name, ours, theirs):
    x = np.random.default_rng(1).normal(size=(4, 5)) * 3
    x[0, :3] = [0.0, 50.0, -50.0]  # the kink and saturation
    assert_same(ours, theirs, [x])


def loss_pairs():
    """(name, ours, theirs, arrays): every loss with its options, on float64 arrays."""
    rng = np.random.default_rng(2)
    n, c = 5, 4
    logits = rng.normal(size=(n, c)) * 3
    logits[0, 0] = 0.0  # BCE-with-logits at its kink
    probs = rng.uniform(0.02, 0.98, size=(n, c))
    targets = rng.uniform(size=(n, c))
    targets[1] = [0.0, 1.0, 0.0, 1.0]
    soft = rng.dirichlet(np.ones(c), size=n)
    classes = np.array([3, 0, 1, 3, 2])
    w = rng.uniform(0.5, 2.0, size=c)
    tw, tclasses = torch.tensor(w), torch.tensor(classes)
    pairs = []
    for r in ["mean", "sum", "none"]:
        pairs += [
            (f"mse {r}", lambda a, b, r=r: F.mse_loss(a, b, reduction=r),
             lambda a, b, r=r: TF.mse_loss(a, b, reduction=r), [logits, targets]),
            (f"bce {r}", lambda a, b, r=r: F.binary_cross_entropy(a, b, reduction=r),
             lambda a, b, r=r: TF.binary_cross_entropy(a, b, reduction=r), [probs, targets]),
            (f"bce weight {r}",
             lambda a, b, r=r: F.binary_cross_entropy(a, b, w, reduction=r),
             lambda a, b, r=r: TF.binary_cross_entropy(a, b, tw, reduction=r), [probs, targets]),
            (f"bce_logits {r}",
             lambda a, b, r=r: F.binary_cross_entropy_with_logits(a, b, reduction=r),
             lambda a, b, r=r: TF.binary_cross_entropy_with_logits(a, b, reduction=r),
             [logits, targets]),
            (f"bce_logits weights {r}",
             lambda a, b, r=r: F.binary_cross_entropy_with_logits(
                 a, b, w, reduction=r, pos_weight=w[::-1].copy()),
             lambda a, b, r=r: TF.binary_cross_entropy_with_logits(
                 a, b, tw, reduction=r, pos_weight=torch.tensor(w[::-1].copy())),
             [logits, targets]),
            (f"cross_entropy {r}", lambda a, r=r: F.cross_entropy(a, classes, reduction=r),
             lambda a, r=r: TF.cross_entropy(a, tclasses, reduction=r), [logits]),
            (f"cross_entropy weight {r}",
             lambda a, r=r: F.cross_entropy(a, classes, w, reduction=r),
             lambda a, r=r: TF.cross_entropy(a, tclasses, tw, reduction=r), [logits]),
            (f"cross_entropy probs {r}", lambda a, b, r=r: F.cross_entropy(a, b, reduction=r),
             lambda a, b, r=r: TF.cross_entropy(a, b, reduction=r), [logits, soft]),
            (f"cross_entropy probs weight {r}",
             lambda a, b, r=r: F.cross_entropy(a, b, w, reduction=r),
             lambda a, b, r=r: TF.cross_entropy(a, b, tw, reduction=r), [logits, soft]),
            (f"nll {r}", lambda a, r=r: F.nll_loss(a, classes, reduction=r),
             lambda a, r=r: TF.nll_loss(a, tclasses, reduction=r), [logits]),
            (f"nll weight {r}", lambda a, r=r: F.nll_loss(a, classes, w, reduction=r),
             lambda a, r=r: TF.nll_loss(a, tclasses, tw, reduction=r), [logits]),
        ]  # fmt: skip
    return pairs


LOSSES = loss_pairs()


@pytest.mark.parametrize("name, ours, theirs, arrays", LOSSES, ids=[p[0] for p in LOSSES])
def test_losses_match_pytorch(name, ours, theirs, arrays):
    assert_same(ours, theirs, arrays)


def test_huge_logits_match_pytorch():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0], [2.0, -3.0, 1e4]])
    y = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.5], [0.2, 0.3, 0.5]])
    classes = np.array([1, 0, 2])
    assert_same(
        lambda a: F.cross_entropy(a, classes),
        lambda a: TF.cross_entropy(a, torch.tensor(classes)),
        [x],
    )
    assert_same(F.cross_entropy, TF.cross_entropy, [x, y])
    assert_same(F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, [x, y])


def test_saturated_bce_values_match_pytorch_and_gradients_stay_finite():
    p = np.array([0.0, 1.0, 1.0, 0.0, 1e-50, 0.3])
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.6])
    value, expected, (grad,), (torch_grad,) = run_both(
        lambda a: F.binary_cross_entropy(a, tg.Tensor(y), reduction="none"),
        lambda a: TF.binary_cross_entropy(a, torch.tensor(y), reduction="none"),
        [p],
    )
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    assert np.all(np.isfinite(grad))
    # Away from 0 and 1 the gradients agree. At the clamp they differ by design: ours is the
    # derivative of the function computed (0 where a log is clamped, -1/p and 1/(1-p) where it
    # is not), PyTorch's backward is (p - y) / max(p (1 - p), 1e-12), which is 0 at p = 0 or 1.
    np.testing.assert_allclose(grad[5], torch_grad[5], rtol=1e-12)
    upstream = np.random.default_rng(0).normal(size=p.shape)
    np.testing.assert_allclose(grad[:5], upstream[:5] * [0.0, 0.0, -1.0, 1.0, 0.0])
    # the 002 article's example: sigmoid(0.5 * 100 - 0.2) = 1.0, target 0
    loss = F.binary_cross_entropy(F.sigmoid(tg.Tensor(49.8)), tg.Tensor(0.0))
    theirs = TF.binary_cross_entropy(
        torch.sigmoid(torch.tensor(49.8, dtype=torch.float64)),
        torch.tensor(0.0, dtype=torch.float64),
    )
    assert loss.item() == theirs.item() == pytest.approx(100.0)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_single_sample_cross_entropy_and_nll_match_pytorch(reduction):
    x = np.random.default_rng(8).normal(size=4)
    probs = np.array([0.1, 0.2, 0.3, 0.4])
    assert_same(
        lambda a: F.cross_entropy(a, 2, reduction=reduction),
        lambda a: TF.cross_entropy(a, torch.tensor(2), reduction=reduction),
        [x],
    )
    assert_same(
        lambda a, b: F.cross_entropy(a, b, reduction=reduction),
        lambda a, b: TF.cross_entropy(a, b, reduction=reduction),
        [x, probs],
    )
    assert_same(
        lambda a: F.nll_loss(a, 1, reduction=reduction),
        lambda a: TF.nll_loss(a, torch.tensor(1), reduction=reduction),
        [x],
    )


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 6),
    c=st.integers(1, 6),
    scale=st.sampled_from([0.1, 1.0, 30.0]),
    seed=st.integers(0, 2**16),
)
def test_cross_entropy_matches_pytorch_for_any_shape(n, c, scale, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, c)) * scale
    classes = rng.integers(0, c, size=n)
    assert_same(
        lambda a: F.cross_entropy(a, classes),
        lambda a: TF.cross_entropy(a, torch.tensor(classes)),
        [logits],
        rtol=1e-9,
    )


# ---- layers ------------------------------------------------------------------------------------


def load_from_torch(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def test_linear_layout_forward_and_backward_match_pytorch():
    layer, reference = nn.Linear(3, 2), torch.nn.Linear(3, 2, dtype=torch.float64)
    assert layer.weight.shape == tuple(reference.weight.shape) == (2, 3)
    assert layer.bias.shape == tuple(reference.bias.shape) == (2,)
    load_from_torch(layer, reference)
    x = np.random.default_rng(3).normal(size=(4, 3))
    upstream = np.random.default_rng(4).normal(size=(4, 2))
    out = layer(tg.Tensor(x))
    tout = reference(torch.tensor(x))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12)
    out.backward(upstream)
    tout.backward(torch.tensor(upstream))
    np.testing.assert_allclose(layer.weight.grad.data, reference.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad.data, reference.bias.grad.numpy(), rtol=1e-12)


def test_linear_default_init_has_pytorchs_bounds_and_spread():
    tg.manual_seed(0)
    torch.manual_seed(0)
    fan_in, fan_out = 400, 300
    ours = nn.Linear(fan_in, fan_out)
    theirs = torch.nn.Linear(fan_in, fan_out, dtype=torch.float64)
    bound = 1 / math.sqrt(fan_in)
    for mine, reference in [(ours.weight, theirs.weight), (ours.bias, theirs.bias)]:
        values, expected = mine.data, reference.detach().numpy()
        for sample in (values, expected):
            assert np.all(np.abs(sample) <= bound)
        # both uniform on (-bound, bound): same range, mean 0, variance bound^2 / 3
        assert values.max() > 0.97 * bound and values.min() < -0.97 * bound
        assert abs(values.mean()) < 0.1 * bound
        assert abs(values.var() - bound**2 / 3) < 0.1 * bound**2 / 3
        assert abs(values.std() - expected.std()) < 0.1 * expected.std()
    # the library generator makes it reproducible
    tg.manual_seed(0)
    assert np.array_equal(nn.Linear(fan_in, fan_out).weight.data, ours.weight.data)


def test_mlp_matches_the_same_pytorch_network():
    ours = nn.MLP([2, 8, 8, 1], activation="tanh", output_activation="sigmoid")
    theirs = torch.nn.Sequential(
        torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8), torch.nn.Tanh(),
        torch.nn.Linear(8, 1), torch.nn.Sigmoid(),
    ).double()  # fmt: skip
    assert list(ours.state_dict()) == list(theirs.state_dict())
    load_from_torch(ours, theirs)
    x = np.random.default_rng(5).normal(size=(6, 2))
    y = np.random.default_rng(6).uniform(size=(6, 1))
    loss = F.binary_cross_entropy(ours(tg.Tensor(x)), y)
    tloss = TF.binary_cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-12)
    loss.backward()
    tloss.backward()
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_state_dict_keys_match_pytorch_for_the_same_architecture():
    class Ours(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(tg.ones(3))
            self.encoder = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Dropout(0.1))
            self.layers = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 2, bias=False)])
            self.head = nn.Linear(2, 1)

    class Theirs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(3))
            self.encoder = torch.nn.Sequential(
                torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Dropout(0.1)
            )
            self.layers = torch.nn.ModuleList(
                [torch.nn.Linear(3, 3), torch.nn.Linear(3, 2, bias=False)]
            )
            self.head = torch.nn.Linear(2, 1)

    ours, theirs = Ours(), Theirs()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    for key, value in ours.state_dict().items():
        assert value.shape == tuple(theirs.state_dict()[key].shape), key


def test_dropout_statistics_match_pytorchs_definition():
    tg.manual_seed(3)
    torch.manual_seed(3)
    x = np.ones((100, 1000))
    ours = F.dropout(tg.Tensor(x), 0.25).data
    theirs = TF.dropout(torch.tensor(x), 0.25).numpy()
    assert set(np.unique(ours)) == set(np.unique(theirs)) == {0.0, 1 / 0.75}
    assert abs(np.mean(ours == 0) - np.mean(theirs == 0)) < 0.01
