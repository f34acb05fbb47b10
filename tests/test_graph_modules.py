"""draw_graph with nn modules: clusters by module path, parameter names, collapsing, and the
size guard on a batched MLP."""

import re
import sys
from pathlib import Path

import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.graph import draw_graph

sys.path.insert(0, str(Path(__file__).parent))
from test_graph import edges, label, nodes  # noqa: E402


def mlp_loss(sizes=(3, 4, 4, 2), batch=5):
    tg.manual_seed(0)
    model = nn.MLP(list(sizes))
    loss = (model(tg.randn(batch, sizes[0])) ** 2).mean()
    return model, loss


def clusters(source: str) -> dict[str, tuple[str, str]]:
    """Cluster name -> (its label, the name of the cluster it is nested in, "" at the top)."""
    found = {}
    open_clusters: list[str] = []
    lines = source.splitlines()
    for i, line in enumerate(lines):
        opening = re.match(r"\s*subgraph (cluster_\w+) \{", line)
        if opening:
            name = opening.group(1)
            attrs = re.search(r'label=("[^"]*"|\S+)', lines[i + 1]).group(1).strip('"')
            found[name] = (attrs, open_clusters[-1] if open_clusters else "")
            open_clusters.append(name)
        elif line.strip() == "}" and open_clusters:
            open_clusters.pop()
    return found


def cluster_of(source: str, node: str) -> str:
    """The innermost cluster a node is declared in ("" at the top)."""
    open_clusters = [""]
    for line in source.splitlines():
        opening = re.match(r"\s*subgraph (cluster_\w+) \{", line)
        if opening:
            open_clusters.append(opening.group(1))
        elif line.strip() == "}" and len(open_clusters) > 1:
            open_clusters.pop()
        elif re.match(rf"\s*{node} \[", line):
            return open_clusters[-1]
    raise AssertionError(f"{node} not found")


def named(source: str, name: str) -> str:
    """The node whose record starts with ``name``."""
    for node, attrs in nodes(source).items():
        if label(attrs).strip("{ ").split(" | ")[0] == name:
            return node
    raise AssertionError(f"no node named {name}")


# ---- clusters with a model -----------------------------------------------------------------------


def test_mlp_operations_are_clustered_by_module_path():
    model, loss = mlp_loss()
    source = draw_graph(loss, model).source
    found = clusters(source)
    labels = {lab: parent for lab, parent in found.values()}
    assert set(labels) == {
        "MLP",
        "0: Linear",
        "1: ReLU",
        "2: Linear",
        "3: ReLU",
        "4: Linear",
        "legend",
    }
    root = next(name for name, (lab, _) in found.items() if lab == "MLP")
    for layer in ("0: Linear", "1: ReLU", "2: Linear", "3: ReLU", "4: Linear"):
        assert labels[layer] == root  # each layer's cluster is inside the model's
    # each Linear: one linear op (x @ W.T + b); each ReLU: relu; then pow and mean
    ops = [label(a) for n, a in nodes(source).items() if n.startswith("op")]
    assert sorted(ops) == sorted(["linear"] * 3 + ["relu"] * 2 + ["pow", "mean"])
    relu = next(n for n, a in nodes(source).items() if label(a) == "relu")
    assert found[cluster_of(source, relu)][0] in ("1: ReLU", "3: ReLU")
    # the loss is computed outside the model
    mean = next(n for n, a in nodes(source).items() if label(a) == "mean")
    assert cluster_of(source, mean) == ""


def test_parameters_are_named_by_path_and_sit_in_their_module():
    model, loss = mlp_loss()
    source = draw_graph(loss, model).source
    found = clusters(source)
    for name, _ in model.named_parameters():
        node = named(source, name)
        layer = name.split(".")[0]
        assert found[cluster_of(source, node)][0].startswith(f"{layer}: Linear")
        assert "#fce5cd" in nodes(source)[node]  # the parameter colour
    assert "{ 0.weight | (4, 3) float64 }" in source  # 12 elements: no values shown
    assert "parameter" in source.split("cluster_legend")[1]


