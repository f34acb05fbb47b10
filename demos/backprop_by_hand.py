"""Backpropagation by hand next to the engine's: the 2-2-1 network of the 001 article, section 3.4.

Two inputs x1, x2; two hidden neurons with ReLU; one output neuron with a sigmoid; binary
cross-entropy for one example with label y. Written neuron by neuron on 0-d tensors:

    z1 = w11*x1 + w12*x2 + b1        h1 = relu(z1)
    z2 = w21*x1 + w22*x2 + b2        h2 = relu(z2)
    z3 = w31*h1 + w32*h2 + b3        a  = sigmoid(z3)
    L  = -(y*log(a) + (1 - y)*log(1 - a))

The engine computes every gradient with ``L.backward()``; the article derives them on paper
with the chain rule. Its closed forms (written out below in ``closed_form``) are

    dL/dz3 = a - y                         (sigmoid and cross-entropy simplify together)
    dL/dw3i = (a - y) * hi                 dL/db3 = a - y
    dL/dhi = (a - y) * w3i
    dL/dzi = dL/dhi * [zi > 0]             (ReLU passes the gradient only where it is active)
    dL/dwij = dL/dzi * xj                  dL/dbi = dL/dzi

The article gives no numbers, so the values below are chosen: hidden neuron 1 is active and
hidden neuron 2 is not, which shows ReLU's gate at work. The demo prints both columns, checks
that they are equal to float64 rounding, takes one gradient-descent step (w_new = w_old - lr *
dL/dw, lr = 0.1) and draws the graph with every gradient in it.

    python demos/backprop_by_hand.py            # writes docs/images/backprop_by_hand.svg/.png
"""

from __future__ import annotations

import math

import _common

import tinygrad_edu as tg

# The example: inputs, label, and the network's starting weights (chosen; see above).
INPUTS = {"x1": 1.0, "x2": 2.0}
LABEL = 1.0
WEIGHTS = {
    "w11": 0.3, "w12": 0.2, "b1": 0.1,  # hidden neuron 1: z1 = 0.8 > 0, active
    "w21": -0.5, "w22": 0.1, "b2": 0.05,  # hidden neuron 2: z2 = -0.25 < 0, switched off
    "w31": 0.7, "w32": -0.6, "b3": -0.1,  # output neuron
}  # fmt: skip
LEARNING_RATE = 0.1
TOLERANCE = 1e-12  # "equal": the two columns may differ only by float64 rounding


def build_network() -> dict[str, tg.Tensor]:
    """The forward pass on 0-d tensors, every value named as in the derivation."""
    t = {name: tg.Tensor(value, name=name) for name, value in INPUTS.items()}
    t["y"] = tg.Tensor(LABEL, name="y")
    for name, value in WEIGHTS.items():
        t[name] = tg.Tensor(value, requires_grad=True, name=name)

    t["z1"] = t["w11"] * t["x1"] + t["w12"] * t["x2"] + t["b1"]
    t["z2"] = t["w21"] * t["x1"] + t["w22"] * t["x2"] + t["b2"]
    t["h1"] = t["z1"].relu()
    t["h2"] = t["z2"].relu()
    t["z3"] = t["w31"] * t["h1"] + t["w32"] * t["h2"] + t["b3"]
    t["a"] = t["z3"].sigmoid()
    y, a = t["y"], t["a"]
    t["L"] = -(y * a.log() + (1 - y) * (1 - a).log())

    for name in ("z1", "z2", "h1", "h2", "z3", "a", "L"):
        t[name].name = name
    return t


def engine_pass() -> tuple[tg.Tensor, dict[str, tg.Tensor]]:
    """Forward, then ``backward``; returns the loss and every named tensor."""
    t = build_network()
    for name in ("z1", "z2", "h1", "h2", "z3", "a", "L"):
        t[name].retain_grad()  # leaves keep their .grad; intermediate results only when asked
    t["L"].backward()  # the graph stays drawable afterwards
    return t["L"], t


def closed_form() -> tuple[dict[str, float], dict[str, float]]:
    """The article's derivation, in plain Python floats: forward values and dL/d(each)."""
    x1, x2, y = INPUTS["x1"], INPUTS["x2"], LABEL
    w = WEIGHTS
    v = {}
    v["z1"] = w["w11"] * x1 + w["w12"] * x2 + w["b1"]
    v["z2"] = w["w21"] * x1 + w["w22"] * x2 + w["b2"]
    v["h1"] = max(0.0, v["z1"])
    v["h2"] = max(0.0, v["z2"])
    v["z3"] = w["w31"] * v["h1"] + w["w32"] * v["h2"] + w["b3"]
    v["a"] = 1 / (1 + math.exp(-v["z3"]))
    a = v["a"]
    v["L"] = -(y * math.log(a) + (1 - y) * math.log(1 - a))

    g = {"L": 1.0}
    g["a"] = -(y / a) + (1 - y) / (1 - a)
    g["z3"] = a - y
    g["w31"] = g["z3"] * v["h1"]
    g["w32"] = g["z3"] * v["h2"]
    g["b3"] = g["z3"]
    g["h1"] = g["z3"] * w["w31"]
    g["h2"] = g["z3"] * w["w32"]
    g["z1"] = g["h1"] * (1.0 if v["z1"] > 0 else 0.0)
    g["z2"] = g["h2"] * (1.0 if v["z2"] > 0 else 0.0)
    g["w11"], g["w12"], g["b1"] = g["z1"] * x1, g["z1"] * x2, g["z1"]
    g["w21"], g["w22"], g["b2"] = g["z2"] * x1, g["z2"] * x2, g["z2"]
    return v, g


