"""Convolution and pooling (tinygrad_edu.nn.conv): values and gradients against PyTorch in
float64 (skipped where PyTorch is not installed), parameter layout, initialisation and
state_dict, first and second derivatives against finite differences over random shapes and
arguments (Hypothesis), and the errors."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu.nn import conv as C

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # the comparisons are skipped; everything else runs
    torch = TF = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def run_both(ours, theirs, arrays, seed=0):
    """Apply both functions to the same float64 arrays (None stays None), backpropagate the
    same random upstream gradient, and return (our value, theirs, our grads, their grads)."""
    xs = [None if a is None else tg.Tensor(a, requires_grad=True) for a in arrays]
    ts = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = ours(*xs), theirs(*ts)
    upstream = np.random.default_rng(seed).normal(size=out.shape)
    out.backward(upstream)
    tout.backward(torch.tensor(upstream))
    grads = [None if x is None else x.grad.data for x in xs]
    expected = [None if t is None else t.grad.numpy() for t in ts]
    return out.data, tout.detach().numpy(), grads, expected


def assert_same(ours, theirs, arrays, rtol=1e-10, atol=1e-12):
    value, expected, grads, expected_grads = run_both(ours, theirs, arrays)
    assert value.shape == expected.shape
    np.testing.assert_allclose(value, expected, rtol=rtol, atol=atol)
    for g, e in zip(grads, expected_grads):
        if e is not None:
            np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


def normal(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


# ---- convolutions against PyTorch ----------------------------------------------------------

CONV2D = [
    {},
    {"stride": 2},
    {"stride": (2, 1), "padding": 1},
    {"padding": (2, 0)},
    {"padding": "same"},
    {"padding": "same", "dilation": 2},
    {"padding": "valid"},
    {"dilation": (2, 1), "padding": 1},
    {"groups": 2},
    {"groups": 4, "stride": 2, "padding": 1},
    {"stride": 3, "padding": 2, "dilation": 2, "groups": 2},
]


@needs_torch
@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's note on its own speed
@pytest.mark.parametrize("kwargs", CONV2D, ids=str)
@pytest.mark.parametrize("kernel", [(3, 3), (2, 3), (1, 1)], ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no bias"])
def test_conv2d_matches_pytorch(kwargs, kernel, bias):
    groups = kwargs.get("groups", 1)
    x = normal(2, 4, 7, 6)
    w = normal(8, 4 // groups, *kernel, seed=1)
    b = normal(8, seed=2) if bias else None
    assert_same(
        lambda x, w, b: C.conv2d(x, w, b, **kwargs),
        lambda x, w, b: TF.conv2d(x, w, b, **kwargs),
        [x, w, b],
    )


@needs_torch
def test_conv2d_unbatched_input_matches_pytorch():
    assert_same(
        lambda x, w, b: C.conv2d(x, w, b, padding=1),
        lambda x, w, b: TF.conv2d(x, w, b, padding=1),
        [normal(3, 5, 5), normal(4, 3, 3, 3, seed=1), normal(4, seed=2)],
    )


CONV1D = [
    {},
    {"stride": 2},
    {"stride": 3, "padding": 2},
    {"padding": "same"},
    {"padding": "same", "dilation": 3},
    {"padding": "valid", "groups": 2},
    {"stride": 2, "padding": 1, "dilation": 2, "groups": 4},
]


@needs_torch
@pytest.mark.parametrize("kwargs", CONV1D, ids=str)
@pytest.mark.parametrize("kernel", [3, 4], ids=str)
def test_conv1d_matches_pytorch(kwargs, kernel):
    groups = kwargs.get("groups", 1)
    assert_same(
        lambda x, w, b: C.conv1d(x, w, b, **kwargs),
        lambda x, w, b: TF.conv1d(x, w, b, **kwargs),
        [normal(3, 4, 11), normal(8, 4 // groups, kernel, seed=1), normal(8, seed=2)],
    )


CONV_TRANSPOSE = [
    {},
    {"stride": 2},
    {"stride": 2, "padding": 1, "output_padding": 1},
    {"stride": (3, 2), "padding": (1, 0), "output_padding": (2, 1)},
    {"dilation": 2, "padding": 2},
    {"stride": 2, "dilation": 3, "output_padding": 2},  # output_padding < dilation
    {"groups": 2},
    {"groups": 2, "stride": 2, "padding": 1, "output_padding": 1, "dilation": 2},
]


@needs_torch
@pytest.mark.parametrize("kwargs", CONV_TRANSPOSE, ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no bias"])
def test_conv_transpose2d_matches_pytorch(kwargs, bias):
    groups = kwargs.get("groups", 1)
    assert_same(
        lambda x, w, b: C.conv_transpose2d(x, w, b, **kwargs),
        lambda x, w, b: TF.conv_transpose2d(x, w, b, **kwargs),
        [
            normal(2, 4, 5, 4),
            normal(4, 6 // groups, 3, 2, seed=1),
            normal(6, seed=2) if bias else None,
        ],
    )


# ---- pooling against PyTorch ---------------------------------------------------------------

MAX_POOL = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 1), "dilation": (2, 1)},
    {"kernel_size": 2, "stride": 3, "ceil_mode": True},
    {"kernel_size": 4, "stride": 3, "padding": 2, "ceil_mode": True},
]


@needs_torch
@pytest.mark.parametrize("kwargs", MAX_POOL, ids=str)
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
def test_max_pool2d_matches_pytorch(kwargs, ties):
    """With ties (small integers, overlapping windows) the gradient must go where PyTorch
    sends it: to the first maximum of each window, not shared."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, size=(2, 3, 7, 6)).astype(float) if ties else normal(2, 3, 7, 6)
    assert_same(lambda x: C.max_pool2d(x, **kwargs), lambda x: TF.max_pool2d(x, **kwargs), [x])
    _, indices = C.max_pool2d(tg.Tensor(x), return_indices=True, **kwargs)
    _, expected = TF.max_pool2d(torch.tensor(x), return_indices=True, **kwargs)
    np.testing.assert_array_equal(indices.data, expected.numpy())
    assert indices.dtype == np.int64


