"""draw_graph: the DOT text it builds (structure, labels, golden text, determinism), its guards,
and the message when Graphviz's `dot` is missing. Rendering tests are in test_graph_render.py."""

import re
import subprocess
import sys
from pathlib import Path

import graphviz
import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.graph import Diagram, GraphvizNotFoundError, draw_graph


def scalar_neuron(backward: bool):
    """The micrograd neuron: o = tanh(x1*w1 + x2*w2 + b), with n and o named."""
    x1 = tg.Tensor(2.0, requires_grad=True, name="x1")
    x2 = tg.Tensor(0.0, requires_grad=True, name="x2")
    w1 = tg.Tensor(-3.0, requires_grad=True, name="w1")
    w2 = tg.Tensor(1.0, requires_grad=True, name="w2")
    b = tg.Tensor(6.8813735870195432, requires_grad=True, name="b")
    n = x1 * w1 + x2 * w2 + b
    n.name = "n"
    o = n.tanh()
    o.name = "o"
    if backward:
        n.retain_grad()
        o.retain_grad()
        o.backward(retain_graph=True)
    return o


def nodes(source: str) -> dict[str, str]:
    """Node name -> its attribute text, for the nodes of the graph (legend left out)."""
    found = re.findall(r"^\s*(v\d+|op\d+|m\d+) \[(.*)\]$", source, flags=re.M)
    return dict(found)


