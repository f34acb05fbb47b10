"""nn.functional and the layers: gradients by finite differences, numerical stability under
warnings-as-errors, shape and argument errors, dropout, float32 end to end."""

import math
import warnings
from contextlib import contextmanager

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F
from tinygrad_edu import nn, ops
from tinygrad_edu.autograd import sum_axes

REDUCTIONS = ["mean", "sum", "none"]


def leaf(array, dtype=np.float64):
    return tg.Tensor(np.asarray(array, dtype=dtype), requires_grad=True)


def away_from_zero(rng, shape, low=0.1):
    """Random values with |x| >= low: off the kinks of relu, leaky_relu, elu, abs, max."""
    x = rng.uniform(low, 2.0, shape)
    return x * rng.choice([-1.0, 1.0], shape)


@contextmanager
def strict_numerics():
    """Any NumPy warning (overflow, division by zero, invalid value) becomes an error.
    Underflow to 0 (exp of a very negative number) is the right answer and stays silent."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            yield


def check_parameter_grads(model, loss_fn, eps=1e-6, atol=1e-6, rtol=1e-4):
    """Central differences on every element of every parameter against backward."""
    model.zero_grad()
    loss_fn().backward()
    for name, param in model.named_parameters():
        analytical = param.grad.data
        for i in range(param.data.size):
            original = param.data.flat[i]
            values = []
            for step in (eps, -eps):
                param.data.flat[i] = original + step
                with tg.no_grad():
                    values.append(loss_fn().item())
            param.data.flat[i] = original
            numerical = (values[0] - values[1]) / (2 * eps)
            assert abs(analytical.flat[i] - numerical) <= atol + rtol * abs(numerical), (
                name,
                i,
                analytical.flat[i],
                numerical,
            )


# ---- gradcheck: activations, layers, dropout ----------------------------------------------------

ACTIVATIONS = {
    "relu": F.relu,
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "elu": lambda x: F.elu(x, 0.7),
    "softmax": lambda x: F.softmax(x, dim=-1),
    "softmax_dim0": lambda x: F.softmax(x, dim=0),
    "log_softmax": lambda x: F.log_softmax(x, dim=1),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_gradcheck_activations(name):
    rng = np.random.default_rng(0)
    x = leaf(away_from_zero(rng, (3, 4)))
    assert tg.gradcheck(ACTIVATIONS[name], [x])


@pytest.mark.parametrize(
    "module",
    [nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.LeakyReLU(0.3), nn.ELU(2.0), nn.Softmax(0)]
    + [nn.LogSoftmax(), nn.Identity(), nn.Flatten(0)],
    ids=repr,
)
def test_activation_modules_match_functions(module):
    rng = np.random.default_rng(1)
    x = tg.Tensor(away_from_zero(rng, (2, 3)))
    expected = {
        "ReLU": lambda t: F.relu(t),
        "Sigmoid": lambda t: F.sigmoid(t),
        "Tanh": lambda t: F.tanh(t),
        "LeakyReLU": lambda t: F.leaky_relu(t, 0.3),
        "ELU": lambda t: F.elu(t, 2.0),
        "Softmax": lambda t: F.softmax(t, 0),
        "LogSoftmax": lambda t: F.log_softmax(t, -1),
        "Identity": lambda t: t,
        "Flatten": lambda t: t.reshape(-1),
    }[type(module).__name__]
    assert np.array_equal(module(x).data, expected(x).data)
    assert tg.gradcheck(module, [leaf(x.data)])


def test_activation_values():
    x = tg.Tensor([-2.0, 0.0, 3.0])
    assert F.relu(x).tolist() == [0.0, 0.0, 3.0]
    assert np.allclose(F.leaky_relu(x).data, [-0.02, 0.0, 3.0])
    assert np.allclose(F.elu(x).data, [math.expm1(-2.0), 0.0, 3.0])
    assert np.allclose(F.sigmoid(x).data, 1 / (1 + np.exp([2.0, 0.0, -3.0])))
    assert np.allclose(F.softmax(x).data.sum(), 1.0)
    assert np.allclose(np.exp(F.log_softmax(x).data), F.softmax(x).data)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_exact_and_silent_far_into_both_tails(dtype):
    """Both forms (in place, and the one used when e^-x overflows) agree with the
    overflow-free formula evaluated in float64 to a few ulps, without a warning."""
    moderate = np.array([-80.0, -30.0, -1.0, 0.0, 1e-8, 2.5, 30.0, 1e4], dtype=dtype)
    extreme = np.array([-1e4, -720.0, -100.0, -1.0, 0.0, 3.0, 800.0], dtype=dtype)
    for values in (moderate, extreme, moderate[3:4].reshape(()), extreme[:1].reshape(())):
        x = np.asarray(values, dtype=np.float64)
        e = np.exp(-np.abs(x))
        expected = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(dtype)
        with strict_numerics():
            out = F.sigmoid(tg.Tensor(values)).data
        assert out.dtype == dtype
        tiny = np.finfo(dtype).tiny  # below it float32 / float64 lose precision (subnormals)
        keep = np.abs(expected) >= tiny
        assert np.allclose(out[keep], expected[keep], rtol=4 * np.finfo(dtype).eps, atol=0)
        assert np.all(np.abs(out[~keep] - expected[~keep]) <= tiny)
    assert F.sigmoid(tg.Tensor([0, 2])).dtype == np.float64  # integers become floats, as np.exp



def test_gradcheck_linear_function_and_module_input():
    rng = np.random.default_rng(2)
    x, w, b = leaf(rng.normal(size=(5, 3))), leaf(rng.normal(size=(4, 3))), leaf(rng.normal(size=4))
    assert tg.gradcheck(F.linear, [x, w, b])
    assert tg.gradcheck(lambda x, w: F.linear(x, w), [x, w])
    layer = nn.Linear(3, 4)
    assert tg.gradcheck(layer, [x])
    batched = leaf(rng.normal(size=(2, 5, 3)))
    assert layer(batched).shape == (2, 5, 4)
    assert tg.gradcheck(layer, [batched])


def test_linear_computes_x_weight_transposed_plus_bias_and_parameter_grads():
    rng = np.random.default_rng(3)
    layer = nn.Linear(3, 2)
    x = rng.normal(size=(4, 3))
    expected = x @ layer.weight.data.T + layer.bias.data
    assert np.allclose(layer(tg.Tensor(x)).data, expected)
    check_parameter_grads(layer, lambda: (layer(tg.Tensor(x)) ** 2).sum())
    no_bias = nn.Linear(3, 2, bias=False)
    assert no_bias.bias is None
    assert [n for n, _ in no_bias.named_parameters()] == ["weight"]
    assert np.allclose(no_bias(tg.Tensor(x)).data, x @ no_bias.weight.data.T)


def test_gradcheck_mlp_input_and_parameters():
    tg.manual_seed(0)
    rng = np.random.default_rng(4)
    model = nn.MLP([3, 4, 4, 2], activation="tanh", output_activation="sigmoid")
    x = leaf(rng.normal(size=(5, 3)))
    assert tg.gradcheck(model, [x])
    check_parameter_grads(model, lambda: F.mse_loss(model(x), np.full((5, 2), 0.3)))


def test_gradcheck_dropout_in_eval_mode_and_with_a_fixed_mask():
    rng = np.random.default_rng(5)
    x = leaf(rng.normal(size=(4, 5)))
    layer = nn.Dropout(0.4).eval()
    assert layer(x) is x
    assert tg.gradcheck(layer, [x])

    def fixed_mask(t):
        tg.manual_seed(11)  # the same mask on every call
        return F.dropout(t, 0.4, training=True)

    assert tg.gradcheck(fixed_mask, [x])
    out = fixed_mask(x)
    out.backward(np.ones(x.shape))
    kept = out.data != 0
    assert np.allclose(x.grad.data, kept / 0.6)  # gradient 1/(1-p) where kept, else 0


# ---- gradcheck: every loss in every reduction ---------------------------------------------------


def loss_cases(rng):
    """(name, fn, inputs): fn takes the inputs that are checked."""
    n, c = 4, 3
    logits = rng.normal(size=(n, c)) * 2
    probs = rng.uniform(0.05, 0.95, size=(n, c))
    targets = rng.uniform(0, 1, size=(n, c))
    soft = rng.dirichlet(np.ones(c), size=n)
    classes = np.array([0, 2, 1, 2])
    weights = np.array([0.5, 2.0, 1.5])
    return [
        ("mse_loss", F.mse_loss, [logits, targets]),
        ("binary_cross_entropy", F.binary_cross_entropy, [probs, targets]),
        (
            "binary_cross_entropy weight",
            lambda p, y, **kw: F.binary_cross_entropy(p, y, weight=weights, **kw),
            [probs, targets],
        ),
        ("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits, [logits, targets]),
        (
            "binary_cross_entropy_with_logits pos_weight",
            lambda x, y, **kw: F.binary_cross_entropy_with_logits(
                x, y, weight=weights, pos_weight=weights[::-1], **kw
            ),
            [logits, targets],
        ),
        ("cross_entropy indices", lambda x, **kw: F.cross_entropy(x, classes, **kw), [logits]),
        (
            "cross_entropy indices weight",
            lambda x, **kw: F.cross_entropy(x, classes, weight=weights, **kw),
            [logits],
        ),
        ("cross_entropy probabilities", F.cross_entropy, [logits, soft]),
        (
            "cross_entropy probabilities weight",
            lambda x, y, **kw: F.cross_entropy(x, y, weights, **kw),
            [logits, soft],
        ),
        ("nll_loss", lambda x, **kw: F.nll_loss(x, classes, **kw), [logits]),
        (
            "nll_loss weight",
            lambda x, **kw: F.nll_loss(x, classes, weight=weights, **kw),
            [logits],
        ),
    ]


CASE_NAMES = [name for name, _, _ in loss_cases(np.random.default_rng(0))]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CASE_NAMES)
def test_gradcheck_losses(case, reduction):
    rng = np.random.default_rng(6)
    _, fn, arrays = next(c for c in loss_cases(rng) if c[0] == case)
    inputs = [leaf(a) for a in arrays]
    assert tg.gradcheck(lambda *xs: fn(*xs, reduction=reduction), inputs)
    out = fn(*inputs, reduction=reduction)
    per_row = case.startswith(("cross_entropy", "nll_loss"))  # one loss per sample
    unreduced = (inputs[0].shape[0],) if per_row else inputs[0].shape
    assert out.shape == (unreduced if reduction == "none" else ())


def test_loss_values_by_hand():
    x = tg.Tensor([[1.0, 2.0, 0.5]])
    log_p = np.log(np.exp([1.0, 2.0, 0.5]) / np.exp([1.0, 2.0, 0.5]).sum())
    assert np.isclose(F.cross_entropy(x, [1]).item(), -log_p[1])
    assert np.isclose(F.cross_entropy(x, [[0.2, 0.5, 0.3]]).item(), -(log_p @ [0.2, 0.5, 0.3]))
    assert np.isclose(F.nll_loss(x, [2]).item(), -0.5)
    assert F.mse_loss(tg.Tensor([1.0, 3.0]), [0.0, 1.0]).item() == 2.5
    assert F.mse_loss(tg.Tensor([1.0, 3.0]), [0.0, 1.0], reduction="sum").item() == 5.0
    assert F.mse_loss(tg.Tensor([1.0, 3.0]), [0.0, 1.0], reduction="none").tolist() == [1.0, 4.0]
    p, y = 0.8, 1.0
    assert np.isclose(F.binary_cross_entropy(tg.Tensor([p]), [y]).item(), -math.log(p))
    z = 0.3
    expected = -(y * math.log(1 / (1 + math.exp(-z))))
    assert np.isclose(F.binary_cross_entropy_with_logits(tg.Tensor([z]), [y]).item(), expected)
    # nll with class weights: the mean is weighted
    w = [1.0, 3.0, 1.0]
    loss = F.nll_loss(tg.Tensor([[-1.0, -2.0, -3.0], [-4.0, -5.0, -6.0]]), [0, 1], weight=w)
    assert np.isclose(loss.item(), (1 * 1.0 + 3 * 5.0) / (1 + 3))


def test_one_hot_rows_as_cross_entropy_targets():
    labels = np.array([2, 0, 1])
    rows = F.one_hot(labels, 4)
    assert rows.dtype == np.int64 and rows.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]]
    assert F.one_hot(tg.Tensor(labels)).shape == (3, 3)
    logits = tg.Tensor(np.random.default_rng(0).normal(size=(3, 4)))
    by_index = F.cross_entropy(logits, labels)
    by_rows = F.cross_entropy(logits, rows.double())
    assert np.isclose(by_index.item(), by_rows.item())
    with pytest.raises(TypeError, match="double"):
        F.cross_entropy(logits, rows)  # integer one-hot rows: say how to convert them
    with pytest.raises(ValueError, match="out of range"):
        F.one_hot(labels, 2)
    with pytest.raises(TypeError, match="integers"):
        F.one_hot(np.array([0.0, 1.0]), 2)


# ---- stability: huge logits, saturated probabilities -------------------------------------------


@pytest.mark.parametrize("dtype, size", [(np.float64, 1e4), (np.float32, 1e3)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_losses_are_finite_for_huge_logits_without_any_warning(dtype, size, reduction):
    logits_values = np.array([[size, -size, 0.0], [-size, size, 3.0], [size, size, -size]])
    classes = np.array([1, 0, 2])
    soft = np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5], [0.2, 0.3, 0.5]])
    losses = {
        "cross_entropy indices": lambda x: F.cross_entropy(x, classes, reduction=reduction),
        "cross_entropy probabilities": lambda x: F.cross_entropy(x, soft, reduction=reduction),
        "nll_loss of log_softmax": lambda x: F.nll_loss(
            F.log_softmax(x, 1), classes, reduction=reduction
        ),
        "bce_with_logits": lambda x: F.binary_cross_entropy_with_logits(
            x, soft, reduction=reduction
        ),
        "bce_with_logits pos_weight": lambda x: F.binary_cross_entropy_with_logits(
            x, soft, pos_weight=np.array([3.0, 1.0, 0.5]), reduction=reduction
        ),
        "bce of sigmoid": lambda x: F.binary_cross_entropy(F.sigmoid(x), soft, reduction=reduction),
    }
    for name, loss_fn in losses.items():
        x = leaf(logits_values, dtype)
        with strict_numerics():
            loss = loss_fn(x)
            loss.backward(np.ones(loss.shape, dtype=dtype))
        assert loss.dtype == dtype and x.grad.dtype == dtype, name
        assert np.all(np.isfinite(loss.data)), name
        assert np.all(np.isfinite(x.grad.data)), name


def test_cross_entropy_of_huge_logits_is_exact():
    x = leaf([[1e4, -1e4, 0.0]])
    with strict_numerics():
        loss = F.cross_entropy(x, [1])
        loss.backward()
    assert loss.item() == 2e4  # -log softmax = 1e4 - (-1e4)
    assert np.allclose(x.grad.data, [[1.0, -1.0, 0.0]])  # softmax - one_hot


def test_bce_with_logits_slope_at_zero_is_half_minus_target():
    x = leaf([0.0, 0.0, 0.0])
    F.binary_cross_entropy_with_logits(x, [0.0, 0.25, 1.0], reduction="sum").backward()
    assert np.allclose(x.grad.data, [0.5, 0.25, -0.5])  # sigmoid(0) - y


def test_the_002_article_saturated_sigmoid_gives_a_finite_bce():
    w, b = leaf(0.5), leaf(-0.2)
    with strict_numerics():
        p = F.sigmoid(w * 100 + b)  # sigmoid(49.8) rounds to exactly 1.0
        assert p.item() == 1.0
        loss = F.binary_cross_entropy(p, tg.Tensor(0.0))
        loss.backward()
    assert loss.item() == pytest.approx(100.0)  # log(1 - p) clamped at -100, as PyTorch
    assert np.isfinite(w.grad.item()) and np.isfinite(b.grad.item())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_clamps_its_logs_at_minus_100_with_finite_gradients(dtype):
    p = leaf([0.0, 1.0, 1.0, 0.0, 1e-300 if dtype == np.float64 else 1.5e-45], dtype)
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    with strict_numerics():
        loss = F.binary_cross_entropy(p, y, reduction="none")
        loss.sum().backward()
    assert loss.dtype == dtype
    assert np.allclose(loss.data, [100.0, 100.0, 0.0, 0.0, 100.0], rtol=1e-3)
    assert np.all(np.isfinite(p.grad.data))


# ---- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: F.mse_loss(tg.zeros(2), tg.zeros(2), reduction="avg"),
        lambda: F.binary_cross_entropy(tg.zeros(2), tg.zeros(2), reduction="avg"),
        lambda: F.binary_cross_entropy_with_logits(tg.zeros(2), tg.zeros(2), reduction="avg"),
        lambda: F.cross_entropy(tg.zeros((2, 3)), [0, 1], reduction="avg"),
        lambda: F.nll_loss(tg.zeros((2, 3)), [0, 1], reduction="avg"),
        lambda: nn.MSELoss(reduction="avg"),
    ],
)
def test_unknown_reduction_is_a_value_error_naming_it(call):
    with pytest.raises(ValueError, match="reduction.*'avg'"):
        call()


def test_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        F.mse_loss(tg.zeros((4, 1)), tg.zeros(4))  # PyTorch would broadcast to (4, 4)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        F.binary_cross_entropy_with_logits(tg.zeros(3), tg.zeros(2))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3,\)"):
        F.cross_entropy(tg.zeros((2, 3)), [0, 1, 2])
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 4\)"):
        F.cross_entropy(tg.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        F.cross_entropy(tg.zeros((2, 3, 4)), [0, 1])
    with pytest.raises(ValueError, match="Linear.*3.*\\(2, 4\\)"):
        nn.Linear(3, 2)(tg.zeros((2, 4)))


def test_class_index_out_of_range_is_named():
    with pytest.raises(ValueError, match="class index 3.*3 classes"):
        F.cross_entropy(tg.zeros((2, 3)), [0, 3])
    with pytest.raises(ValueError, match="class index -1"):
        F.nll_loss(tg.zeros((2, 3)), [-1, 0])
    with pytest.raises(ValueError, match="one entry per class"):
        F.cross_entropy(tg.zeros((2, 3)), [0, 1], weight=[1.0, 2.0])


def test_bce_refuses_values_outside_0_1():
    with pytest.raises(ValueError, match="with_logits"):
        F.binary_cross_entropy(tg.Tensor([0.5, 1.5]), [0.0, 1.0])


# ---- dropout ---------------------------------------------------------------------------------


def test_dropout_preserves_the_mean_and_drops_about_p():
    tg.manual_seed(0)
    x = tg.ones(200, 500)
    out = F.dropout(x, 0.3)
    dropped = np.mean(out.data == 0)
    assert abs(dropped - 0.3) < 0.01
    assert abs(out.data.mean() - 1.0) < 0.01
    assert set(np.unique(out.data)) == {0.0, 1 / 0.7}


def test_dropout_is_reproducible_from_the_seed():
    tg.manual_seed(5)
    first = F.dropout(tg.ones(10, 10), 0.5).data
    tg.manual_seed(5)
    assert np.array_equal(first, F.dropout(tg.ones(10, 10), 0.5).data)
    assert not np.array_equal(first, F.dropout(tg.ones(10, 10), 0.5).data)


def test_dropout_edge_cases():
    x = leaf(np.arange(1.0, 7.0).reshape(2, 3))
    assert F.dropout(x, 0.0) is x
    assert F.dropout(x, 0.9, training=False) is x
    zeros = F.dropout(x, 1.0)
    assert np.all(zeros.data == 0) and zeros.shape == x.shape
    zeros.sum().backward()
    assert np.all(x.grad.data == 0)
    layer = nn.Dropout(0.5)
    assert layer.training and layer.eval()(x) is x
    for p in (-0.1, 1.5, "half", True):
        with pytest.raises(ValueError, match="probability"):
            nn.Dropout(p)
        with pytest.raises(ValueError, match="probability"):
            F.dropout(x, p)


# ---- MLP and layers ----------------------------------------------------------------------------


def test_mlp_structure():
    model = nn.MLP([2, 64, 64, 64, 1])
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "ReLU", "Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert isinstance(model, nn.Sequential)
    assert model(tg.zeros((5, 2))).shape == (5, 1)
    tanh = nn.MLP([3, 4, 2], activation=nn.Tanh, output_activation="softmax")
    assert [type(m).__name__ for m in tanh] == ["Linear", "Tanh", "Linear", "Softmax"]
    assert np.allclose(tanh(tg.ones((2, 3))).data.sum(axis=1), 1.0)
    assert [type(m).__name__ for m in nn.MLP([3, 1])] == ["Linear"]
    leaky = nn.MLP([1, 2, 1], activation="LeakY_ReLU")
    assert isinstance(leaky[1], nn.LeakyReLU)


def test_mlp_errors():
    with pytest.raises(ValueError, match="at least 2 sizes"):
        nn.MLP([3])
    with pytest.raises(ValueError, match="unknown activation 'swish'.*relu"):
        nn.MLP([2, 3, 1], activation="swish")
    with pytest.raises(ValueError, match="output_activation"):
        nn.MLP([2, 1], output_activation="soft_max")
    with pytest.raises(TypeError, match="instance"):
        nn.MLP([2, 3, 1], activation=nn.ReLU())


def test_flatten_and_identity():
    x = tg.zeros((5, 8, 8))
    assert nn.Flatten()(x).shape == (5, 64)
    assert nn.Flatten(0, 1)(x).shape == (40, 8)
    assert nn.Identity()(x) is x


def test_loss_modules_match_functions():
    rng = np.random.default_rng(7)
    x = tg.Tensor(rng.normal(size=(4, 3)))
    y = rng.uniform(size=(4, 3))
    classes = np.array([0, 1, 2, 1])
    assert nn.MSELoss()(x, y).item() == F.mse_loss(x, y).item()
    assert (
        nn.BCELoss("sum")(x.sigmoid(), y).item()
        == F.binary_cross_entropy(x.sigmoid(), y, reduction="sum").item()
    )
    assert nn.BCEWithLogitsLoss()(x, y).item() == F.binary_cross_entropy_with_logits(x, y).item()
    assert nn.CrossEntropyLoss()(x, classes).item() == F.cross_entropy(x, classes).item()
    none = nn.NLLLoss(reduction="none")(x, classes)
    assert np.array_equal(none.data, F.nll_loss(x, classes, reduction="none").data)
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss(reduction='mean')"


# ---- float32 end to end ------------------------------------------------------------------------


def test_float32_model_stays_float32_end_to_end():
    tg.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(4, 8, dtype=np.float32),
        nn.ELU(),
        nn.Dropout(0.2),
        nn.Linear(8, 3, dtype="float32"),
    )
    assert all(p.dtype == np.float32 for p in model.parameters())
    x = tg.Tensor(np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32))
    assert model(x).dtype == np.float32
    classes = np.array([0, 1, 2, 0, 1, 2])
    losses = [
        lambda out: F.cross_entropy(out, classes),
        lambda out: F.cross_entropy(out, np.eye(3)[classes]),  # float64 one-hot rows
        lambda out: F.nll_loss(F.log_softmax(out, 1), classes, weight=np.ones(3)),
        lambda out: F.mse_loss(out, np.zeros((6, 3))),
        lambda out: F.binary_cross_entropy_with_logits(out, np.ones((6, 3)), pos_weight=np.ones(3)),
        lambda out: F.binary_cross_entropy(F.sigmoid(out), np.ones((6, 3)), weight=np.ones(3)),
    ]
    for loss_fn in losses:
        loss = loss_fn(model(x))
        assert loss.dtype == np.float32
        model.zero_grad()
        loss.backward()
        assert all(p.grad.dtype == np.float32 for p in model.parameters())
    mlp = nn.MLP([4, 5, 2], dtype=np.float32)
    assert mlp(x).dtype == np.float32
    # float64 or integer data into a float32 model: converted at the first layer
    x64 = tg.Tensor(x.data.astype(np.float64), requires_grad=True)
    out = mlp(x64)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x64.grad.dtype == np.float64
    assert mlp(tg.Tensor(np.ones((2, 4), dtype=np.int64))).dtype == np.float32
    assert nn.Linear(2, 2).weight.dtype == np.float64  # float64 by default


def test_losses_and_layers_can_be_differentiated_twice():
    rng = np.random.default_rng(8)
    x = leaf(rng.normal(size=(3, 4)))
    p = leaf(rng.uniform(0.1, 0.9, size=(3, 4)))
    y = np.full((3, 4), 0.3)
    assert tg.gradgradcheck(lambda a: F.cross_entropy(a, np.array([0, 3, 1])), [x])
    assert tg.gradgradcheck(lambda a: F.binary_cross_entropy_with_logits(a, y), [x])
    assert tg.gradgradcheck(lambda a: F.binary_cross_entropy(a, y), [p])
    model = nn.MLP([4, 3, 2], activation="tanh")
    assert tg.gradgradcheck(lambda a: F.mse_loss(model(a), np.zeros((3, 2))), [x])


# ---- the fused linear primitive against its composition -------------------------------------


@pytest.mark.parametrize("x_shape", [(5,), (4, 5), (2, 3, 5)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_fused_linear_equals_its_composition(x_shape, with_bias):
    rng = np.random.default_rng(3)
    x = tg.Tensor(rng.standard_normal(x_shape), requires_grad=True)
    w = tg.Tensor(rng.standard_normal((3, 5)), requires_grad=True)
    b = tg.Tensor(rng.standard_normal(3), requires_grad=True) if with_bias else None
    upstream = rng.standard_normal(x_shape[:-1] + (3,))
    fused = F.linear(x, w, b)
    assert fused.grad_fn.name == "Linear"
    fused.backward(upstream)
    fused_grads = [t.grad.data.copy() for t in (x, w, b) if t is not None]
    for t in (x, w, b):
        if t is not None:
            t.grad = None
    composed = x @ w.T if b is None else x @ w.T + b
    composed.backward(upstream)
    np.testing.assert_allclose(fused.data, composed.data, rtol=1e-13, atol=1e-13)
    for got, t in zip(fused_grads, [t for t in (x, w, b) if t is not None]):
        np.testing.assert_allclose(got, t.grad.data, rtol=1e-13, atol=1e-13)
    assert tg.gradcheck(F.linear, [x, w] + ([b] if b is not None else []))
    assert tg.gradgradcheck(F.linear, [x, w] + ([b] if b is not None else []))


def test_fused_linear_keeps_float32_and_checks_shapes():
    x = tg.randn(4, 5, dtype=np.float32)
    w = tg.randn(3, 5, dtype=np.float32, requires_grad=True)
    b = tg.zeros(3, dtype=np.float32, requires_grad=True)
    out = F.linear(x, w, b)
    out.sum().backward()
    assert out.dtype == np.float32 and w.grad.dtype == np.float32 and b.grad.dtype == np.float32
    with pytest.raises(
        ValueError, match=r"linear: input of shape \(4, 5\) does not fit weight of shape \(3, 4\)"
    ):
        F.linear(x, tg.randn(3, 4))
    with pytest.raises(ValueError, match=r"linear: bias has shape \(4,\), expected \(3,\)"):
        F.linear(x, w, tg.zeros(4))


def _check_normalisation_node(apply, name, shape, axes, affine_shape, affine, seed):
    """A normalisation's one node, ``apply(x, weight, bias)`` (either may be None), against
    the nine operations it stands for over ``axes``: values, the gradients of x, weight and
    bias, and finite differences (first and second derivatives)."""
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(shape) * 3 + 1
    upstream = rng.standard_normal(shape)
    values = {"weight": rng.standard_normal(affine_shape), "bias": rng.standard_normal(affine_shape)}
    given = {key: v for key, v in values.items() if affine in (key, "both")}
    node_x, composed_x = leaf(data), leaf(data)
    node_p = {key: leaf(v) for key, v in given.items()}
    composed_p = {key: leaf(v) for key, v in given.items()}
    node = apply(node_x, node_p.get("weight"), node_p.get("bias"))
    assert node.grad_fn.name == name and node.shape == shape
    centred = composed_x - composed_x.mean(dim=axes, keepdim=True)
    composed = centred / ((centred * centred).mean(dim=axes, keepdim=True) + 1e-5).sqrt()
    if "weight" in given:
        composed = composed * composed_p["weight"]
    if "bias" in given:
        composed = composed + composed_p["bias"]
    node.backward(upstream)
    composed.backward(upstream)
    np.testing.assert_allclose(node.data, composed.data, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(node_x.grad.data, composed_x.grad.data, rtol=1e-10, atol=1e-12)
    for key in given:
        assert node_p[key].grad.shape == affine_shape
        np.testing.assert_allclose(
            node_p[key].grad.data, composed_p[key].grad.data, rtol=1e-10, atol=1e-12
        )
    names = list(given)

    def normalise(a, *params):
        p = dict(zip(names, params))
        return apply(a, p.get("weight"), p.get("bias"))

    inputs = [leaf(data), *(leaf(v) for v in given.values())]
    assert tg.gradcheck(normalise, inputs)
    assert tg.gradgradcheck(normalise, inputs)


@pytest.mark.parametrize("affine", ["none", "weight", "bias", "both"])
@pytest.mark.parametrize(
    "shape, axes, affine_shape",
    [((6, 4), (0,), (4,)), ((3, 4, 5), (0, 2), (4, 1)), ((2, 3, 5), (2,), (5,))],
)
def test_standardize_equals_its_composition(shape, axes, affine_shape, affine):
    """batch_norm's one node (over any axes) against its composition, and the batch
    statistics it reports."""
    _check_normalisation_node(
        lambda x, w, b: ops.Standardize.apply(x, axes, 1e-5, None, w, b),
        "Standardize", shape, axes, affine_shape, affine, seed=6,
    )
    data = np.random.default_rng(7).standard_normal(shape)
    stats = {}
    ops.Standardize.apply(leaf(data), axes, 1e-5, stats, None, None)
    np.testing.assert_allclose(stats["mean"], data.mean(axis=axes, keepdims=True), rtol=1e-13)
    np.testing.assert_allclose(stats["var"], data.var(axis=axes, keepdims=True), rtol=1e-13)


@pytest.mark.parametrize("affine", ["none", "weight", "bias", "both"])
@pytest.mark.parametrize(
    "shape, normalized", [((2, 3, 5), (5,)), ((2, 3, 5), (3, 5)), ((4, 6), (6,)), ((7,), (7,))]
)
def test_layer_norm_node_equals_its_composition(shape, normalized, affine):
    """layer_norm's one node, on rows, against its composition over the last axes."""
    axes = tuple(range(len(shape) - len(normalized), len(shape)))
    _check_normalisation_node(
        lambda x, w, b: ops.LayerNorm.apply(x, normalized, 1e-5, w, b),
        "LayerNorm", shape, axes, normalized, affine, seed=8,
    )


