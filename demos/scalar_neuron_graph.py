"""The graph of a single neuron of scalars, drawn after backward with every gradient in it.

A neuron with two inputs computes ``o = tanh(x1*w1 + x2*w2 + b)``. The bias is chosen so that
``n = 0.8814`` and ``o = tanh(n) = 0.7071``; backward then gives ``do/dn = 1 - o**2 = 0.5``,
and the picture shows how that 0.5 flows back through the additions unchanged and through each
multiplication scaled by the other factor.

    python demos/scalar_neuron_graph.py                # writes docs/images/neuron.svg and .png
    python demos/scalar_neuron_graph.py --out /tmp/pictures
"""

from __future__ import annotations

import argparse
from pathlib import Path

import tinygrad_edu as tg

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"


def neuron() -> tg.Tensor:
    """Forward and backward through the neuron; returns the output ``o``."""
    x1 = tg.Tensor(2.0, requires_grad=True, name="x1")
    x2 = tg.Tensor(0.0, requires_grad=True, name="x2")
    w1 = tg.Tensor(-3.0, requires_grad=True, name="w1")
    w2 = tg.Tensor(1.0, requires_grad=True, name="w2")
    b = tg.Tensor(6.8813735870195432, requires_grad=True, name="b")
    x1w1 = x1 * w1
    x2w2 = x2 * w2
    x1w1x2w2 = x1w1 + x2w2
    n = x1w1x2w2 + b
    o = n.tanh()
    for tensor, name in [(x1w1, "x1*w1"), (x2w2, "x2*w2"), (x1w1x2w2, "x1*w1 + x2*w2")]:
        tensor.name = name
    n.name, o.name = "n", "o"
    # After backward the graph is still there to draw, each value with the gradient that
    # flowed through it (as micrograd's lecture shows it).
    o.backward()
    return o


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=IMAGES, help="folder for neuron.svg/.png")
    parser.add_argument("--quick", action="store_true", help="accepted for uniformity")
    args = parser.parse_args(argv)
    diagram = tg.draw_graph(neuron())
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in ("svg", "png"):
        path = args.out / f"neuron.{fmt}"
        path.write_bytes(diagram.pipe(format=fmt))
        written.append(path)
        print("wrote", path)
    return written


if __name__ == "__main__":
    main()