@needs_torch
def test_max_pool2d_nan_and_minus_infinity_pick_as_pytorch():
    """A window with NaN gives NaN and its gradient goes to the last NaN; a window whose
    pixels are all -inf sends it to its first pixel of the image, never to the padding."""
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan
    x[0, 0, 2:, 2:] = -np.inf
    for kwargs in ({"kernel_size": 2}, {"kernel_size": 2, "padding": 1}, {"kernel_size": 3}):
        ours = tg.Tensor(x, requires_grad=True)
        theirs = torch.tensor(x, requires_grad=True)
        y, indices = C.max_pool2d(ours, return_indices=True, **kwargs)
        ty, tindices = TF.max_pool2d(theirs, return_indices=True, **kwargs)
        np.testing.assert_array_equal(y.data, ty.detach().numpy())  # NaN equals NaN here
        np.testing.assert_array_equal(indices.data, tindices.numpy())
        y.backward(np.ones(y.shape))
        ty.backward(torch.ones(ty.shape, dtype=torch.float64))
        np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())


@needs_torch
@pytest.mark.parametrize(
    "kwargs",
    [
        {"kernel_size": 2},
        {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
        {"kernel_size": 3, "dilation": 2, "stride": 1},
    ],
    ids=str,
)
def test_max_pool1d_matches_pytorch(kwargs):
    x = np.random.default_rng(4).integers(0, 4, size=(2, 3, 10)).astype(float)
    assert_same(lambda x: C.max_pool1d(x, **kwargs), lambda x: TF.max_pool1d(x, **kwargs), [x])


AVG_POOL = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 1, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
    {"kernel_size": (3, 2), "stride": (2, 3), "padding": (1, 1), "ceil_mode": True},
    {"kernel_size": 2, "divisor_override": 3},
]


@needs_torch
@pytest.mark.parametrize("kwargs", AVG_POOL, ids=str)
def test_avg_pool2d_matches_pytorch(kwargs):
    assert_same(
        lambda x: C.avg_pool2d(x, **kwargs),
        lambda x: TF.avg_pool2d(x, **kwargs),
        [normal(2, 3, 7, 6)],
    )