def test_layer_norm_node_on_float32_empty_and_transposed_inputs():
    """The rows of layer_norm's node in float32 (as PyTorch's), with no rows or no values in
    a row (an empty result, no warning), and from a transposed input (its rows are copied)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 3, 8)).astype(np.float32)
    w, b = (rng.standard_normal(8).astype(np.float32) for _ in range(2))
    ours = ops.LayerNorm.apply(tg.tensor(x), (8,), 1e-5, tg.tensor(w), tg.tensor(b))
    theirs = torch.nn.functional.layer_norm(torch.tensor(x), (8,), torch.tensor(w), torch.tensor(b))
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-5, atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for shape, normalized in [((0, 4), (4,)), ((3, 0), (0,))]:
            empty = leaf(np.zeros(shape))
            out = ops.LayerNorm.apply(empty, normalized, 1e-5, None, None)
            out.backward(np.zeros(shape))
            assert out.shape == shape and empty.grad.shape == shape
    data = rng.standard_normal((6, 4))
    x, reference = leaf(data), leaf(data.T.copy())
    ops.LayerNorm.apply(x.T, (6,), 1e-5, None, None).backward(np.arange(24.0).reshape(4, 6))
    ops.LayerNorm.apply(reference, (6,), 1e-5, None, None).backward(np.arange(24.0).reshape(4, 6))
    np.testing.assert_allclose(x.grad.data, reference.grad.data.T, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("n", [1, 6, 64, 5000])
def test_row_means_and_column_sums(n, dtype):
    """`ops._row_means` (a matrix-vector product with weight / n, or NumPy's mean for long
    rows and dtypes BLAS has not) and the sums over the rows layer norm's backward takes
    (`sum_axes` over the first axis) against NumPy."""
    rng = np.random.default_rng(n)
    rows = rng.standard_normal((5, n)).astype(dtype)
    weight = rng.standard_normal(n).astype(dtype)
    tolerance = {np.float64: 1e-12, np.float32: 1e-5, np.float16: 1e-2}[dtype]
    expected = rows.astype(np.float64).mean(axis=1, keepdims=True)
    got = ops._row_means(rows)
    assert got.shape == (5, 1) and got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)
    weighted = (rows.astype(np.float64) * weight).mean(axis=1, keepdims=True)
    np.testing.assert_allclose(ops._row_means(rows, weight), weighted, rtol=tolerance, atol=tolerance)
    sums = sum_axes(rows, (0,))
    assert sums.shape == (n,) and sums.dtype == dtype
    np.testing.assert_allclose(sums, rows.astype(np.float64).sum(axis=0), rtol=tolerance, atol=tolerance)
    assert ops._row_means(np.zeros((3, 0), dtype)).shape == (3, 1)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    "apply",
    [
        lambda x, w: ops.Standardize.apply(x, (1,), 1e-5, None, w, None),
        lambda x, w: ops.LayerNorm.apply(x, (4,), 1e-5, w, None),
    ],
    ids=["Standardize", "LayerNorm"],
)
def test_normalisation_output_changed_in_place_leaves_its_gradient_right(apply, weighted):
    """The output is an array of its own, not one backward keeps: changing it in place
    (under no_grad) cannot change the gradient."""
    rng = np.random.default_rng(7)
    data, upstream = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    weight = rng.standard_normal(4) if weighted else None
    x, reference_x = leaf(data), leaf(data)
    y = apply(x, None if weight is None else tg.tensor(weight))
    with tg.no_grad():
        y.data[...] = 7.0
    y.backward(upstream)
    apply(reference_x, None if weight is None else tg.tensor(weight)).backward(upstream)
    np.testing.assert_array_equal(x.grad.data, reference_x.grad.data)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_row_and_column_scaled(dtype):
    """`ops._row_and_column_scaled`: values * inv_std (a column) * weight (a row), in a new
    array, as the broadcast products give it; without a weight, values * inv_std."""
    rng = np.random.default_rng(10)
    values = rng.standard_normal((7, 5)).astype(dtype)
    inv_std = rng.random((7, 1)).astype(dtype) + 0.5
    weight = rng.standard_normal(5).astype(dtype)
    tolerance = {np.float64: 1e-15, np.float32: 1e-6}[dtype]
    for w, expected in [(weight, values * inv_std * weight), (None, values * inv_std)]:
        got = ops._row_and_column_scaled(values, inv_std, w)
        assert got.dtype == dtype and not np.shares_memory(got, values)
        np.testing.assert_allclose(got, expected, rtol=tolerance)


def test_layer_norm_float16_gradient_of_nearly_constant_rows_is_finite():
    """In float16, rows that barely vary have inv_std near 1 / sqrt(eps) = 316, whose cube
    overflows float16 though the gradient does not: the backward takes that factor in float32,
    and the gradient is finite and close to float64's."""
    rng = np.random.default_rng(1)
    data = rng.standard_normal((4, 64)) * 2e-3
    weight, upstream = rng.standard_normal(64), rng.standard_normal((4, 64)) * 3
    grads = {}
    for dtype in (np.float16, np.float64):
        x = tg.tensor(data.astype(dtype), requires_grad=True)
        F.layer_norm(x, (64,), tg.tensor(weight.astype(dtype))).backward(
            tg.tensor(upstream.astype(dtype))
        )
        grads[dtype] = x.grad.data.astype(np.float64)
    assert np.isfinite(grads[np.float16]).all()
    scale = np.abs(grads[np.float64]).max()
    np.testing.assert_allclose(grads[np.float16], grads[np.float64], atol=5e-3 * scale)


