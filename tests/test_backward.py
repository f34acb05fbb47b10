"""The backward pass: the cases micrograd's users asked about, accumulation into leaves, freeing
the graph, memory without reference cycles, a failed backward, and gradients of gradients."""

import gc
import sys
import tracemalloc
import weakref

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor
from tinygrad_edu.walk import values as topological_order

pytestmark = pytest.mark.usefixtures("grad_mode_restored")


# ---- the questions micrograd's users asked -----------------------------------------------------


def test_diamond_a_plus_a_twice():
    """b = a + a; c = b + b: a must collect all of b's gradient before passing it on."""
    a = Tensor(3.0, requires_grad=True)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad.item() == 4.0


def test_x_times_x():
    x = Tensor(3.0, requires_grad=True)
    (x * x).backward()
    assert x.grad.item() == 6.0


def test_reused_intermediate():
    a = Tensor(1.5, requires_grad=True)
    b = a * 2.0
    c = b * b + b.tanh() + b  # b is used four times
    c.backward()
    expected = (2 * 3.0 + (1 - np.tanh(3.0) ** 2) + 1) * 2.0
    assert a.grad.item() == pytest.approx(expected, rel=1e-14)


def test_reused_matrix_intermediate():
    x = Tensor(np.random.default_rng(0).standard_normal((3, 3)), requires_grad=True)
    h = x @ x
    loss = (h * h.T).sum() + h.sum()
    loss.backward()
    assert tg.gradcheck(
        lambda t: ((t @ t) * (t @ t).T).sum() + (t @ t).sum(), [x.detach().requires_grad_()]
    )
    hx = x.data @ x.data
    upstream = hx.T * 2 + 1  # d loss / d h
    np.testing.assert_allclose(x.grad.data, upstream @ x.data.T + x.data.T @ upstream)


def test_long_chain_needs_no_recursion():
    """100,000 operations deep, with Python's recursion limit untouched; the walk visits each
    node once (so its time is linear in the length)."""
    limit = sys.getrecursionlimit()
    x = Tensor(0.5, requires_grad=True)
    y = x
    for i in range(100_000):
        y = y * 1.0 if i % 2 else y + 0.0
    assert len(topological_order([y])) == 100_001
    y.backward()
    assert x.grad.item() == 1.0
    assert sys.getrecursionlimit() == limit


def test_long_chain_without_backward_is_freed():
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    probe = weakref.ref(y)
    del y
    assert probe() is None


def test_backward_walk_is_deterministic():
    def build():
        a = Tensor(1.0, requires_grad=True, name="a")
        b = Tensor(2.0, requires_grad=True, name="b")
        c = a * b
        d = c + a
        e = d * c - b
        return e

    names = [
        [t.grad_fn.name if t.grad_fn else t.name for t in topological_order([build()])]
        for _ in range(3)
    ]
    assert names[0] == names[1] == names[2]
    assert names[0][0] == "a" and names[0][-1] == "Sub"


class _VisitRecorder:
    """An observer that notes the tensor and node of each backward step."""

    def __init__(self):
        self.visited = []

    def forward(self, function, args, ctx, output):
        pass

    def backward(self, node, ctx, grad_output, input_grads):
        self.visited.append((node, ctx.parents))


def test_backward_visits_each_node_once_after_all_its_uses():
    x = Tensor(0.7, requires_grad=True)
    a = x * 2.0
    b = a * 3.0  # one use of a
    c = x + 1.0
    d = c * a  # a second use of a, created later, on another branch
    loss = b + d.tanh()
    recorder = _VisitRecorder()
    previous = tg.autograd.set_observer(recorder)
    try:
        loss.backward()
    finally:
        tg.autograd.set_observer(previous)
    tensors = [tensor for tensor, _ in recorder.visited]
    assert len(tensors) == 6 and len({id(t) for t in tensors}) == 6
    position = {id(t): k for k, t in enumerate(tensors)}
    for k, (_, parents) in enumerate(recorder.visited):
        for parent in parents:
            if id(parent) in position:  # a computed input: visited after this use of it
                assert position[id(parent)] > k
    # dloss/da = 3 + (1 - tanh(d)^2) c, da/dx = 2; dloss/dc = (1 - tanh(d)^2) a, dc/dx = 1
    xv = 0.7
    sech2 = 1 - np.tanh((xv + 1) * 2 * xv) ** 2
    expected = (3 + sech2 * (xv + 1)) * 2 + sech2 * 2 * xv
    assert x.grad.item() == pytest.approx(expected, rel=1e-14)