@needs_torch
@pytest.mark.parametrize(
    "kwargs",
    [
        {"kernel_size": 2},
        {
            "kernel_size": 3,
            "stride": 2,
            "padding": 1,
            "ceil_mode": True,
            "count_include_pad": False,
        },
    ],
    ids=str,
)
def test_avg_pool1d_matches_pytorch(kwargs):
    assert_same(
        lambda x: C.avg_pool1d(x, **kwargs),
        lambda x: TF.avg_pool1d(x, **kwargs),
        [normal(2, 3, 10)],
    )


@needs_torch
@pytest.mark.parametrize(
    "output_size", [1, (1, 1), 2, (3, 2), (5, 4), (None, 4), (7, 6), (9, 8)], ids=str
)
def test_adaptive_avg_pool2d_matches_pytorch(output_size):
    assert_same(
        lambda x: C.adaptive_avg_pool2d(x, output_size),
        lambda x: TF.adaptive_avg_pool2d(x, output_size),
        [normal(2, 3, 7, 6)],
    )


@needs_torch
def test_unfold_and_fold_match_pytorch():
    kwargs = {"kernel_size": (2, 3), "dilation": (1, 2), "padding": 1, "stride": (2, 1)}
    x = normal(2, 3, 7, 6)
    assert_same(lambda x: C.unfold(x, **kwargs), lambda x: TF.unfold(x, **kwargs), [x])
    cols = TF.unfold(torch.tensor(x), **kwargs).numpy()
    assert_same(
        lambda c: C.fold(c, (7, 6), **kwargs), lambda c: TF.fold(c, (7, 6), **kwargs), [cols]
    )


# ---- modules, layout, initialisation, state_dict --------------------------------------------

MODULES = [
    ("Conv1d", lambda m: m.Conv1d(4, 6, 3, stride=2, padding=1), (2, 4, 9)),
    ("Conv2d", lambda m: m.Conv2d(4, 6, 3, padding="same", groups=2), (2, 4, 6, 5)),
    ("Conv2d no bias", lambda m: m.Conv2d(4, 6, (3, 2), stride=2, bias=False), (2, 4, 6, 5)),
    (
        "ConvTranspose2d",
        lambda m: m.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
        (2, 4, 5, 4),
    ),
    ("MaxPool2d", lambda m: m.MaxPool2d(2), (2, 3, 6, 6)),
    ("MaxPool2d ceil", lambda m: m.MaxPool2d(3, 2, 1, ceil_mode=True), (2, 3, 6, 6)),
    ("AvgPool2d", lambda m: m.AvgPool2d(3, stride=2, padding=1), (2, 3, 6, 6)),
    ("AdaptiveAvgPool2d", lambda m: m.AdaptiveAvgPool2d((2, 3)), (2, 3, 7, 6)),
    ("Unflatten", lambda m: m.Unflatten(1, (2, -1)), (2, 6)),
]


