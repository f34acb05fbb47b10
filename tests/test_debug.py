"""The debugging tools: trace_backward, gradcheck_graph, detect_anomaly, record_origins."""

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from _demos import load_demo

import tinygrad_edu as tg
import tinygrad_edu.nn.functional as F
from tinygrad_edu import autograd, nn

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")


def line_of(marker: str) -> int:
    """The line of this file that holds ``marker`` (in a comment), exactly once."""
    lines = Path(__file__).read_text().splitlines()
    found = [i + 1 for i, line in enumerate(lines) if line.rstrip().endswith(f"# {marker}")]
    assert len(found) == 1, marker
    return found[0]


# ---- the 2-2-1 network of the 001 article, section 3.4 ------------------------------------------


@pytest.fixture(scope="module")
def traced_221():
    demo = load_demo("backprop_by_hand")
    t = demo.build_network()
    trace = tg.trace_backward(t["L"])
    values, grads = demo.closed_form()
    return demo, t, trace, values, grads


def test_trace_of_the_221_network_equals_the_closed_forms(traced_221):
    demo, t, trace, values, grads = traced_221
    by_output = {step.output: step for step in trace}
    # every named intermediate: its value and the gradient arriving at it, as on paper
    for name in ("L", "a", "z3", "h1", "h2", "z1", "z2"):
        step = by_output[name]
        assert step.value.item() == pytest.approx(values[name], rel=1e-12), name
        assert step.grad_output.item() == pytest.approx(grads[name], rel=1e-12, abs=1e-15), name
    assert by_output["a"].op == "Sigmoid" and by_output["h1"].op == "ReLU"
    # the sigmoid's step sends dL/dz3 = a - y, and the ReLU that is off sends 0
    assert by_output["a"].input("z3").grad.item() == pytest.approx(values["a"] - demo.LABEL)
    assert by_output["h2"].input("z2").grad.item() == 0
    # every weight receives the closed form (once: each is used once), and .grad holds it
    for name in demo.WEIGHTS:
        sent = [s.input(name).grad.item() for s in trace if name in {i.name for i in s.inputs}]
        assert len(sent) == 1, name
        assert sent[0] == pytest.approx(grads[name], rel=1e-12, abs=1e-15), name
        assert t[name].grad.item() == pytest.approx(grads[name], rel=1e-12, abs=1e-15), name
        assert trace.leaf_grads[name].item() == t[name].grad.item()
    # constants get no gradient
    x1_rows = [s.input("x1") for s in trace if "x1" in {i.name for i in s.inputs}]
    assert x1_rows and all(row.grad is None for row in x1_rows)


def test_trace_runs_each_node_after_all_its_gradient_arrived(traced_221):
    _, _, trace, _, _ = traced_221
    assert trace[0].op == "Neg" and trace[0].output == "L"
    assert trace[0].grad_output.item() == 1.0
    received: dict[str, float] = {"L": 1.0}
    for step in trace:
        # what arrives at a node is the sum of everything sent to it by earlier steps
        assert step.grad_output.item() == pytest.approx(received.pop(step.output), abs=1e-15)
        for traced in step.inputs:
            if traced.grad is not None:
                received[traced.name] = received.get(traced.name, 0.0) + traced.grad.item()
    assert len(trace) == 22 and trace[-1].index == 22


def test_trace_prints_a_table(traced_221):
    _, _, trace, values, grads = traced_221
    text = str(trace)
    assert text.startswith("backward of L: 22 steps")
    header = text.splitlines()[2]
    for column in ("step", "operation", "dL/d(output)", "input = value", "dL/d(input)"):
        assert column in header
    sigmoid_row = next(line for line in text.splitlines() if "Sigmoid" in line)
    assert f"a = {values['a']:.6g}" in sigmoid_row
    assert f"z3 = {values['z3']:.6g}" in sigmoid_row
    assert f"{grads['z3']:.6g}" in sigmoid_row
    assert "x1 = 1" in text and "(constant: none)" in text
    assert f"w11  {grads['w11']:.6g}" in text  # the .grad section


