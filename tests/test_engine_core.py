"""The core's shape: a layered package without import cycles, graphviz only for drawings, the
graph kept (and drawable) after backward without keeping activations, and the one backward
contract for saved values."""

import ast
import contextlib
import gc
import json
import os
import platform
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import nn

PACKAGE = Path(tg.__file__).parent


# ---- the import graph --------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """The package modules an ``from ... import ...`` statement imports."""
    if node.level == 0:
        base = node.module or ""
    else:
        parts = module.split(".")
        if not is_package:
            parts = parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    if not base.startswith("tinygrad_edu"):
        return []
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def _imported_modules(targets: list[str], modules: dict) -> set[str]:
    """``from . import a, b`` imports the modules a and b; ``from .a import f`` the module a."""
    submodules = {t for t in targets[:-1] if t in modules}
    return submodules or ({targets[-1]} & set(modules))


def _package_imports() -> dict[str, tuple[set[str], list[tuple[int, str]]]]:
    """For every module: the package modules it imports, and any import statement that is not
    at the top of the file (inside a function, or after the first definition)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    found = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        imported: set[str] = set()
        misplaced: list[tuple[int, str]] = []
        seen_definition = False
        # imports under `if TYPE_CHECKING:` count too: they are edges of the graph all the same
        statements = [
            inner
            for statement in tree.body
            for inner in (statement.body if isinstance(statement, ast.If) else [statement])
        ]
        for statement in statements:
            if isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
                seen_definition = True
            if isinstance(statement, ast.ImportFrom):
                targets = _resolve(name, path.name == "__init__.py", statement)
                if targets:
                    imported |= _imported_modules(targets, modules)
                if targets and seen_definition:
                    misplaced.append((statement.lineno, "after the first definition"))
            elif isinstance(statement, ast.Import) and seen_definition:
                misplaced.append((statement.lineno, "after the first definition"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    # optional dependencies (graphviz, tqdm) are imported where they are used;
                    # the package's own modules never are
                    if isinstance(inner, ast.ImportFrom) and _resolve(name, False, inner):
                        misplaced.append((inner.lineno, f"inside {node.name}()"))
                    if isinstance(inner, ast.Import) and any(
                        a.name.startswith("tinygrad_edu") for a in inner.names
                    ):
                        misplaced.append((inner.lineno, f"inside {node.name}()"))
        found[name] = (imported - {name}, misplaced)
    return found


def test_the_package_import_graph_has_no_cycle():
    graph = {name: deps for name, (deps, _) in _package_imports().items()}
    state: dict[str, str] = {}

    def visit(start: str) -> None:  # iterative depth-first search, reporting a cycle's path
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = "open"
        while stack:
            name, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[name] = "done"
                stack.pop()
                path.pop()
                continue
            if state.get(child) == "open":
                cycle = path[path.index(child) :] + [child]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if child not in state:
                state[child] = "open"
                path.append(child)
                stack.append((child, iter(sorted(graph[child]))))

    for name in sorted(graph):
        if name not in state:
            visit(name)
    # the engine's layers import only downwards
    assert graph["tinygrad_edu.grad_mode"] == set()
    assert graph["tinygrad_edu.autograd"] == {"tinygrad_edu.grad_mode"}
    assert graph["tinygrad_edu.ops"] == {"tinygrad_edu.autograd"}
    assert {"tinygrad_edu.autograd", "tinygrad_edu.ops"} <= graph["tinygrad_edu.tensor"]


def test_no_import_is_hidden_inside_a_function_or_at_the_bottom_of_a_file():
    misplaced = {
        name: places for name, (_, places) in _package_imports().items() if places
    }
    assert misplaced == {}


def test_the_debugging_tools_use_nothing_private_of_the_drawing_module():
    for path in (PACKAGE / "debug").glob("*.py"):
        assert "graph._" not in path.read_text(), path.name


# ---- graphviz only when drawing ------------------------------------------------------------------

WITHOUT_GRAPHVIZ = """
import sys
sys.modules["graphviz"] = None  # any `import graphviz` now raises ImportError
import tinygrad_edu as tg
x = tg.Tensor(2.0, requires_grad=True)
y = (x * x).tanh()
y.backward()
print("imported", x.grad.item())
try:
    tg.draw_graph(y)
except ImportError as error:
    print("error:", error)