@needs_torch
@pytest.mark.parametrize("name, make, shape", MODULES, ids=[m[0] for m in MODULES])
def test_modules_match_pytorch_state_dict_both_ways(name, make, shape):
    ours, theirs = make(C), make(torch.nn).double()
    expected = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == expected
    assert list(ours.state_dict()) == list(theirs.state_dict())
    # PyTorch's weights into ours: the same outputs and gradients
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = normal(*shape)
    assert_same(ours, theirs, [x])
    # ours into PyTorch: the same outputs
    tg.manual_seed(5)
    ours, theirs = make(C), make(torch.nn).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    expected = theirs(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(ours(tg.Tensor(x)).data, expected, rtol=1e-10, atol=1e-12)
    assert repr(ours) == repr(theirs)


@needs_torch
def test_conv_transpose_output_size_chooses_output_padding_as_pytorch():
    ours, theirs = (
        C.ConvTranspose2d(2, 3, 3, stride=2, padding=1),
        torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double(),
    )
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = normal(1, 2, 4, 4)
    for size in [(7, 7), (8, 8), (7, 8), (1, 3, 8, 7)]:
        y = ours(tg.Tensor(x), output_size=size)
        expected = theirs(torch.tensor(x), output_size=size).detach().numpy()
        assert y.shape == expected.shape
        np.testing.assert_allclose(y.data, expected, rtol=1e-10, atol=1e-12)
    with pytest.raises(
        ValueError, match=r"output_size \(9, 9\) is not possible.*\(7, 7\) to \(8, 8\)"
    ):
        ours(tg.Tensor(x), output_size=(9, 9))


@pytest.mark.parametrize(
    "make, fan_in",
    [
        (lambda: C.Conv2d(8, 16, 3), 8 * 9),
        (lambda: C.Conv2d(8, 16, (3, 5), groups=4), 2 * 15),
        (lambda: C.Conv1d(6, 4, 5), 30),
        (lambda: C.ConvTranspose2d(8, 16, 3, groups=2), 8 * 9),
    ],
)
def test_default_initialisation_is_pytorchs(make, fan_in):
    """kaiming_uniform_ with a = sqrt(5) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias has
    the same bound. fan_in = weight.shape[1] * kernel size (ConvTranspose: out/groups)."""
    tg.manual_seed(0)
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(layer.weight.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.9 * bound  # spread over the interval
    assert layer.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.15)
    assert np.abs(layer.bias.data).max() <= bound


def test_parameter_layout_and_dtype():
    conv = C.Conv2d(3, 8, (3, 5), groups=1, dtype=np.float32)
    assert conv.weight.shape == (8, 3, 3, 5) and conv.bias.shape == (8,)
    assert conv.weight.dtype == np.float32
    assert C.Conv2d(4, 8, 3, groups=2).weight.shape == (8, 2, 3, 3)
    assert C.ConvTranspose2d(4, 8, 3, groups=2).weight.shape == (4, 4, 3, 3)
    assert C.Conv1d(4, 8, 3, bias=False).bias is None
    # a float32 layer stays float32 end to end, whatever the input
    x = tg.Tensor(normal(2, 3, 10, 12))  # float64 data
    y = conv(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert conv.weight.grad.dtype == np.float32 and conv.bias.grad.dtype == np.float32
    pooled = C.MaxPool2d(2)(C.AvgPool2d(2)(y))
    assert pooled.dtype == np.float32


def test_integer_images_are_converted():
    conv = C.Conv2d(1, 2, 3, padding=1)
    pixels = np.arange(16).reshape(1, 1, 4, 4)
    y = conv(pixels)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.data, conv(pixels.astype(float)).data)
    np.testing.assert_allclose(
        C.conv2d(pixels, conv.weight).data, C.conv2d(pixels.astype(float), conv.weight).data
    )
    assert C.max_pool2d(tg.Tensor(pixels), 2).data.tolist() == [[[[5, 7], [13, 15]]]]


def test_second_backward_with_retain_graph_gives_the_same_gradients():
    """The NumPy backward reuses the columns forward kept; a second backward through the
    same graph must recompute them and agree."""
    conv = C.Conv2d(3, 4, 3, padding=1)
    x = tg.Tensor(normal(2, 3, 5, 5), requires_grad=True)
    y = conv(x)
    y.backward(np.ones(y.shape), retain_graph=True)
    first = [t.grad.data.copy() for t in (x, conv.weight, conv.bias)]
    for t in (x, conv.weight, conv.bias):
        t.grad = None
    y.backward(np.ones(y.shape))
    for t, expected in zip((x, conv.weight, conv.bias), first):
        np.testing.assert_allclose(t.grad.data, expected, rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [{"padding": 1}, {"stride": 2, "dilation": 2, "groups": 2}, {"padding": "same", "groups": 4}],
    ids=str,
)
def test_create_graph_first_derivatives_equal_the_numpy_ones(kwargs):
    """Convolution's backward has a NumPy path and, under create_graph, a composed one: both
    must give the same first derivatives."""
    x = tg.Tensor(normal(2, 4, 6, 5), requires_grad=True)
    w = tg.Tensor(normal(8, 4 // kwargs.get("groups", 1), 3, 3, seed=1), requires_grad=True)
    b = tg.Tensor(normal(8, seed=2), requires_grad=True)
    y = C.conv2d(x, w, b, **kwargs)
    upstream = normal(*y.shape, seed=3)
    plain = tg.grad(y, [x, w, b], upstream, retain_graph=True)
    graph = tg.grad(y, [x, w, b], tg.Tensor(upstream), create_graph=True)
    assert graph[0].requires_grad and graph[1].requires_grad  # (the bias's is a constant)
    for p, g in zip(plain, graph):
        np.testing.assert_allclose(g.data, p.data, rtol=1e-10, atol=1e-12)


def test_no_grad_forward_records_nothing():
    conv, pool = C.Conv2d(2, 3, 3), C.MaxPool2d(2, return_indices=True)
    with tg.no_grad():
        y, indices = pool(conv(tg.Tensor(normal(1, 2, 6, 6))))
    assert y.grad_fn is None and not y.requires_grad
    assert indices.shape == y.shape


def test_unflatten_and_flatten_are_inverse():
    x = tg.Tensor(normal(2, 24), requires_grad=True)
    y = C.Unflatten(1, (2, -1, 3))(x)
    assert y.shape == (2, 2, 4, 3)
    assert C.Unflatten(-1, [4, 6])(x).shape == (2, 4, 6)
    assert tg.nn.Flatten()(y).shape == (2, 24)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 24)))