def test_trace_keeps_only_shape_and_norm_of_big_tensors():
    x = tg.Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True, name="x")
    trace = tg.trace_backward((x * 2).sum(), draw=False)
    mul = trace[1]
    assert mul.op == "Mul"
    big = mul.input("x")
    assert big.value.values is None and big.value.shape == (3, 4)
    assert big.value.norm == pytest.approx(np.linalg.norm(np.arange(12.0)))
    assert big.grad.norm == pytest.approx(np.linalg.norm(np.full(12, 2.0)))
    assert "(3, 4) |" in str(trace)


def test_trace_names_modules_and_parameters():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    loss = model(tg.randn(4, 2)).sum()
    trace = tg.trace_backward(loss, model=model)
    modules = [s.module for s in trace]
    # backward meets the last layer first; within a layer, whatever its primitives are
    assert modules.index("2 (Linear)") < modules.index("1 (Tanh)") < modules.index("0 (Linear)")
    inputs = {i.name for s in trace if s.module == "2 (Linear)" for i in s.inputs}
    assert {"2.weight", "2.bias"} <= inputs
    assert model[0].weight.grad is not None  # .grad filled as backward fills it
    assert "Tanh in 1 (Tanh)" in str(trace)


def test_trace_frees_the_graph_unless_retain_graph():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    tg.trace_backward(y, retain_graph=True, draw=False)
    tg.trace_backward(y, draw=False)  # the graph was kept
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])  # accumulated twice
    with pytest.raises(RuntimeError, match="trace_backward: the graph was freed"):
        tg.trace_backward(y)


# ---- frames -----------------------------------------------------------------------------------

SVG = "{http://www.w3.org/2000/svg}"


def node_fills(path: Path) -> dict[str, str]:
    """Each graph node's title (its DOT name) and fill colour, read from the SVG."""
    root = ET.parse(path).getroot()
    fills = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") != "node":
            continue
        title = group.find(f"{SVG}title").text
        shape = next(e for e in group if e.tag in {f"{SVG}ellipse", f"{SVG}polygon"})
        fills[title] = shape.get("fill")
    return fills


@needs_dot
def test_frames_are_svg_with_one_more_op_highlighted_per_step(traced_221, tmp_path):
    _, _, trace, _, _ = traced_221
    paths = trace.render_frames(tmp_path)
    assert len(paths) == len(trace) + 1
    assert [p.name for p in paths[:2]] == ["step_000.svg", "step_001.svg"]
    from tinygrad_edu.debug.trace import CURRENT, DONE

    for k, path in enumerate(paths):
        fills = node_fills(path)
        ops = {name: fill for name, fill in fills.items() if name.startswith("op")}
        assert len(ops) == len(trace)  # the 22 operations are all drawn in every frame
        done = [name for name, fill in ops.items() if fill == DONE["fillcolor"]]
        current = [name for name, fill in ops.items() if fill == CURRENT["fillcolor"]]
        assert len(done) == max(k - 1, 0), k
        assert current == ([] if k == 0 else [trace[k - 1].box]), k
    # the caption says which step it is
    text = paths[8].read_text()
    assert "step 8 of 22: Sigmoid" in text


@needs_dot
def test_frames_show_the_gradient_received_so_far(traced_221, tmp_path):
    _, _, trace, _, grads = traced_221
    sigmoid = next(s for s in trace if s.op == "Sigmoid")
    frames = trace.frames()
    before = frames[sigmoid.index - 1].source
    after = frames[sigmoid.index].source
    z3_grad = f"grad {grads['z3']:.4f}"
    assert z3_grad not in before and z3_grad in after


def test_no_frames_for_a_graph_too_big_to_draw():
    x = tg.Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(300):
        y = y * 1.0
    trace = tg.trace_backward(y)
    assert len(trace) == 300
    with pytest.raises(RuntimeError, match="max_nodes"):
        trace.frames()