# ---- accumulation, retain_graph, intermediate gradients ----------------------------------------


def test_leaves_accumulate_across_backward_calls():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0 + 2.0, 3.0 + 4.0])
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_second_backward_raises_and_names_retain_graph():
    x = Tensor(2.0, requires_grad=True)
    y = x * x
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    assert x.grad.item() == 4.0  # unchanged by the failed call


def test_retain_graph_allows_a_second_backward_that_accumulates():
    x = Tensor(2.0, requires_grad=True)
    y = (x * x).exp()
    y.backward(retain_graph=True)
    first = x.grad.item()
    y.backward()
    assert x.grad.item() == pytest.approx(2 * first, rel=1e-15)
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_a_shared_subgraph_is_freed_by_the_first_backward():
    x = Tensor(2.0, requires_grad=True)
    h = x * x
    h.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        (h * 2.0).backward()


def test_intermediate_gradients_are_not_kept_unless_retained():
    x = Tensor([1.0, -2.0], requires_grad=True)
    h = x * 3.0
    kept = h.tanh()
    kept.retain_grad()
    loss = (kept * kept).sum()
    loss.backward()
    assert h.grad is None and loss.grad is None
    assert not h.is_leaf and x.is_leaf
    np.testing.assert_allclose(kept.grad.data, 2 * kept.data)
    np.testing.assert_allclose(x.grad.data, 2 * kept.data * (1 - kept.data**2) * 3.0)


def test_graph_releases_saved_arrays_after_backward():
    x = Tensor(np.ones((2, 2)), requires_grad=True)
    h = x.exp()
    out = (h * x).sum()
    nodes = [t.grad_fn for t in topological_order([out]) if t.grad_fn is not None]
    links_before = [[id(p) for p in ctx.parents if isinstance(p, Tensor)] for ctx in nodes]
    assert any(ctx._saved for ctx in nodes)
    out.backward(retain_graph=True)
    assert any(ctx._saved for ctx in nodes)  # retained
    out.backward()
    for ctx in nodes:
        assert ctx._saved == () and ctx.released
    # the links stay, for drawings: these inputs have 4 elements, so they are kept as they are
    links_after = [[id(p) for p in ctx.parents if isinstance(p, Tensor)] for ctx in nodes]
    assert links_after == links_before and links_after[1] == [id(h), id(x)]


def test_what_forward_kept_on_ctx_goes_with_the_graph():
    """Attributes a forward set on ctx (an array it kept for backward) stay for a backward
    with retain_graph and go after the last; a node that set none can still take one."""

    class Scale(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.factor = np.full(x.shape, 3.0)
            return x * ctx.factor

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.factor

    x = Tensor(np.ones(5), requires_grad=True)
    out = Scale.apply(x).sum()
    node = out.grad_fn.parents[0].grad_fn
    kept = weakref.ref(node.factor)
    out.backward(retain_graph=True)
    assert node.factor is kept() and not node.released
    out.backward()
    np.testing.assert_array_equal(x.grad.data, np.full(5, 6.0))
    assert node.released and not hasattr(node, "factor") and node.__dict__ == {}
    gc.collect()
    assert kept() is None  # the array itself is freed
    node.note = "added after release"  # a node's attributes still work as before
    assert node.__dict__ == {"note": "added after release"}


def test_leaf_root_and_tensor_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    x.backward(Tensor([3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.data, [3.0, 4.0])


def test_grad_is_a_new_tensor_not_tied_to_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x + x).sum().backward()
    assert x.grad.grad_fn is None and not x.grad.requires_grad
    seed = np.array([1.0, 1.0])
    y = Tensor([5.0, 6.0], requires_grad=True)
    y.backward(seed)
    y.grad.data[0] = 100.0
    assert seed[0] == 1.0  # the leaf's .grad owns its array


def test_constants_in_the_graph_get_no_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, 4.0])
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad.data, [3.0, 4.0])