# How each closed form reads, for the printed table.
FORMULAS = {
    "z1": "w11*x1 + w12*x2 + b1", "z2": "w21*x1 + w22*x2 + b2",
    "h1": "max(0, z1)", "h2": "max(0, z2)",
    "z3": "w31*h1 + w32*h2 + b3", "a": "1 / (1 + exp(-z3))",
    "L": "-(y log a + (1-y) log(1-a))",
    "dL/da": "-y/a + (1-y)/(1-a)", "dL/dz3": "a - y",
    "dL/dw31": "(a - y) * h1", "dL/dw32": "(a - y) * h2", "dL/db3": "a - y",
    "dL/dh1": "(a - y) * w31", "dL/dh2": "(a - y) * w32",
    "dL/dz1": "dL/dh1 * [z1 > 0]", "dL/dz2": "dL/dh2 * [z2 > 0]",
    "dL/dw11": "dL/dz1 * x1", "dL/dw12": "dL/dz1 * x2", "dL/db1": "dL/dz1",
    "dL/dw21": "dL/dz2 * x1", "dL/dw22": "dL/dz2 * x2", "dL/db2": "dL/dz2",
}  # fmt: skip

FORWARD_ORDER = ["z1", "h1", "z2", "h2", "z3", "a", "L"]
GRADIENT_ORDER = ["a", "z3", "w31", "w32", "b3", "h1", "h2", "z1", "z2",
                  "w11", "w12", "b1", "w21", "w22", "b2"]  # fmt: skip


def compare() -> tuple[list[tuple[str, float, float]], tg.Tensor, dict[str, tg.Tensor]]:
    """Rows (quantity, engine, closed form) for every forward value and every gradient."""
    loss, t = engine_pass()
    values, grads = closed_form()
    rows = [(name, t[name].item(), values[name]) for name in FORWARD_ORDER]
    rows += [(f"dL/d{name}", t[name].grad.item(), grads[name]) for name in GRADIENT_ORDER]
    return rows, loss, t


def gradient_step(t: dict[str, tg.Tensor]) -> float:
    """One step of gradient descent on the weights; returns the loss afterwards."""
    w = {name: t[name].item() - LEARNING_RATE * t[name].grad.item() for name in WEIGHTS}
    x1, x2, y = INPUTS["x1"], INPUTS["x2"], LABEL
    h1 = max(0.0, w["w11"] * x1 + w["w12"] * x2 + w["b1"])
    h2 = max(0.0, w["w21"] * x1 + w["w22"] * x2 + w["b2"])
    a = 1 / (1 + math.exp(-(w["w31"] * h1 + w["w32"] * h2 + w["b3"])))
    return -(y * math.log(a) + (1 - y) * math.log(1 - a))


def main(argv: list[str] | None = None) -> dict:
    args = _common.parser(__doc__, _common.IMAGES).parse_args(argv)
    rows, loss, t = compare()

    print(f"inputs x1 = {INPUTS['x1']}, x2 = {INPUTS['x2']}, label y = {LABEL}")
    print("weights " + ", ".join(f"{k} = {v}" for k, v in WEIGHTS.items()))
    print()
    print(f"{'quantity':<9} {'engine':>20} {'closed form':>20}  closed form of the article")
    for name, engine, hand in rows:
        formula = FORMULAS.get(name, "")
        print(f"{name:<9} {engine + 0.0:>20.15f} {hand + 0.0:>20.15f}  {formula}")  # +0.0: no "-0"
    worst = max(abs(engine - hand) for _, engine, hand in rows)
    all_equal = worst <= TOLERANCE
    print(f"\nlargest difference {worst:.1e}: all equal to float64 rounding: {all_equal}")
    if not all_equal:
        raise AssertionError(f"engine and closed form differ by {worst:.3e}")

    loss_after = gradient_step(t)
    print(
        f"one step of gradient descent (lr {LEARNING_RATE}): "
        f"loss {loss.item():.6f} -> {loss_after:.6f}"
    )

    diagram = tg.draw_graph(loss)
    written = _common.save_diagram(diagram, args.out / "backprop_by_hand")
    return {
        "rows": rows,
        "worst_difference": worst,
        "all_equal": all_equal,
        "loss_before": loss.item(),
        "loss_after": loss_after,
        "files": written,
    }


if __name__ == "__main__":
    main()