# ---- gradcheck_graph --------------------------------------------------------------------------


class Swish(tg.Function):
    """x * sigmoid(x), with a correct backward."""

    @staticmethod
    def forward(ctx, x):
        s = 1 / (1 + np.exp(-x))
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, grad):
        x, s = ctx.saved_tensors
        return grad * s * (1 + x * (1 - s))


class BadSwish(Swish):
    """The same forward; the backward has a sign error."""

    @staticmethod
    def backward(ctx, grad):
        x, s = ctx.saved_tensors
        return grad * s * (1 - x * (1 - s))


class SwishModule(nn.Module):
    def __init__(self, function=Swish):
        super().__init__()
        self.function = function

    def forward(self, x):
        return self.function.apply(x)  # the swish line


def mlp(function, dtype=None):
    """A 3-layer MLP with the custom activation between the 2nd and the 3rd layer."""
    tg.manual_seed(1)
    return nn.Sequential(
        nn.Linear(4, 8, dtype=dtype),
        nn.Tanh(),
        nn.Linear(8, 8, dtype=dtype),
        SwishModule(function),
        nn.Linear(8, 3, dtype=dtype),
    )


def mlp_loss(model, dtype=np.float64):
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((6, 4)).astype(dtype))
    y = tg.Tensor(np.array([0, 1, 2, 0, 1, 2]))
    return F.cross_entropy(model(x), y)


def test_gradcheck_graph_finds_the_wrong_backward_in_an_mlp():
    model = mlp(BadSwish)
    with tg.debug.record_origins():
        loss = mlp_loss(model)
    report = tg.gradcheck_graph(loss, model=model)
    assert not report.ok and not report
    assert len(report.failures) == 1  # every other operation is right
    bad = report.first_failure
    assert bad.op == "BadSwish"
    assert bad.module == "3 (SwishModule)"
    assert bad.origin.filename == __file__
    assert bad.origin.lineno == line_of("the swish line")
    assert "self.function.apply(x)" in bad.origin.line
    assert bad.input is not None and bad.analytical != pytest.approx(bad.numerical)
    text = str(report)
    assert "BadSwish" in text and "3 (SwishModule)" in text
    assert f"test_debug.py:{line_of('the swish line')}" in text
    # the graph was left as it was: backward still works
    loss.backward()
    assert model[0].weight.grad is not None


def test_gradcheck_graph_without_model_or_origins_says_how_to_get_them():
    loss = mlp_loss(mlp(BadSwish))
    bad = tg.gradcheck_graph(loss).first_failure
    assert bad.op == "BadSwish" and bad.module == "SwishModule" and bad.origin is None
    assert "record_origins" in str(bad)


def test_gradcheck_graph_passes_a_correct_mlp():
    model = mlp(Swish)
    report = tg.gradcheck_graph(mlp_loss(model), model=model)
    assert report.ok, str(report)
    assert report.first_failure is None
    assert {r.module for r in report} >= {"0 (Linear)", "2 (Linear)", "3 (SwishModule)"}
    assert {"Swish", "Tanh"} <= {r.op for r in report}
    assert all(r.checked > 0 for r in report if r.skipped is None)
    assert "every backward agrees" in str(report)


def test_gradcheck_graph_checks_a_float32_network_in_float64():
    model = mlp(BadSwish, dtype=np.float32)
    report = tg.gradcheck_graph(mlp_loss(model, np.float32), model=model)
    assert [r.op for r in report.failures] == ["BadSwish"]
    model = mlp(Swish, dtype=np.float32)
    assert tg.gradcheck_graph(mlp_loss(model, np.float32), model=model).ok


