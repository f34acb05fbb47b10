"""Rendering with Graphviz's `dot`: SVG parsed as XML, PNG, the neuron demo and its committed
pictures. CI installs Graphviz, so there these tests never skip; elsewhere they skip when `dot`
is missing."""

import importlib.util
import os
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tinygrad_edu.graph import draw_graph

sys.path.insert(0, str(Path(__file__).parent))
from test_graph import scalar_neuron  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"

if shutil.which("dot") is None and not os.environ.get("CI"):
    pytest.skip("Graphviz's dot is not installed", allow_module_level=True)


def svg_groups(svg: str) -> dict[str, list[str]]:
    """The titles of the SVG's groups, by class (node, edge, cluster)."""
    groups: dict[str, list[str]] = {}
    for group in ET.fromstring(svg).iter(f"{SVG}g"):
        title = group.find(f"{SVG}title")
        groups.setdefault(group.get("class"), []).append(title.text if title is not None else "")
    return groups


def test_neuron_svg_has_a_group_per_node_and_edge():
    svg = draw_graph(scalar_neuron(backward=True)).pipe(format="svg", encoding="utf-8")
    groups = svg_groups(svg)
    names = groups["node"]
    assert sorted(n for n in names if n.startswith("v")) == sorted(f"v{i}" for i in range(10))
    assert sorted(n for n in names if n.startswith("op")) == [f"op{i}" for i in range(5)]
    assert len([n for n in names if n.startswith("legend_")]) == 4
    assert len(groups["edge"]) == 14  # the legend's invisible edges are not drawn
    assert groups["cluster"] == ["cluster_legend"]
    text = "".join(ET.fromstring(svg).itertext())
    assert "data 0.7071" in text and "grad 1.0000" in text


def test_mlp_svg_has_its_module_clusters():
    from test_graph_modules import mlp_loss

    model, loss = mlp_loss(sizes=(2, 64, 64, 64, 1), batch=32)
    groups = svg_groups(draw_graph(loss, model).pipe(format="svg", encoding="utf-8"))
    assert len([n for n in groups["node"] if not n.startswith("legend_")]) == 27
    assert len(groups["cluster"]) == 1 + 7 + 1  # the model, its 7 layers, the legend
    collapsed = draw_graph(loss, model, collapse_modules=True).pipe(format="svg", encoding="utf-8")
    groups = svg_groups(collapsed)
    names = [n for n in groups["node"] if not n.startswith("legend_")]
    assert len(names) == 19 and len([n for n in names if n.startswith("m")]) == 7
    assert groups["cluster"] == ["cluster_0", "cluster_legend"]
    assert len(groups["edge"]) == 18


def test_png_rendering():
    png = draw_graph(scalar_neuron(backward=False)).pipe(format="png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_jupyter_shows_the_svg():
    shown = draw_graph(scalar_neuron(backward=False))._repr_mimebundle_()
    ET.fromstring(shown["image/svg+xml"])


def test_render_writes_a_file(tmp_path):
    path = draw_graph(scalar_neuron(backward=False)).render(tmp_path / "neuron", format="svg")
    assert Path(path).suffix == ".svg"
    ET.parse(path)


def load_demo():
    path = ROOT / "demos" / "scalar_neuron_graph.py"
    spec = importlib.util.spec_from_file_location("scalar_neuron_graph", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_neuron_demo_writes_svg_and_png(tmp_path, capsys):
    written = load_demo().main(["--out", str(tmp_path)])
    assert [p.name for p in written] == ["neuron.svg", "neuron.png"]
    groups = svg_groups((tmp_path / "neuron.svg").read_text())
    assert len([n for n in groups["node"] if not n.startswith("legend_")]) == 15
    assert (tmp_path / "neuron.png").read_bytes().startswith(b"\x89PNG")
    assert "neuron.png" in capsys.readouterr().out


def test_committed_neuron_pictures_show_the_gradients():
    """docs/images/neuron.svg is the demo's output (regenerate with the demo after a change
    of the drawing)."""
    svg = (ROOT / "docs" / "images" / "neuron.svg").read_text()
    text = "".join(ET.fromstring(svg).itertext())
    for field in ("x1*w1 + x2*w2", "data 0.8814", "grad 0.5000", "data 0.7071", "grad 1.0000"):
        assert field in text
    assert (ROOT / "docs" / "images" / "neuron.png").read_bytes().startswith(b"\x89PNG")