"""


def test_import_works_without_graphviz_and_drawing_says_how_to_install():
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_GRAPHVIZ], capture_output=True, text=True, check=True
    )
    lines = result.stdout.splitlines()
    assert lines[0].startswith("imported ")
    assert lines[1].startswith("error: ") and "pip install graphviz" in lines[1]
    assert "apt install graphviz" in lines[1]


# ---- the graph after backward --------------------------------------------------------------------


def test_the_micrograd_lecture_flow_draws_data_and_gradients_after_backward():
    x1 = tg.Tensor(2.0, requires_grad=True, name="x1")
    x2 = tg.Tensor(0.0, requires_grad=True, name="x2")
    w1 = tg.Tensor(-3.0, requires_grad=True, name="w1")
    w2 = tg.Tensor(1.0, requires_grad=True, name="w2")
    b = tg.Tensor(6.8813735870195432, requires_grad=True, name="b")
    n = x1 * w1 + x2 * w2 + b
    n.name = "n"
    o = n.tanh()
    o.name = "o"
    o.backward()  # an ordinary backward: the graph is freed, but stays drawable
    source = tg.draw_graph(o).source
    assert "{ o | () float64 | data 0.7071 | grad 1.0000 }" in source
    assert "{ n | () float64 | data 0.8814 | grad 0.5000 }" in source
    assert "{ x1 | () float64 | data 2.0000 | grad -1.5000 }" in source
    assert "{ w1 | () float64 | data -3.0000 | grad 1.0000 }" in source
    assert "{ () float64 | data -6.0000 | grad 0.5000 }" in source  # x1*w1
    assert source.count("grad None") == 0
    assert n.grad is None and o.grad is None  # as in PyTorch: no .grad without retain_grad()
    with pytest.raises(RuntimeError, match="retain_graph"):
        o.backward()


def test_an_mlp_is_drawn_with_module_clusters_after_an_ordinary_backward():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 64), nn.Tanh(), nn.Linear(64, 1))
    x = tg.randn(32, 3)
    loss = (model(x) ** 2).mean()
    loss.backward()
    source = tg.draw_graph(loss, model).source
    assert 'label="0: Linear"' in source and 'label="2: Linear"' in source
    assert 'label="1: Tanh"' in source
    assert "0.weight | (64, 3) float64" in source and "2.bias | (1,) float64" in source
    # the (32, 64) activations are freed: drawn from their shape alone
    assert "(32, 64) float64" in source
    collapsed = tg.draw_graph(loss, model, collapse_modules=True).source
    assert collapsed.count("shape=record style=\"filled,rounded\"") == 3


def test_losses_kept_in_a_list_do_not_keep_the_activations():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU())
    opt = tg.optim.SGD(model.parameters(), lr=1e-3)
    losses = []

    def step() -> None:
        x = tg.randn(256, 256)  # each activation is 512 KiB
        loss = (model(x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)

    tracemalloc.start()  # before the first step, so that the gradients are traced from the start
    try:
        for _ in range(3):
            step()
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(20):
            step()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    per_step = grown / 20
    assert per_step < 8 * 1024, f"{per_step:.0f} bytes per kept loss"
    assert losses[-1].grad_fn is not None  # the graph itself is kept, and drawable
    assert "relu" in tg.draw_graph(losses[-1], model).source


def test_small_values_stay_whole_and_large_ones_are_freed_to_their_shape():
    w = tg.Tensor(np.ones((4, 5)), requires_grad=True)
    x = tg.Tensor(np.ones((5, 6)))  # a constant of 30 elements
    h = w @ x
    small = h.sum(axis=1)
    loss = (small * small).sum()
    loss.backward()
    matmul = h.grad_fn
    assert matmul.parents[0] is w  # a parameter is the user's own: kept
    freed = matmul.parents[1]
    assert isinstance(freed, tg.autograd.FreedValue) and freed.data is None
    assert freed.shape == (5, 6) and freed.dtype == np.float64
    assert small.grad_fn.parents[0] is not h  # h has 24 elements: freed too
    square = loss.grad_fn.parents[0]
    assert square.grad_fn.parents[0] is small  # 4 elements: kept, values and all
    np.testing.assert_array_equal(small.grad_fn.grad_output, 2 * small.data)


# ---- one backward contract -----------------------------------------------------------------------


class SavesAnIntermediate(tg.Function):
    """x^3, saving x^2 (computed in forward) instead of x: a second derivative through it
    would treat x^2 as a constant."""

    @staticmethod
    def forward(ctx, x):
        square = x * x
        ctx.save_for_backward(square)
        return square * x

    @staticmethod
    def backward(ctx, grad):
        (square,) = ctx.saved_tensors
        return 3 * grad * square


class SavesItsInput(tg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3 * grad * x * x


def test_create_graph_through_a_saved_intermediate_is_an_error():
    x = tg.Tensor([0.5, -1.5], requires_grad=True)
    SavesAnIntermediate.apply(x).sum().backward()  # first derivatives are fine
    np.testing.assert_allclose(x.grad.data, 3 * x.data**2)
    y = SavesAnIntermediate.apply(x).sum()
    with pytest.raises(RuntimeError, match=r"SavesAnIntermediate.*save_for_backward"):
        tg.grad(y, x, create_graph=True)


def test_create_graph_through_saved_inputs_gives_the_second_derivative():
    x = tg.Tensor([0.5, -1.5], requires_grad=True)
    (dx,) = tg.grad(SavesItsInput.apply(x).sum(), x, create_graph=True)
    (ddx,) = tg.grad(dx.sum(), x)
    np.testing.assert_allclose(ddx.data, 6 * x.data)
    assert tg.gradgradcheck(SavesItsInput.apply, [tg.Tensor([0.3, 0.7], requires_grad=True)])


def test_saved_roles_survive_a_parameter_whose_data_is_rebound():
    """The saved input is known as input 0 from the moment forward returned: a parameter whose
    .data is replaced afterwards (as a 0-d optimizer step does) still gives the graph's
    tensor under create_graph, not a constant."""
    x = tg.Tensor(0.5, requires_grad=True)
    y = SavesItsInput.apply(x)
    original = x.data
    x.data = np.float64(0.5)  # same value, a new object
    assert x.data is not original
    (dx,) = tg.grad(y, x, create_graph=True)
    (ddx,) = tg.grad(dx, x)
    assert ddx.item() == pytest.approx(6 * 0.5)


# ---- the allocator setting ----------------------------------------------------------------


def _settings_in_fresh_process(**environment: str) -> dict:
    code = "import json, tinygrad_edu as tg; print(json.dumps(tg.allocator.settings))"
    env = {k: v for k, v in os.environ.items() if k != "TINYGRAD_EDU_MALLOC"}
    env.update(environment)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(done.stdout)


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="mallopt is glibc's",
)
def test_import_keeps_freed_memory_for_reuse_unless_told_not_to():
    assert _settings_in_fresh_process() == {
        "trim_threshold": tg.allocator.TRIM_THRESHOLD,
        "mmap_threshold": tg.allocator.MMAP_THRESHOLD,
    }
    assert _settings_in_fresh_process(TINYGRAD_EDU_MALLOC="default") == {}


# ---- sum_axes: NumPy's sum, as a product with ones where that is faster ---------------------


@contextlib.contextmanager
def _blas_sums_for_any_size():
    """sum_axes takes its BLAS path from the smallest arrays on: the tests' arrays are small."""
    from tinygrad_edu import autograd

    smallest, autograd._SMALLEST = autograd._SMALLEST, 0
    try:
        yield
    finally:
        autograd._SMALLEST = smallest