def test_gradcheck_graph_skips_kinks_instead_of_flagging_them():
    x = tg.Tensor([-1.0, 0.0, 2.0, 0.0], requires_grad=True)
    w = tg.Tensor([0.5, -1.0, 2.0, 3.0], requires_grad=True)
    loss = (x.relu() * w).sum() + x.abs().sum() + tg.maximum(x, tg.Tensor(0.0)).sum()
    report = tg.gradcheck_graph(loss)
    assert report.ok, str(report)
    relu = next(r for r in report if r.op == "ReLU")
    assert relu.kinks == 2 and relu.checked == 2


def test_gradcheck_graph_needs_the_graph():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    assert tg.gradcheck_graph(loss).ok  # after retain_graph=True the graph is still there
    loss.backward()
    with pytest.raises(RuntimeError, match=r"gradcheck_graph: the graph was freed.*retain_graph"):
        tg.gradcheck_graph(loss)


def test_gradcheck_graph_flags_a_backward_that_returns_too_few_gradients():
    class TwoInputs(tg.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, grad):
            return grad

    a = tg.Tensor([1.0, 2.0], requires_grad=True)
    report = tg.gradcheck_graph(TwoInputs.apply(a, a).sum())
    assert report.first_failure.op == "TwoInputs"
    assert "1 gradients for 2 arguments" in report.first_failure.input


# ---- detect_anomaly ---------------------------------------------------------------------------


class LogFeatures(nn.Module):
    def forward(self, x):
        return x.log()  # the log line


class NaNBackward(tg.Function):
    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, grad):
        return grad * np.nan


def log_network():
    tg.manual_seed(3)
    return nn.Sequential(nn.Linear(3, 4), LogFeatures(), nn.Linear(4, 1))


def test_anomaly_names_a_log_of_a_negative_number_in_forward():
    model = log_network()
    x = tg.randn(5, 3)
    # no warnings filter: inside detect_anomaly NumPy's warning gives way to the error
    with pytest.raises(tg.AnomalyError) as caught:
        with tg.detect_anomaly():
            model(x)
    error = caught.value
    assert (error.op, error.phase, error.kind) == ("Log", "forward", "nan")
    assert error.origin.filename == __file__ and error.origin.lineno == line_of("the log line")
    message = str(error)
    assert "Log produced nan" in message
    assert "return x.log()" in message and "in module LogFeatures" in message
    assert "input 0: shape (5, 4), values from -" in message  # the negative inputs
    assert autograd.hooks.observer is None


def test_numpy_warnings_can_be_kept():
    with pytest.raises(RuntimeWarning, match="invalid value encountered in log"):
        with tg.detect_anomaly(numpy_warnings=True):
            tg.Tensor([-1.0], requires_grad=True).log()


def test_anomaly_names_log_in_backward():
    # log(sigmoid(z)) by hand: for a very negative logit the probability underflows to a
    # subnormal number; its log is finite, but the backward of log, 1/p, overflows
    z = tg.Tensor([2.0, -740.0], requires_grad=True)
    with pytest.raises(tg.AnomalyError) as caught:
        with tg.detect_anomaly():
            p = z.sigmoid()
            loss = -p.log().sum()  # the log of p
            loss.backward()
    error = caught.value
    assert (error.op, error.phase, error.kind) == ("Log", "backward", "inf")
    assert error.origin.lineno == line_of("the log of p")
    assert "backward of Log sent inf to its input 0" in str(error)
    assert "arriving from above was finite" in str(error)
    assert z.grad is None  # the backward stopped before anything was accumulated


def test_anomaly_names_sqrt_at_zero_and_a_nan_backward_inside_a_network():
    x = tg.Tensor([[0.0, 1.0], [4.0, 9.0]], requires_grad=True)
    with pytest.raises(tg.AnomalyError) as caught:
        with tg.detect_anomaly():
            loss = x.sqrt().sum()  # the sqrt line
            loss.backward()
    assert (caught.value.op, caught.value.kind) == ("Sqrt", "inf")
    assert caught.value.origin.lineno == line_of("the sqrt line")

    model = nn.Sequential(nn.Linear(2, 2), nn.Tanh())
    with pytest.raises(tg.AnomalyError) as caught:
        with tg.detect_anomaly():
            loss = NaNBackward.apply(model(x)).sum()  # the custom op line
            loss.backward()
    assert (caught.value.op, caught.value.phase, caught.value.kind) == (
        "NaNBackward",
        "backward",
        "nan",
    )
    assert caught.value.origin.lineno == line_of("the custom op line")