def edges(source: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(\w+) -> (\w+)$", source, flags=re.M)


def label(attributes: str) -> str:
    match = re.search(r'label=(?:"((?:[^"\\]|\\.)*)"|(\S+))', attributes)
    return match.group(1) if match.group(1) is not None else match.group(2)


# ---- the scalar neuron -----------------------------------------------------------------------


def test_neuron_has_a_node_per_value_and_per_operation():
    source = draw_graph(scalar_neuron(backward=False)).source
    found = nodes(source)
    values = [n for n in found if n.startswith("v")]
    ops = [label(found[n]) for n in found if n.startswith("op")]
    assert len(values) == 10  # x1 w1 x2 w2 b, x1*w1, x2*w2, their sum, n, o
    assert ops == ["mul", "mul", "add", "add", "tanh"]
    # two inputs into each binary operation, one into tanh, one result out of each
    assert len(edges(source)) == 4 * 2 + 1 + 5


def test_edges_follow_the_forward_pass():
    source = draw_graph(scalar_neuron(backward=False)).source
    found = nodes(source)
    by_label = {label(a).split(" | ")[0].strip("{ "): n for n, a in found.items()}
    tanh = next(n for n, a in found.items() if label(a) == "tanh")
    assert (by_label["n"], tanh) in edges(source)
    assert (tanh, by_label["o"]) in edges(source)


def test_before_backward_grad_reads_none():
    source = draw_graph(scalar_neuron(backward=False)).source
    assert "{ o | () float64 | data 0.7071 | grad None }" in source
    assert "{ x1 | () float64 | data 2.0000 | grad None }" in source
    assert "grad 0.0000" not in source


def test_after_backward_the_gradients_are_shown():
    source = draw_graph(scalar_neuron(backward=True)).source
    assert "{ o | () float64 | data 0.7071 | grad 1.0000 }" in source
    assert "{ n | () float64 | data 0.8814 | grad 0.5000 }" in source
    assert "{ x1 | () float64 | data 2.0000 | grad -1.5000 }" in source
    assert "{ w2 | () float64 | data 1.0000 | grad 0.0000 }" in source
    # an intermediate result shows the gradient that flowed through it; its .grad stays None
    # without retain_grad(), as in PyTorch
    assert "{ () float64 | data -6.0000 | grad 0.5000 }" in source


def test_before_backward_intermediate_gradients_are_none():
    source = draw_graph(scalar_neuron(backward=False)).source
    assert "{ () float64 | data -6.0000 | grad None }" in source
    assert "{ o | () float64 | data 0.7071 | grad None }" in source


# ---- roles, styles, legend ---------------------------------------------------------------------


def test_roles_look_different_and_the_legend_names_them():
    x = tg.Tensor([[1.0, 2.0]], name="x")  # data: a constant
    w = tg.Tensor([[0.5], [-1.0]], requires_grad=True, name="w")
    y = (x @ w).sum()
    found = nodes(draw_graph(y).source)
    styles = {label(attrs).split(" | ")[0].strip("{ "): attrs for attrs in found.values()}
    x_style, w_style = styles["x"], styles["w"]
    output = next(a for a in found.values() if "penwidth=2" in a)
    assert "dashed" in x_style and "grad" not in label(x_style)  # constants carry no grad
    assert "dashed" not in w_style and "grad None" in label(w_style)
    assert len({x_style.split("fillcolor=")[1][:9], w_style.split("fillcolor=")[1][:9]}) == 2
    assert "data -1.5000 | grad None" in label(output)
    legend = draw_graph(y).source.split("subgraph cluster_legend")[1]
    for text in ("input (requires grad)", "constant (no grad)", "output", "operation"):
        assert text in legend
    assert "parameter" not in legend  # only the roles that appear


def test_legend_can_be_left_out():
    assert "legend" not in draw_graph(scalar_neuron(False), legend=False).source


def test_rankdir():
    o = scalar_neuron(False)
    assert "rankdir=LR" in draw_graph(o).source
    tb = draw_graph(o, rankdir="TB").source
    assert "rankdir=TB" in tb
    # top to bottom, the fields of a record are side by side without braces
    assert 'label="o | () float64 | data 0.7071 | grad None"' in tb
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(o, rankdir="RL")


def test_large_tensors_show_shape_and_dtype_but_no_values():
    x = tg.ones(2, 3, requires_grad=True, dtype=np.float32)
    v = tg.Tensor([1.0, 2.0, 3.0], name="v")
    y = x * 2.0
    source = draw_graph([y, v], max_values=3).source
    assert "{ (2, 3) float32 }" in source
    assert "{ v | (3,) float64 | data [1.0000, 2.0000, 3.0000] }" in source
    source = draw_graph(y, max_values=6).source
    assert "data [[1.0000, 1.0000, 1.0000], [1.0000, 1.0000, 1.0000]] | grad None" in source


def test_record_characters_in_names_are_escaped():
    x = tg.Tensor(1.0, requires_grad=True, name="{a|b}<c>")
    assert r"\{a\|b\}\<c\>" in draw_graph(x * 2.0).source


def test_operations_are_named_in_lowercase():
    x = tg.Tensor(np.ones((2, 2)), requires_grad=True)
    source = draw_graph((x @ x.T).relu().sum()).source
    ops = [label(a) for n, a in nodes(source).items() if n.startswith("op")]
    assert ops == ["permute", "matmul", "relu", "sum"]


def test_a_tensor_used_twice_has_two_edges_into_the_operation():
    a = tg.Tensor(3.0, requires_grad=True, name="a")
    assert edges(draw_graph(a + a).source).count(("v0", "op0")) == 2


def test_returns_a_graphviz_digraph():
    diagram = draw_graph(scalar_neuron(False))
    assert isinstance(diagram, graphviz.Digraph)
    assert isinstance(diagram, Diagram)


# ---- golden text and determinism ----------------------------------------------------------------

GOLDEN = """\
digraph {
\tgraph [rankdir=LR]
\tnode [fontname=Helvetica fontsize=11]
\tedge [fontname=Helvetica]
\tv0 [label="{ a | () float64 | data 2.0000 | grad 3.0000 }" fillcolor="#cfe2f3" shape=record style=filled]
\tv1 [label="{ c | (2,) float64 | data [1.0000, 2.0000] }" fillcolor="#eeeeee" shape=record style="filled,dashed"]
\tv2 [label="{ (2,) float64 | data [2.0000, 4.0000] | grad [1.0000, 1.0000] }" fillcolor="#ffffff" shape=record style=filled]
\top0 [label=mul fillcolor="#fff2cc" shape=ellipse style=filled]
\tv3 [label="{ y | () float64 | data 6.0000 | grad 1.0000 }" fillcolor="#d9ead3" penwidth=2 shape=record style=filled]
\top1 [label=sum fillcolor="#fff2cc" shape=ellipse style=filled]
\tv0 -> op0
\tv1 -> op0
\top0 -> v2
\tv2 -> op1
\top1 -> v3
\tsubgraph cluster_legend {
\t\tcolor="#bbbbbb" fontname=Helvetica label=legend style=rounded
\t\tlegend_input [label="input (requires grad)" fillcolor="#cfe2f3" shape=box style=filled]
\t\tlegend_constant [label="constant (no grad)" fillcolor="#eeeeee" shape=box style="filled,dashed"]
\t\tlegend_intermediate [label="intermediate result" fillcolor="#ffffff" shape=box style=filled]
\t\tlegend_output [label=output fillcolor="#d9ead3" penwidth=2 shape=box style=filled]
\t\tlegend_operation [label=operation fillcolor="#fff2cc" shape=ellipse style=filled]
\t\tlegend_input -> legend_constant [style=invis]
\t\tlegend_constant -> legend_intermediate [style=invis]
\t\tlegend_intermediate -> legend_output [style=invis]
\t\tlegend_output -> legend_operation [style=invis]
\t}
}
"""


def small_graph():
    a = tg.Tensor(2.0, requires_grad=True, name="a")
    c = tg.Tensor([1.0, 2.0], name="c")
    y = (a * c).sum()
    y.name = "y"
    y.backward(retain_graph=True)
    return y


def test_golden_dot_text_of_a_small_graph():
    assert draw_graph(small_graph()).source == GOLDEN


def test_same_graph_same_text_twice():
    o = scalar_neuron(backward=True)
    assert draw_graph(o).source == draw_graph(o).source
    assert draw_graph(scalar_neuron(True)).source == draw_graph(o).source


def test_same_text_in_another_process():
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        "import test_graph as t; print(t.draw_graph(t.small_graph()).source, end='')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout == GOLDEN


def test_no_object_ids_in_the_text():
    o = scalar_neuron(False)
    source = draw_graph(o).source
    assert str(id(o)) not in source
    assert not re.search(r"\d{7,}", source)


# ---- size guard ----------------------------------------------------------------------------------


def test_max_nodes_refuses_a_large_graph_with_advice():
    x = tg.Tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(10):
        y = y * 1.5
    draw_graph(y, max_nodes=21)  # 11 values and 10 operations
    with pytest.raises(ValueError, match=r"21 nodes.*max_nodes=20.*collapse_modules=True"):
        draw_graph(y, max_nodes=20)


def test_a_graph_of_100000_nodes_is_refused_without_recursion_error():
    x = tg.Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(50_000):
        y = y * 1.0
    with pytest.raises(ValueError, match=r"100001 nodes"):
        draw_graph(y)


# ---- Graphviz missing ---------------------------------------------------------------------------


@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    """A PATH on which Graphviz's programs cannot be found."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def assert_install_message(error: Exception):
    message = str(error)
    for line in ("apt install graphviz", "brew install graphviz", "conda install graphviz"):
        assert line in message
    # code that catches graphviz's own exception catches this one too
    assert isinstance(error, graphviz.ExecutableNotFound)


def test_without_dot_building_works_and_rendering_says_how_to_install(no_dot, tmp_path):
    diagram = draw_graph(scalar_neuron(True))
    assert "tanh" in diagram.source
    with pytest.raises(GraphvizNotFoundError) as error:
        diagram.pipe(format="svg")
    assert_install_message(error.value)
    with pytest.raises(GraphvizNotFoundError) as error:
        diagram.render(tmp_path / "neuron", format="png")
    assert_install_message(error.value)


def test_without_dot_jupyter_display_says_how_to_install(no_dot):
    with pytest.raises(GraphvizNotFoundError) as error:
        draw_graph(scalar_neuron(False))._repr_mimebundle_()
    assert_install_message(error.value)