# ---- derivatives against finite differences, over random shapes (Hypothesis) ---------------


def tensor(rng, *shape):
    return tg.Tensor(rng.normal(size=shape), requires_grad=True)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    nd=st.sampled_from([1, 2]),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 2),
    dilation=st.integers(1, 2),
    groups=st.sampled_from([1, 2]),
    padding=st.sampled_from([0, 1, "same", "valid"]),
)
def test_conv_gradcheck_and_gradgradcheck(seed, nd, kernel, stride, dilation, groups, padding):
    if padding == "same":
        stride = 1
    rng = np.random.default_rng(seed)
    size = (5,) * nd
    x = tensor(rng, 1 + seed % 2, 2 * groups, *size)
    w = tensor(rng, 2 * groups, 2, *(kernel,) * nd)
    b = tensor(rng, 2 * groups)
    conv = C.conv1d if nd == 1 else C.conv2d

    def f(x, w, b):
        return conv(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)

    assert tg.gradcheck(f, [x, w, b])
    assert tg.gradgradcheck(f, [x, w, b])


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.integers(1, 3),
    padding=st.integers(0, 1),
    dilation=st.integers(1, 2),
    groups=st.sampled_from([1, 2]),
)
def test_conv_transpose2d_gradcheck_and_gradgradcheck(
    seed, kernel, stride, padding, dilation, groups
):
    rng = np.random.default_rng(seed)
    x = tensor(rng, 1, 2 * groups, 3, 3)
    w = tensor(rng, 2 * groups, 2, *kernel)
    b = tensor(rng, 2 * groups)
    output_padding = (stride - 1) % max(stride, dilation)

    def f(x, w, b):
        return C.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation)

    assert tg.gradcheck(f, [x, w, b])
    assert tg.gradgradcheck(f, [x, w, b])


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    kind=st.sampled_from(["max", "avg", "adaptive"]),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 3),
    padding=st.integers(0, 1),
    ceil_mode=st.booleans(),
    count_include_pad=st.booleans(),
    output=st.tuples(st.integers(1, 6), st.integers(1, 6)),
)
def test_pooling_gradcheck_and_gradgradcheck(
    seed, kind, kernel, stride, padding, ceil_mode, count_include_pad, output
):
    rng = np.random.default_rng(seed)
    x = tensor(rng, 2, 2, 5, 6)  # random values: no ties, so max pooling is differentiable
    padding = min(padding, kernel // 2)
    if kind == "max":

        def f(x):
            return C.max_pool2d(x, kernel, stride, padding, ceil_mode=ceil_mode)
    elif kind == "avg":

        def f(x):
            return C.avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad)
    else:

        def f(x):
            return C.adaptive_avg_pool2d(x, output)

    assert tg.gradcheck(f, [x])
    assert tg.gradgradcheck(f, [x])