def test_anomaly_for_a_graph_built_before_the_block_says_so():
    x = tg.Tensor([0.0, 1.0], requires_grad=True)
    loss = x.sqrt().sum()
    with pytest.raises(tg.AnomalyError, match="created before detect_anomaly"):
        with tg.detect_anomaly():
            loss.backward()


def test_anomaly_also_checks_operations_under_no_grad():
    with pytest.raises(tg.AnomalyError) as caught:
        with tg.detect_anomaly(), tg.no_grad():
            tg.Tensor([1.0, -1.0]).log()  # the no_grad line
    assert caught.value.op == "Log"
    assert caught.value.origin.lineno == line_of("the no_grad line")


def test_anomaly_passes_finite_work_and_works_as_a_decorator():
    @tg.detect_anomaly()
    def step(model, x):
        loss = model(x).sum()
        loss.backward()
        return loss

    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    assert np.isfinite(step(model, tg.randn(4, 3)).item())
    assert autograd.hooks.observer is None
    bad = tg.Tensor([[-1.0, 0.5, 0.5]])
    with pytest.raises(tg.AnomalyError):
        step(nn.Sequential(LogFeatures()), bad)
    assert autograd.hooks.observer is None


class Counter:
    """An observer that counts what it is shown."""

    def __init__(self):
        self.forward_calls = 0
        self.backward_calls = 0

    def forward(self, function, args, ctx, output):
        self.forward_calls += 1

    def backward(self, node, ctx, grad_output, input_grads):
        self.backward_calls += 1


def test_observers_are_removed_and_the_previous_one_restored():
    assert autograd.hooks.observer is None
    counter = Counter()
    previous = autograd.set_observer(counter)
    try:
        x = tg.Tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(tg.AnomalyError):
            with tg.detect_anomaly():
                y = (x * 2).sum()
                y.backward()
                assert autograd.hooks.observer is not counter
                (x - 3).log()
        assert autograd.hooks.observer is counter  # restored after the exception
        assert counter.forward_calls == 3 and counter.backward_calls == 2  # passed on
        with tg.debug.record_origins():
            tg.trace_backward((x * x).sum(), draw=False)
        assert autograd.hooks.observer is counter
    finally:
        autograd.set_observer(previous)
    assert autograd.hooks.observer is None


def test_origins_are_recorded_only_when_asked():
    x = tg.Tensor([1.0], requires_grad=True)
    plain = x * 2
    assert getattr(plain.grad_fn, "origin", None) is None
    with tg.debug.record_origins():
        recorded = x * 2  # the recorded line
    origin = recorded.grad_fn.origin
    assert origin.filename == __file__ and origin.lineno == line_of("the recorded line")
    assert str(origin).endswith("recorded = x * 2  # the recorded line")
    after = x * 2
    assert getattr(after.grad_fn, "origin", None) is None


def test_trace_inside_detect_anomaly_reports_origins():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    with tg.detect_anomaly():
        loss = (x * x).sum()  # the traced line
        trace = tg.trace_backward(loss, draw=False)
    assert [s.op for s in trace] == ["Sum", "Mul"]
    assert all(s.origin.lineno == line_of("the traced line") for s in trace)


def test_gradcheck_graph_passes_dropout_and_reductions():
    tg.manual_seed(4)
    model = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Dropout(0.3), nn.Linear(6, 2))
    x = tg.randn(7, 5)
    out = model(x)
    loss = out.logsumexp(axis=1).mean() + out.var() + out.max() + out.softmax(axis=0)[0, 1]
    report = tg.gradcheck_graph(loss, model=model)
    assert report.ok, str(report)
    assert len(report) > 10