def test_gradients_of_parameters_after_backward():
    model, loss = mlp_loss(sizes=(2, 2), batch=1)
    loss.backward(retain_graph=True)
    source = draw_graph(loss, model).source
    grad = model[0].bias.grad.data
    assert f"{{ 0.bias | (2,) float64 | data [{model[0].bias.data[0]:.4f}, " in source
    assert f"grad [{grad[0]:.4f}, {grad[1]:.4f}] }}" in source


# ---- clusters without a model --------------------------------------------------------------------


def test_without_model_clusters_use_class_names_and_parameters_their_names():
    model, loss = mlp_loss()
    model[2].weight.name = "W2"
    source = draw_graph(loss).source
    cluster_labels = [lab for lab, _ in clusters(source).values()]
    assert cluster_labels.count("Linear") == 3 and cluster_labels.count("ReLU") == 2
    assert named(source, "W2")  # a parameter's own name
    assert named(source, "bias")  # otherwise its attribute name
    assert "0.weight" not in source
    assert "#fce5cd" in nodes(source)[named(source, "W2")]


def test_a_module_called_inside_another_module():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(3, 2)
            self.scale = nn.Parameter(tg.ones(2))

        def forward(self, x):
            return (self.hidden(x).tanh() * self.scale).sum()

    tg.manual_seed(0)
    net = Net()
    y = net(tg.randn(1, 3))
    source = draw_graph(y, net).source
    found = clusters(source)
    assert {lab for lab, _ in found.values()} == {"Net", "hidden: Linear", "legend"}
    assert found[cluster_of(source, named(source, "hidden.weight"))][0] == "hidden: Linear"
    assert found[cluster_of(source, named(source, "scale"))][0] == "Net"
    collapsed = draw_graph(y, net, collapse_modules=True).source
    modules = sorted(label(a) for n, a in nodes(collapsed).items() if n.startswith("m"))
    assert modules == [
        "Net | scale (2,) float64",
        "hidden: Linear | weight (2, 3) float64 | bias (2,) float64",
    ]


# ---- collapsing and the size guard ---------------------------------------------------------------


def test_collapsed_mlp_is_one_node_per_module_call():
    model, loss = mlp_loss(sizes=(2, 64, 64, 64, 1), batch=32)
    source = draw_graph(loss, model, collapse_modules=True).source
    found = nodes(source)
    modules = [label(found[n]) for n in found if n.startswith("m")]
    assert modules == [
        "0: Linear | weight (64, 2) float64 | bias (64,) float64",
        "1: ReLU",
        "2: Linear | weight (64, 64) float64 | bias (64,) float64",
        "3: ReLU",
        "4: Linear | weight (64, 64) float64 | bias (64,) float64",
        "5: ReLU",
        "6: Linear | weight (1, 64) float64 | bias (1,) float64",
    ]
    ops = [label(found[n]) for n in found if n.startswith("op")]
    assert ops == ["pow", "mean"]  # the loss, outside the model
    # the input, the 7 activations between the modules, and the loss's 2 results
    assert len([n for n in found if n.startswith("v")]) == 1 + 7 + 2
    # a chain: one edge into and one out of each node
    assert len(edges(source)) == 2 * (7 + 2)
    assert "{ (32, 2) float64 }" in source
    # the modules stay inside the model's cluster
    assert [lab for lab, _ in clusters(source).values()] == ["MLP", "legend"]
    assert "module (collapsed)" in source


def test_max_nodes_suggests_collapsing_a_large_mlp():
    model, loss = mlp_loss(sizes=(2, 64, 64, 64, 1), batch=32)
    with pytest.raises(ValueError, match=r"has 27 nodes.*max_nodes=25.*collapse_modules=True"):
        draw_graph(loss, model, max_nodes=25)
    draw_graph(loss, model, max_nodes=25, collapse_modules=True)
    with pytest.raises(ValueError, match=r"has 19 nodes") as error:
        draw_graph(loss, model, max_nodes=18, collapse_modules=True)
    assert "collapse_modules=True" not in str(error.value)


def test_module_drawings_are_deterministic():
    first, second = mlp_loss(), mlp_loss()
    for collapse in (False, True):
        text = draw_graph(first[1], first[0], collapse_modules=collapse).source
        assert text == draw_graph(first[1], first[0], collapse_modules=collapse).source
        assert text == draw_graph(second[1], second[0], collapse_modules=collapse).source