def test_unfold_and_fold_are_adjoint_and_checked():
    """<fold(c), x> = <c, unfold(x)>: each is the other's derivative."""
    rng = np.random.default_rng(0)
    x, kwargs = tensor(rng, 2, 2, 5, 4), {"kernel_size": (2, 3), "padding": 1, "stride": (2, 1)}
    cols = tensor(rng, *C.unfold(x, **kwargs).shape)
    left = (C.fold(cols, (5, 4), **kwargs).data * x.data).sum()
    assert left == pytest.approx((cols.data * C.unfold(x, **kwargs).data).sum())
    assert tg.gradgradcheck(lambda x: C.unfold(x, **kwargs), [x])
    assert tg.gradgradcheck(lambda c: C.fold(c, (5, 4), **kwargs), [cols])


# ---- errors ------------------------------------------------------------------------------------


def test_wrong_channel_count_names_the_layer_and_the_shape():
    with pytest.raises(
        ValueError,
        match=r"Conv2d\(in_channels=3\): expected input with 3 channels, "
        r"got input of shape \(2, 1, 8, 8\)",
    ):
        C.Conv2d(3, 8, 3)(np.zeros((2, 1, 8, 8)))
    with pytest.raises(
        ValueError,
        match=r"Conv1d\(in_channels=2\): expected input with 2 channels, "
        r"got input of shape \(3, 5\)",
    ):
        C.Conv1d(2, 4, 3)(np.zeros((3, 5)))
    with pytest.raises(
        ValueError,
        match=r"conv2d: expected input with 4 channels \(weight of shape \(6, 2, 3, 3\), "
        r"groups=2\), got input of shape \(1, 3, 5, 5\)",
    ):
        C.conv2d(np.zeros((1, 3, 5, 5)), np.zeros((6, 2, 3, 3)), groups=2)
    with pytest.raises(
        ValueError, match=r"ConvTranspose2d\(in_channels=4\).*got input of shape \(1, 2, 3, 3\)"
    ):
        C.ConvTranspose2d(4, 2, 3)(np.zeros((1, 2, 3, 3)))


def test_kernel_larger_than_the_padded_input():
    with pytest.raises(
        ValueError,
        match=r"Conv2d: the kernel 5 x 5 is larger than the padded input 4 x 4: "
        r"input of shape \(1, 1, 2, 2\), padding \(1, 1\)",
    ):
        C.Conv2d(1, 1, 5, padding=1)(np.zeros((1, 1, 2, 2)))
    with pytest.raises(
        ValueError,
        match=r"conv1d: the kernel 3 \(spanning 5 with dilation \(2,\)\) is larger than "
        r"the padded input 4",
    ):
        C.conv1d(np.zeros((1, 1, 4)), np.zeros((1, 1, 3)), dilation=2)
    with pytest.raises(
        ValueError,
        match=r"MaxPool2d: the output would be empty \(0 x 2\): input of shape \(1, 1, 2, 5\)",
    ):
        C.MaxPool2d(3, stride=2)(np.zeros((1, 1, 2, 5)))


def test_wrong_input_rank():
    with pytest.raises(
        ValueError,
        match=r"Conv2d: expected a 3-D \(unbatched.*4-D \(batched.*got input of shape \(8, 8\)",
    ):
        C.Conv2d(1, 2, 3)(np.zeros((8, 8)))
    with pytest.raises(
        ValueError, match=r"max_pool2d: expected a 3-D.*got input of shape \(1, 1, 1, 4, 4\)"
    ):
        C.max_pool2d(np.zeros((1, 1, 1, 4, 4)), 2)
    with pytest.raises(
        ValueError, match=r"conv2d: weight must have 4 dimensions.*got weight of shape \(2, 1, 3\)"
    ):
        C.conv2d(np.zeros((1, 1, 4, 4)), np.zeros((2, 1, 3)))
    with pytest.raises(ValueError, match=r"conv2d: bias must have shape \(2,\).*got \(3,\)"):
        C.conv2d(np.zeros((1, 1, 4, 4)), tg.zeros(2, 1, 3, 3), tg.zeros(3))