def _composed_log_softmax(x, axis):
    shift = x.data.max(axis=axis, keepdims=True)
    return (x - shift) - (x - shift).exp().sum(axis, keepdims=True).log()


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_fused_softmax_and_log_softmax_equal_their_compositions(axis):
    rng = np.random.default_rng(4)
    upstream = rng.standard_normal((4, 5))
    for fused, composed in [
        (lambda t: t.softmax(axis), lambda t: _composed_log_softmax(t, axis).exp()),
        (lambda t: t.log_softmax(axis), lambda t: _composed_log_softmax(t, axis)),
    ]:
        results = []
        for fn in (fused, composed):
            x = tg.Tensor(
                rng.standard_normal((4, 5)) * 3 if not results else results[0][0],
                requires_grad=True,
            )
            out = fn(x)
            out.backward(upstream)
            results.append((x.data, out.data, x.grad.data))
        np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(results[0][2], results[1][2], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_equals_log_softmax_then_nll_loss(reduction, dtype):
    rng = np.random.default_rng(7)
    data = (rng.standard_normal((6, 4)) * 3).astype(dtype)
    target = rng.integers(0, 4, 6)
    fused_x, composed_x = leaf(data, dtype), leaf(data, dtype)
    fused = F.cross_entropy(fused_x, target, reduction=reduction)
    assert fused.grad_fn.name == "CrossEntropy" and fused.dtype == dtype
    composed = F.nll_loss(composed_x.log_softmax(1), target, reduction=reduction)
    upstream = rng.standard_normal(fused.shape).astype(dtype)
    fused.backward(upstream)
    composed.backward(upstream)
    assert fused_x.grad.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(fused.data, composed.data, rtol=tol, atol=tol)
    np.testing.assert_allclose(fused_x.grad.data, composed_x.grad.data, rtol=tol, atol=tol)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_can_be_differentiated_twice(reduction):
    x = leaf(np.random.default_rng(8).standard_normal((5, 3)))
    target = np.array([0, 2, 1, 1, 0])
    assert tg.gradgradcheck(lambda a: F.cross_entropy(a, target, reduction=reduction), [x])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_fused_nll_loss_equals_its_composition(reduction):
    rng = np.random.default_rng(5)
    data = rng.standard_normal((6, 4))
    target = rng.integers(0, 4, 6)
    fused_x = tg.Tensor(data, requires_grad=True)
    fused = F.nll_loss(fused_x, target, reduction=reduction)
    assert fused.grad_fn.name == "NLLLoss"
    composed_x = tg.Tensor(data, requires_grad=True)
    picked = -composed_x[np.arange(6), target]
    composed = {"mean": picked.mean(), "sum": picked.sum(), "none": picked}[reduction]
    upstream = rng.standard_normal(fused.shape)
    fused.backward(upstream)
    composed.backward(upstream)
    np.testing.assert_allclose(fused.data, composed.data, rtol=1e-14)
    np.testing.assert_allclose(fused_x.grad.data, composed_x.grad.data, rtol=1e-14)