def test_float32_leaf_gets_float32_grad_even_from_float64_seed():
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = x * 2.0
    y.backward(np.array([1.0, 1.0]))
    assert x.grad.dtype == np.float32
    m = Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    (m @ Tensor(np.ones(2))).sum().backward()  # float32 @ float64 is float64; m.grad is not
    assert m.grad.dtype == np.float32


def test_numpy_scalar_gradients_get_the_input_dtype_and_shape():
    """On a graph of scalars only gradients of another type than their input are checked: a
    float32 scalar for a float64 input is cast, a 1-element array reshaped to 0-d."""

    class Halve(tg.Function):
        @staticmethod
        def forward(ctx, x, as_array):
            ctx.as_array = as_array
            return x * 0.5

        @staticmethod
        def backward(ctx, grad):
            half = np.float32(grad * 0.5)
            return (np.array([half]) if ctx.as_array else half), None

    for as_array in (False, True):
        x = Tensor(3.0, requires_grad=True)
        y = x * 1.0  # a computed 0-d tensor: its data is a NumPy float64 scalar
        y.retain_grad()
        Halve.apply(y, as_array).backward()
        assert y.grad.dtype == np.float64 and y.grad.shape == ()
        assert x.grad.dtype == np.float64 and x.grad.item() == 0.5


# ---- a backward that fails half-way ---------------------------------------------------------


class FailingBackward(tg.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        raise ArithmeticError("this backward fails")


def test_a_failed_backward_leaves_every_grad_and_the_graph_as_they_were():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    b.grad = Tensor([10.0, 10.0])
    h = (b * b).sum()
    h.retain_grad()
    out = FailingBackward.apply(a).sum() + h  # b and h are reached before the failing node
    with pytest.raises(ArithmeticError):
        out.backward()
    assert a.grad is None and h.grad is None
    np.testing.assert_array_equal(b.grad.data, [10.0, 10.0])
    # nothing was freed: the part of the graph below h still works
    h.backward()
    np.testing.assert_array_equal(b.grad.data, [16.0, 18.0])


def test_a_backward_returning_the_wrong_number_of_gradients_is_named():
    class TwoForOne(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return x + 1

        @staticmethod
        def backward(ctx, grad):
            return grad, grad

    x = Tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="TwoForOne.backward returned 2 gradients"):
        TwoForOne.apply(x).backward()
    assert x.grad is None


# ---- memory: no reference cycles, nothing kept -------------------------------------------------


def _mlp_step(params, x, y, lr=0.05):
    w1, b1, w2, b2 = params
    hidden = (x @ w1 + b1).tanh()
    out = (hidden @ w2 + b2).sigmoid()
    loss = ((out - y) ** 2).mean()
    loss.backward()
    with tg.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None
    return loss.item()


def _mlp_setup():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((16, 4)))
    y = Tensor((rng.random((16, 1)) < 0.5).astype(np.float64))
    params = [
        Tensor(rng.standard_normal((4, 8)) * 0.5, requires_grad=True),
        Tensor(np.zeros(8), requires_grad=True),
        Tensor(rng.standard_normal((8, 1)) * 0.5, requires_grad=True),
        Tensor(np.zeros(1), requires_grad=True),
    ]
    return params, x, y