def test_groups_must_divide_the_channels():
    with pytest.raises(ValueError, match=r"Conv2d: in_channels=3 must be divisible by groups=2"):
        C.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv2d: out_channels=5 must be divisible by groups=2"):
        C.Conv2d(4, 5, 3, groups=2)
    with pytest.raises(
        ValueError,
        match=r"conv2d: groups=4 must divide the output channels, "
        r"but weight of shape \(6, 1, 3, 3\) has 6",
    ):
        C.conv2d(np.zeros((1, 4, 5, 5)), np.zeros((6, 1, 3, 3)), groups=4)
    with pytest.raises(ValueError, match=r"Conv1d: groups must be a positive int, got 0"):
        C.Conv1d(4, 4, 3, groups=0)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: C.Conv2d(1, 2, 3, stride=0), r"Conv2d: stride must be positive, got 0"),
        (
            lambda: C.Conv2d(1, 2, 3, stride=(1, 2, 3)),
            r"stride must be an int or a tuple of 2 ints, got \(1, 2, 3\)",
        ),
        (lambda: C.Conv2d(1, 2, 3, padding=-1), r"Conv2d: padding must be non-negative, got -1"),
        (lambda: C.Conv2d(1, 2, 3, padding="full"), r"padding must be 'same', 'valid'.*got 'full'"),
        (
            lambda: C.Conv2d(1, 2, 3, stride=2, padding="same"),
            r"padding='same' is not supported for strided convolutions",
        ),
        (lambda: C.Conv2d(1, 2, 0), r"Conv2d: kernel_size must be positive, got 0"),
        (lambda: C.Conv2d(1, 2, 2.5), r"kernel_size must be an int or a tuple of 2 ints, got 2.5"),
        (lambda: C.Conv1d(1, 2, 3, dilation=0), r"Conv1d: dilation must be positive, got 0"),
        (lambda: C.Conv2d(0, 2, 3), r"Conv2d: in_channels must be a positive int, got 0"),
        (
            lambda: C.Conv2d(1, 2, 3, padding_mode="reflect"),
            r"padding_mode='reflect' is not implemented",
        ),
        (
            lambda: C.ConvTranspose2d(1, 2, 3, output_padding=1),
            r"output_padding must be smaller than either stride or dilation",
        ),
        (lambda: C.Unflatten(1, (2, -1, -1)), r"at most one -1"),
    ],
)
def test_bad_arguments_are_refused_at_construction(make, message):
    with pytest.raises((ValueError, NotImplementedError), match=message):
        make()


def test_bad_arguments_of_the_functions_and_pools():
    x = np.zeros((1, 2, 6, 6))
    with pytest.raises(ValueError, match=r"conv2d: stride must be positive, got \(1, 0\)"):
        C.conv2d(x, np.zeros((2, 2, 3, 3)), stride=(1, 0))
    with pytest.raises(
        ValueError,
        match=r"max_pool2d: padding must be at most half of the kernel size, "
        r"got padding=\(2, 2\), kernel_size=\(3, 3\)",
    ):
        C.max_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match=r"AvgPool2d: stride must be positive, got 0"):
        C.AvgPool2d(2, stride=0)(x)
    with pytest.raises(
        ValueError, match=r"adaptive_avg_pool2d: output_size must be positive ints, got \(0, 2\)"
    ):
        C.adaptive_avg_pool2d(x, (0, 2))
    with pytest.raises(ValueError, match=r"conv_transpose2d: the output would have size -1 x -1"):
        C.conv_transpose2d(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 1, 1)), padding=1)
    with pytest.raises(
        ValueError, match=r"Unflatten: cannot split dimension 1 of size 6 into \(4, -1\)"
    ):
        C.Unflatten(1, (4, -1))(np.zeros((2, 6)))
    with pytest.raises(
        ValueError, match=r"fold: input of shape \(1, 8, 5\) does not fit output_size \(4, 4\)"
    ):
        C.fold(np.zeros((1, 8, 5)), (4, 4), 2)