@settings(max_examples=150, deadline=None)
@given(
    shape=st.lists(st.integers(0, 5), min_size=0, max_size=4),
    dtype=st.sampled_from([np.float32, np.float64, np.float16, np.int64]),
    data=st.data(),
)
def test_sum_axes_is_numpys_sum(shape, dtype, data):
    """Same shape, dtype and values as ``ndarray.sum`` for any axes, keepdims, dtype and
    layout (the product with ones only serves the first or last axes of float32/64)."""
    from tinygrad_edu.autograd import sum_axes

    x = np.random.default_rng(len(shape)).standard_normal(shape).astype(dtype)
    if data.draw(st.booleans()) and x.ndim >= 2:
        x = x.swapaxes(0, 1)  # not contiguous
    axes = tuple(data.draw(st.sets(st.integers(0, max(x.ndim - 1, 0)), max_size=x.ndim)))
    if data.draw(st.booleans()):
        axes = tuple(a - x.ndim for a in axes)  # negative axes
    keepdims = data.draw(st.booleans())
    with _blas_sums_for_any_size():
        got = sum_axes(x, axes, keepdims)
    expected = x.sum(axis=axes, keepdims=keepdims)
    assert np.shape(got) == np.shape(expected)
    assert np.asarray(got).dtype == np.asarray(expected).dtype
    tolerance = 1e-2 if dtype == np.float16 else 1e-5
    np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


def test_sum_axes_keeps_nans_and_infinities():
    from tinygrad_edu.autograd import sum_axes

    x = np.array([[1.0, np.inf], [np.nan, 2.0], [-np.inf, np.inf]], dtype=np.float32)
    for axes in ((0,), (1,)):
        with np.errstate(invalid="ignore"), _blas_sums_for_any_size():  # inf - inf may warn
            np.testing.assert_array_equal(sum_axes(x, axes), x.sum(axis=axes))


def test_sum_axes_leaves_long_rows_to_numpy():
    """A row longer than _LONGEST_ROW is summed pairwise by NumPy, bit for bit."""
    from tinygrad_edu.autograd import _LONGEST_ROW, sum_axes

    x = np.random.default_rng(0).standard_normal((3, _LONGEST_ROW + 1)).astype(np.float32)
    np.testing.assert_array_equal(sum_axes(x, (1,)), x.sum(axis=1))


def test_sum_axes_refuses_an_axis_given_twice_as_numpy_does():
    from tinygrad_edu.autograd import sum_axes

    x = np.ones((4, 5, 6), dtype=np.float32)
    with _blas_sums_for_any_size():
        for axes in ((0, 0), (2, -1), (1, 1, 2)):
            with pytest.raises(ValueError, match="duplicate value in 'axis'"):
                sum_axes(x, axes)