def test_training_steps_create_no_reference_cycles():
    """300 steps of a small MLP with the cycle collector off: each step's graph is freed by
    reference counting alone, so nothing is left for gc.collect() and memory stays flat (one
    step's graph is tens of kilobytes: a leak would show as megabytes)."""
    params, x, y = _mlp_setup()
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    tracemalloc.start()
    try:
        losses = [_mlp_step(params, x, y) for _ in range(100)]
        warm, _ = tracemalloc.get_traced_memory()
        containers = len(gc.get_objects())
        losses += [_mlp_step(params, x, y) for _ in range(200)]
        after, _ = tracemalloc.get_traced_memory()
        containers_after = len(gc.get_objects())
        unreachable = gc.collect()
    finally:
        tracemalloc.stop()
        if was_enabled:
            gc.enable()
    assert unreachable == 0, f"{unreachable} objects were only freed by the cycle collector"
    assert containers_after - containers <= 10
    assert after - warm < 512 * 1024, f"memory grew by {after - warm} bytes over 200 steps"
    assert losses[-1] < losses[0]


def test_a_graph_of_scalars_holds_three_tracked_objects_per_node():
    """Python's cycle collector scans every tracked container on each full collection, so on a
    graph of scalars its time grows with the containers per node: a node is its output Tensor,
    its Node and the tuple of its inputs, and no more (W4 and W5 of the benchmarks hold their
    budgets with that)."""
    w = Tensor(0.5, requires_grad=True)
    gc.collect()
    before = len(gc.get_objects())
    y = w
    for _ in range(1000):
        y = y * 1.001 + w  # two binary nodes
    gc.collect()  # what a full collection then scans (tuples of arrays are untracked)
    after = len(gc.get_objects())
    assert after - before <= 3 * 2000 + 100
    y.backward()
    assert w.grad.item() == pytest.approx(sum(1.001**k for k in range(1001)))  # y = 1.001^n w + ...
    assert y.grad_fn.released


def test_each_step_frees_its_graph():
    params, x, y = _mlp_setup()
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        w1, b1, w2, b2 = params
        hidden = (x @ w1 + b1).tanh()
        loss = (((hidden @ w2 + b2).sigmoid() - y) ** 2).mean()
        probes = [weakref.ref(t) for t in topological_order([loss]) if not t.is_leaf]
        loss.backward()
        del hidden, loss
        alive = sum(p() is not None for p in probes)
    finally:
        if was_enabled:
            gc.enable()
    assert len(probes) > 5 and alive == 0


def test_a_function_saving_its_output_makes_no_cycle():
    class Square(tg.Function):
        @staticmethod
        def forward(ctx, x):
            out = x * x
            ctx.save_for_backward(x, out)
            return out

        @staticmethod
        def backward(ctx, grad):
            x, out = ctx.saved_tensors
            return grad * 2 * out / x

    x = Tensor([1.0, 2.0], requires_grad=True)
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        y = Square.apply(x).exp()
        probes = [weakref.ref(y), weakref.ref(y.grad_fn)]
        del y
        alive = [p() is not None for p in probes]
        z = Square.apply(x)
        z.sum().backward(create_graph=True)  # the saved output is seen as the tensor z
        probe = weakref.ref(z)
        del z
        np.testing.assert_allclose(x.grad.data, [2.0, 4.0])
        # x.grad's graph uses z and x itself (PyTorch has the same cycle through .grad with
        # create_graph=True); clearing .grad frees it
        x.grad = None
        alive.append(probe() is not None)
    finally:
        if was_enabled:
            gc.enable()
    assert alive == [False, False, False]


def test_dropping_the_output_frees_the_whole_graph():
    x = Tensor(np.ones(3), requires_grad=True)
    h = x.exp()
    probe = weakref.ref(h)
    out = (h * 2.0).sum()
    del h
    assert probe() is not None  # kept alive by the graph of out
    del out
    assert probe() is None


# ---- gradients of gradients ---------------------------------------------------------------


def test_second_derivative_of_cube_is_6x():
    x = Tensor([-1.5, 0.5, 2.0], requires_grad=True)
    (dx,) = tg.grad((x**3).sum(), x, create_graph=True)
    np.testing.assert_allclose(dx.data, 3 * x.data**2)
    assert dx.requires_grad
    (ddx,) = tg.grad(dx.sum(), x)
    np.testing.assert_allclose(ddx.data, 6 * x.data)


