"""How fast is a Conv2d layer, forward and backward, against PyTorch's CPU convolution?

    python benchmarks/conv_speed.py            # about ten seconds
    python benchmarks/conv_speed.py --quick    # fewer repetitions

Both run in float32 on one thread (OMP/OpenBLAS/MKL set to 1 before NumPy and PyTorch are
imported, and torch.set_num_threads(1)), so the comparison is of the algorithms, not of the
core count. Each measurement is the median of many repetitions of: forward, ``out.sum()``
as the loss, backward (the gradients of weight and bias, and of the input when the layer is
not the first of its network), gradients reset between repetitions.

Beside the ratio is the time of the matrix products alone, the NumPy floor: im2col turns a
convolution into one matrix product forward and one per gradient backward, so this is what
the layer would cost if unfolding, folding and the engine were free. Then the time of the
convolution primitive's own NumPy work (``Convolution.forward`` and ``.backward`` called
directly, with the loss's sum and its gradient): the layer without the engine, its modules
and its checks, the least this design can cost.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tinygrad_edu as tg  # noqa: E402
from tinygrad_edu.nn.conv import Conv2d  # noqa: E402

# name, batch, in channels, out channels, image size, kernel, padding, input needs a gradient
CASES = [
    ("digits 1->8", 64, 1, 8, 8, 3, 1, False),
    ("digits 8->16, input grad", 64, 8, 16, 8, 3, 1, True),
    ("digits 8->16, no input grad", 64, 8, 16, 8, 3, 1, False),
    ("CIFAR 3->32", 32, 3, 32, 32, 3, 1, False),
    ("CIFAR 3->32, input grad", 32, 3, 32, 32, 3, 1, True),
]
TARGETS = {"digits": 1.0, "CIFAR": 2.0}


def median_times(steps: list[Callable[[], object]], repeats: int) -> list[float]:
    """Median wall time of each step in microseconds. The steps take turns, a few calls
    each, so that a slower or busier stretch of the machine weighs on all of them alike."""
    for step in steps:
        for _ in range(3):
            step()
    times: list[list[float]] = [[] for _ in steps]
    burst = 5
    for _ in range(max(1, repeats // burst)):
        for step, spent in zip(steps, times):
            for _ in range(burst):
                start = time.perf_counter()
                step()
                spent.append(time.perf_counter() - start)
    return [statistics.median(spent) * 1e6 for spent in times]


def ours(n: int, c: int, o: int, size: int, k: int, p: int, input_grad: bool) -> Callable:
    tg.manual_seed(0)
    layer = Conv2d(c, o, k, padding=p, dtype=np.float32)
    data = np.random.default_rng(0).standard_normal((n, c, size, size)).astype(np.float32)
    x = tg.Tensor(data, requires_grad=input_grad)

    def step() -> None:
        layer.weight.grad = layer.bias.grad = x.grad = None
        layer(x).sum().backward()

    return step


def pytorch(n: int, c: int, o: int, size: int, k: int, p: int, input_grad: bool) -> Callable:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    layer = torch.nn.Conv2d(c, o, k, padding=p)
    x = torch.randn(n, c, size, size, requires_grad=input_grad)

    def step() -> None:
        layer.weight.grad = layer.bias.grad = x.grad = None
        layer(x).sum().backward()

    return step


def matrix_products(
    n: int, c: int, o: int, size: int, k: int, p: int, input_grad: bool
) -> Callable:
    """The products alone, one per image of the batch (stacked matrices, NumPy's fastest
    arrangement here): W (O, C*k*k) @ columns (C*k*k, P) forward; G @ columns^T summed
    over the batch for the weight's gradient and, when the input needs one, W^T @ G."""
    out = size + 2 * p - k + 1
    rng = np.random.default_rng(0)
    w = rng.standard_normal((o, c * k * k)).astype(np.float32)
    cols = rng.standard_normal((n, c * k * k, out * out)).astype(np.float32)
    g = rng.standard_normal((n, o, out * out)).astype(np.float32)

    def step() -> None:
        w @ cols
        (g @ cols.swapaxes(-1, -2)).sum(axis=0)
        if input_grad:
            w.T @ g

    return step


def primitive_alone(
    n: int, c: int, o: int, size: int, k: int, p: int, input_grad: bool
) -> Callable:
    """The convolution primitive's NumPy work, forward and backward, and the loss's sum and
    its gradient (ones), as in `ours` but without the engine."""
    from tinygrad_edu.autograd import Node
    from tinygrad_edu.nn.conv import Convolution

    tg.manual_seed(0)
    layer = Conv2d(c, o, k, padding=p, dtype=np.float32)
    data = np.random.default_rng(0).standard_normal((n, c, size, size)).astype(np.float32)
    x = tg.Tensor(data, requires_grad=input_grad)
    window = layer(x).grad_fn.window
    arguments = (x, layer.weight, layer.bias, window, 1)
    arrays = [data, layer.weight.data, layer.bias.data, window, 1]

    def step() -> tuple:
        ctx = Node(Convolution, arguments)  # a node of its own, as Function.apply would make
        y = Convolution.forward(ctx, *arrays)
        y.sum()
        return Convolution.backward(ctx, np.ones_like(y))[:3]  # dL/dx, dL/dweight, dL/dbias

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    try:
        import torch  # noqa: F401
    except ImportError:
        sys.exit("conv_speed.py compares with PyTorch, which is not installed")
    print(f"NumPy {np.__version__}, float32, one thread; medians in microseconds\n")
    header = f"{'layer (forward + backward)':<30} {'tinygrad_edu':>12} {'PyTorch':>9} "
    header += f"{'ratio':>6} {'target':>7} {'matmuls':>8} {'primitive':>9}"
    print(header)
    print("-" * len(header))
    for name, *shape in CASES:
        cost = shape[0] * shape[2] * shape[3] ** 2  # a rough size, to scale the repetitions
        repeats = int(min(1000, max(30, 3e7 / cost)) / (5 if args.quick else 1))
        steps = [ours(*shape), pytorch(*shape), matrix_products(*shape), primitive_alone(*shape)]
        t_ours, t_torch, t_mm, t_primitive = median_times(steps, repeats)
        target = next(v for key, v in TARGETS.items() if name.startswith(key))
        ratio = t_ours / t_torch
        mark = "ok" if ratio <= target else "MISSED"
        print(
            f"{name:<30} {t_ours:>12.0f} {t_torch:>9.0f} {ratio:>5.2f}x "
            f"{f'<={target:.1f}x':>7} {t_mm:>8.0f} {t_primitive:>9.0f}  {mark}"
        )


if __name__ == "__main__":
    main()