def test_second_derivative_through_backward_create_graph():
    x = Tensor(2.0, requires_grad=True)
    (x**3).backward(create_graph=True)
    first = x.grad
    assert first.item() == pytest.approx(12.0) and first.requires_grad
    x.grad = None
    first.backward()
    assert x.grad.item() == pytest.approx(12.0)  # 6x


def _mlp_loss(w1, w2, x, y):
    hidden = (x @ w1).tanh()
    return (((hidden @ w2).sigmoid() - y) ** 2).mean()


def test_hessian_vector_product_of_mlp_matches_finite_differences():
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal((5, 3)))
    y = Tensor(rng.random((5, 1)))
    w1_0, w2_0 = rng.standard_normal((3, 4)), rng.standard_normal((4, 1))
    v1, v2 = rng.standard_normal((3, 4)), rng.standard_normal((4, 1))

    w1 = Tensor(w1_0, requires_grad=True)
    w2 = Tensor(w2_0, requires_grad=True)
    g1, g2 = tg.grad(_mlp_loss(w1, w2, x, y), [w1, w2], create_graph=True)
    hv1, hv2 = tg.grad((g1 * Tensor(v1)).sum() + (g2 * Tensor(v2)).sum(), [w1, w2])

    def gradient_at(step):
        a = Tensor(w1_0 + step * v1, requires_grad=True)
        b = Tensor(w2_0 + step * v2, requires_grad=True)
        _mlp_loss(a, b, x, y).backward()
        return a.grad.data, b.grad.data

    eps = 1e-5
    (p1, p2), (m1, m2) = gradient_at(eps), gradient_at(-eps)
    np.testing.assert_allclose(hv1.data, (p1 - m1) / (2 * eps), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(hv2.data, (p2 - m2) / (2 * eps), rtol=1e-5, atol=1e-8)


def test_grad_allow_unused_and_no_accumulation():
    x = Tensor(2.0, requires_grad=True)
    unused = Tensor(1.0, requires_grad=True)
    y = x * x
    with pytest.raises(RuntimeError, match="allow_unused"):
        tg.grad(y, [x, unused], retain_graph=True)
    dx, du = tg.grad(y, [x, unused], allow_unused=True)
    assert dx.item() == 4.0 and du is None
    assert x.grad is None and unused.grad is None  # tg.grad does not touch .grad


def test_grad_of_several_outputs_and_grad_outputs():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (dx,) = tg.grad([x * 2.0, x * x], x, [Tensor([1.0, 1.0]), Tensor([3.0, 0.5])])
    np.testing.assert_allclose(dx.data, [2.0 + 6.0, 2.0 + 2.0])
    with pytest.raises(ValueError, match="grad_outputs"):
        tg.grad([x * 2.0, x * 3.0], x, [Tensor([1.0, 1.0])])
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.grad((x * 2.0).sum(), Tensor(1.0))


def test_create_graph_gradient_accumulates_and_stays_differentiable():
    x = Tensor([1.0, 3.0], requires_grad=True)
    (x**2).sum().backward(create_graph=True)
    (x**2).sum().backward(create_graph=True)
    np.testing.assert_array_equal(x.grad.data, 4 * x.data)
    (d2,) = tg.grad(x.grad.sum(), x)
    np.testing.assert_array_equal(d2.data, [4.0, 4.0])


# ---- a tensor used through slices: its gradient kept as pieces until needed whole --------------

try:
    import torch
except ImportError:
    torch = None


def test_gradient_of_slices_split_overlapping_and_whole():
    """x used through a split, overlapping slices, an integer index and as a whole: each
    element's gradient is the sum over every use that saw it."""
    data = np.arange(24.0).reshape(4, 6)
    x = Tensor(data, requires_grad=True)
    a, b, c = x.split(2, dim=1)  # columns 0-1, 2-3, 4-5
    loss = (
        (a * 1.0).sum()
        + (b * 2.0).sum()
        + (c * 3.0).sum()
        + (x[:, 1:5] * 10.0).sum()  # overlaps a, b and c
        + (x[2] * 100.0).sum()  # an integer index: row 2
        + (x * x).sum()  # the whole tensor
    )
    loss.backward()
    expected = np.repeat([[1.0, 1, 2, 2, 3, 3]], 4, axis=0)
    expected[:, 1:5] += 10
    expected[2] += 100
    expected += 2 * data
    assert type(x.grad.data) is np.ndarray and x.grad.shape == (4, 6)
    np.testing.assert_array_equal(x.grad.data, expected)


def test_gradient_of_slices_in_a_recurrent_loop_matches_torch():
    """x[:, t] at each step of a recurrence (a learner's RNN): one gradient array for x."""
    rng = np.random.default_rng(0)
    B, T, D = 3, 7, 4
    x_data, w_data = rng.standard_normal((B, T, D)), rng.standard_normal((D, D)) * 0.5

    def run(lib, x, w):
        h = lib.zeros((B, D), dtype=x.dtype)
        for t in range(T):
            h = (x[:, t] @ w + h).tanh()
        return (h * h).sum()

    x, w = Tensor(x_data, requires_grad=True), Tensor(w_data, requires_grad=True)
    run(tg, x, w).backward()
    # the same loop with dense gradients: each step's slice as x times a one-hot mask
    x2, w2 = Tensor(x_data, requires_grad=True), Tensor(w_data, requires_grad=True)
    h = tg.zeros((B, D), dtype=x2.dtype)
    for t in range(T):
        mask = np.zeros((1, T, 1))
        mask[0, t, 0] = 1.0
        h = ((x2 * mask).sum(dim=1) @ w2 + h).tanh()
    (h * h).sum().backward()
    np.testing.assert_allclose(x.grad.data, x2.grad.data, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(w.grad.data, w2.grad.data, rtol=1e-13, atol=1e-14)
    if torch is not None:
        tx = torch.tensor(x_data, requires_grad=True)
        tw = torch.tensor(w_data, requires_grad=True)
        run(torch, tx, tw).backward()
        np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(w.grad.data, tw.grad.numpy(), rtol=1e-12, atol=1e-13)


def test_gradient_pieces_leave_a_shared_gradient_array_unchanged():
    """a + b hands both inputs the same array; a's slices are added to a copy of it, so b's
    gradient stays ones."""
    a = Tensor(np.zeros(5), requires_grad=True)
    b = Tensor(np.zeros(5), requires_grad=True)
    loss = (a + b).sum() + (a[1:3] * 4.0).sum() + (a[:2] * 2.0).sum()
    loss.backward()
    np.testing.assert_array_equal(b.grad.data, np.ones(5))
    np.testing.assert_array_equal(a.grad.data, [3.0, 7.0, 5.0, 1.0, 1.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_gradient_pieces_keep_the_dtype_and_reach_hooks_grad_and_retain_grad_whole(dtype):
    x = Tensor(np.ones((3, 4), dtype=dtype), requires_grad=True)
    y = x * 2.0
    y.retain_grad()
    seen = []
    y.register_hook(lambda g: seen.append((type(g.data), g.shape, g.dtype)))
    first, second = y.split([1, 3], dim=1)
    loss = (first * 3.0).sum() + second.sum()
    (grad_x,) = tg.grad(loss, [x], retain_graph=True)
    assert seen == [(np.ndarray, (3, 4), np.dtype(dtype))]
    np.testing.assert_array_equal(grad_x.data, np.tile(np.array([6.0, 2, 2, 2], dtype=dtype), (3, 1)))
    assert grad_x.dtype == dtype
    loss.backward()
    assert type(y.grad.data) is np.ndarray and y.grad.dtype == dtype
    np.testing.assert_array_equal(y.grad.data, np.tile(np.array([3.0, 1, 1, 1], dtype=dtype), (3, 1)))


def test_gradient_pieces_under_detect_anomaly_and_a_trace():
    """The debugging tools see every gradient as an array."""
    from tinygrad_edu.debug import trace_backward

    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    with tg.detect_anomaly():
        a, b = x.split([1, 2], dim=1)
        ((a * 2.0).sum() + (b * b).sum()).backward()
    np.testing.assert_array_equal(x.grad.data, [[2.0, 2, 4], [2, 8, 10]])
    x.grad = None
    a, b = x.split([1, 2], dim=1)
    trace = trace_backward((a * 2.0).sum() + (b * b).sum(), draw=False)
    np.testing.assert_array_equal(x.grad.data, [[2.0, 2, 4], [2, 8, 10]])
    pieces = [step for step in trace.steps if step.op == "Index"]
    assert len(pieces) == 2
    for step in pieces:  # what each piece sent to x: an array of x's shape
        (sent,) = step.inputs
        assert tuple(sent.grad.shape) == (2, 3)


def test_slicing_with_create_graph_gives_gradients_of_gradients():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    a, b = x.split([1, 2])
    loss = (a ** 3).sum() + (b ** 2).sum()
    (grad,) = tg.grad(loss, [x], create_graph=True)
    np.testing.assert_array_equal(grad.data, [3.0, 4.0, 6.0])
    grad.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [6.0, 2.0, 2.0])


@pytest.mark.parametrize(
    "indices",
    [
        [np.s_[:, 0:2], np.s_[:, 2:5], np.s_[:, 5:6]],  # a split: the pieces cover the axis once
        [np.s_[:, 5:6], np.s_[:, 0:2], np.s_[:, 2:5]],  # the same, used in another order
        [np.s_[0:1], np.s_[1:4]],  # along the first axis, as bare slices
        [np.s_[:, 0:2], np.s_[:, 2:5]],  # a piece unused: the last column gets nothing
        [np.s_[:, 0:3], np.s_[:, 2:6]],  # overlapping
        [np.s_[:, 0:3], np.s_[:, 0:3], np.s_[:, 3:6]],  # one slice used twice
        [np.s_[:, ::2], np.s_[:, 1::2]],  # steps
        [np.s_[..., 0:3], np.s_[..., 3:6]],  # an Ellipsis
        [np.s_[:, 0:3], np.s_[:, 3:3], np.s_[:, 3:6], np.s_[:, 6:9]],  # empty and beyond the end
        [np.s_[:, 1], np.s_[:, 0], np.s_[:, 2:6]],  # integers
    ],
)
def test_gradient_pieces_of_slices_cover_split_and_other_indices(indices):
    data = np.arange(24.0).reshape(4, 6)
    x = Tensor(data, requires_grad=True)
    loss = sum((x[index] * (k + 1.0)).sum() for k, index in enumerate(indices))
    loss.backward()
    expected = np.zeros_like(data)
    for k, index in enumerate(indices):
        expected[index] += k + 1.0
    assert x.grad.shape == data.shape and x.grad.dtype == data.dtype
    np.testing.assert_array_equal(x.grad.data, expected)


def test_gradient_pieces_of_a_zero_dimensional_tensor():
    x = Tensor(np.array(3.0), requires_grad=True)
    loss = x[()] * 2.0 + x[...] * 5.0
    loss.backward()
    assert x.grad.shape == () and x.grad.item() == 7.0


def test_gradient_pieces_take_their_input_dtype_when_a_hook_changed_it():
    """A tensor hook may return the gradient of a slice in another dtype: x's gradient is
    still x's dtype."""
    x = Tensor(np.arange(4.0, dtype=np.float32), requires_grad=True)
    head = x[:2]
    head.register_hook(lambda g: Tensor(g.data.astype(np.float64) * 3.0))
    ((head * 2.0).sum() + x[2:].sum()).backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, np.array([6.0, 6.0, 1.0, 1.0], dtype=np.float32))
