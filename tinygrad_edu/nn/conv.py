"""Convolution and pooling: `Conv1d`, `Conv2d`, `ConvTranspose2d`, the pooling layers,
`Unflatten`, and the same as functions (``conv2d``, ``max_pool2d``, ...), with PyTorch's
names, arguments, parameter layout and initialisation.

One idea carries all of them: *im2col*. A convolution slides a small kernel over the image
and, at each position, takes a dot product of the kernel with the window under it. Copy every
window into a column of a matrix, and all those dot products become **one matrix product**
(one per image of the batch, done by one ``@`` on stacked matrices):

    image x (N, C, H, W) --unfold--> columns (N, C*kh*kw, OH*OW)
    weight  (O, C, kh, kw) --reshape--> (O, C*kh*kw)
    weight @ columns = (N, O, OH*OW) --reshape--> y (N, O, OH, OW)

Unfolding needs no Python loop over positions: a window view of the (padded) image is a
NumPy array with cleverly chosen strides (``numpy.lib.stride_tricks.as_strided``): stepping
one kernel offset is stepping ``dilation`` pixels, stepping one output position is stepping
``stride`` pixels. Copying that view is the unfold.

Two primitives carry the idea, each the other's derivative:

* `Unfold`: image -> columns (every window, copied out);
* `Fold`: columns -> image, adding up the windows where they overlap (a loop over the kh*kw
  kernel offsets, each adding a whole strided slice at once; never a loop over positions).

Unfold is linear, and its derivative is its adjoint, Fold: each pixel was copied into every
window that covers it, so it receives the sum of those windows' gradients. Fold's derivative
is Unfold again. With them and matmul:

* conv           = unfold -> matmul (+ bias); its gradients: weight = grad @ columns^T,
                   input = fold(weight^T @ grad);
* conv_transpose = fold(weight^T @ x), the adjoint of conv with respect to its input;
* max_pool       = each window's maximum; its gradient: fold of the gradient placed at
                   each window's maximum (zeros elsewhere);
* avg_pool       = each window's sum, divided by the window's size; its gradient: fold of
                   the gradient copied to every entry of the window.

Three of these are primitives of their own, for speed: `Convolution`, `MaxPool` and
`WindowSum` (the sum of avg_pool). Composed, a convolution would be a dozen nodes whose
bookkeeping costs more than the arithmetic at the sizes learners train on, and each of the
three lays its arrays out so that NumPy moves long runs of memory rather than image rows of a
few pixels (see `_Layout` and `_planes_last`). Under ``backward(create_graph=True)`` each of
their backwards is the composition above, built from Unfold, Fold and matmul, so second
derivatives come from those two rules like everything else.

Shapes: N batch, C channels in, O channels out, (H, W) the image, (kh, kw) the kernel,
(OH, OW) the output. Along each dimension, with padding p (on each side), dilation d, and
stride s, the kernel spans d*(k-1)+1 pixels and the output has
``OH = floor((H + 2p - d*(k-1) - 1) / s) + 1`` positions (``ceil`` for pooling's ceil_mode).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..autograd import Function, Node, sum_axes
from ..dtypes import dtype_or_default
from ..ops import math_for
from ..tensor import Tensor, matmul, to_tensor
from . import init
from .modules import Module, Parameter

# ---- where the windows are -------------------------------------------------------------------


class Window(NamedTuple):
    """How a kernel slides over the spatial dimensions of an image: one entry per dimension
    (one for 1-d, two (height, width) for 2-d)."""

    size: tuple[int, ...]  # the image, before padding
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]  # (before, after): pixels added on each side
    out: tuple[int, ...]  # the number of window positions along each dimension

    @property
    def padded_size(self) -> tuple[int, ...]:
        return tuple(s + b + a for s, (b, a) in zip(self.size, self.padding))

    @property
    def padded(self) -> bool:
        return any(b or a for b, a in self.padding)

    @property
    def image(self) -> tuple[slice, ...]:
        """Where the image sits in the padded image, along the spatial dimensions."""
        return tuple(slice(b, b + s) for s, (b, _) in zip(self.size, self.padding))

    @property
    def inside(self) -> tuple[slice, ...]:
        """`image` with the batch and channel axes in front: (N, C, *spatial) arrays."""
        return (slice(None), slice(None), *self.image)

    def seen(self, offset: tuple[int, ...]) -> tuple[slice, ...]:
        """The pixels of the padded image that kernel offset ``offset`` sees, one per output
        position, along the spatial dimensions."""
        return tuple(
            slice(o * d, o * d + s * (n - 1) + 1, s)
            for o, d, s, n in zip(offset, self.dilation, self.stride, self.out)
        )

    @property
    def views(self) -> tuple[tuple[slice, ...], ...]:
        """`seen` for every kernel offset, in scan order (computed once per window)."""
        return _views(self)

    @property
    def overlapping(self) -> bool:
        """Whether two windows can share a pixel (a stride shorter than the kernel's span)."""
        return any(s < d * (k - 1) + 1 for k, s, d in zip(self.kernel, self.stride, self.dilation))

    def positions(self, offset: tuple[int, ...]) -> tuple[slice, ...]:
        """`seen` with the batch and channel axes in front: (N, C, *spatial) arrays."""
        return (slice(None), slice(None), *self.seen(offset))


@functools.lru_cache(maxsize=256)
def _views(window: Window) -> tuple[tuple[slice, ...], ...]:
    # Cached: with this, plain transposes in `_planes_last` / `_planes_first` (no
    # np.moveaxis) and max pooling's backward writing in place where windows do not overlap,
    # the digits CNN's two pools (W7) take about a third less time forward and backward.
    return tuple(window.seen(offset) for offset in np.ndindex(*window.kernel))


def _pad(x: np.ndarray, window: Window, fill: Any) -> np.ndarray:
    """x (N, C, *size) inside a border of ``fill``: (N, C, *padded_size)."""
    if not window.padded:
        return x
    padded = np.full((*x.shape[:2], *window.padded_size), fill, dtype=x.dtype)
    padded[window.inside] = x
    return padded


def _unfold(x: np.ndarray, window: Window, fill: Any) -> np.ndarray:
    """Every window of ``x`` (N, C, *size), padded with ``fill``: columns (N, C, *kernel, *out).

    ``cols[n, c, i, j, oh, ow] = padded[n, c, oh*s + i*d, ow*s + j*d]``, read through a
    strided view of the padded image and copied out once."""
    padded = _pad(x, window, fill)
    stride_n, stride_c, *pixel = padded.strides
    shape = (*x.shape[:2], *window.kernel, *window.out)
    strides = (
        stride_n,
        stride_c,
        *(d * p for d, p in zip(window.dilation, pixel)),
        *(s * p for s, p in zip(window.stride, pixel)),
    )
    return np.ascontiguousarray(as_strided(padded, shape, strides, writeable=False))


def _fold(cols: np.ndarray, window: Window) -> np.ndarray:
    """The adjoint of `_unfold`: columns (N, C, *kernel, *out) -> image (N, C, *size), each
    pixel the sum of the entries of every window that covers it. One strided addition per
    kernel offset (kh*kw of them); the padding is cut off at the end."""
    padded = np.zeros((*cols.shape[:2], *window.padded_size), dtype=cols.dtype)
    for offset in np.ndindex(*window.kernel):
        padded[window.positions(offset)] += cols[(slice(None), slice(None), *offset)]
    return padded[window.inside] if window.padded else padded


class Unfold(Function):
    """image (N, C, *size) -> columns (N, C, *kernel, *out): every window, padded with the
    constant ``fill`` (0, or -inf for max pooling). Its derivative is `Fold`."""

    @staticmethod
    def forward(ctx: Node, x, window, fill):
        ctx.window = window
        return _unfold(x, window, fill)

    @staticmethod
    def backward(ctx: Node, grad):
        # each pixel was copied into every window covering it: it gets the sum of their
        # gradients (the padding is a constant: no gradient)
        if ctx.create_graph:
            return Fold.apply(grad, ctx.window), None, None
        return _fold(grad, ctx.window), None, None


class Fold(Function):
    """columns (N, C, *kernel, *out) -> image (N, C, *size), adding overlapping windows (and
    dropping what falls on the padding). Its derivative is `Unfold` (padding 0)."""

    @staticmethod
    def forward(ctx: Node, cols, window):
        ctx.window = window
        return _fold(cols, window)

    @staticmethod
    def backward(ctx: Node, grad):
        # each column entry was added to one pixel: it gets that pixel's gradient
        if ctx.create_graph:
            return Unfold.apply(grad, ctx.window, 0), None
        return _unfold(grad, ctx.window, 0), None


# ---- convolution as one primitive, and its fast layout -----------------------------------------


def _conv_grads(x: Tensor, weight: Tensor, grad: Tensor, window: Window, groups: int) -> tuple:
    """dL/dx and dL/dweight of a convolution composed from Unfold, Fold and matmul, on
    Tensors: `Convolution`'s backward under create_graph, differentiable again.

        columns = unfold(x)                     (N, groups, C/g*K, P)
        dL/dweight = sum over n of grad @ columns^T
        dL/dx = fold(weight^T @ grad)           (the transposed convolution of grad)
    """
    n, out_channels = grad.shape[:2]
    positions = math.prod(window.out)
    g = grad.reshape(n, groups, out_channels // groups, positions)
    cols = Unfold.apply(x, window, 0).reshape(n, groups, -1, positions)
    grad_weight = (g @ cols.swapaxes(-1, -2)).sum(axis=0).reshape(weight.shape)
    return _transposed(g, weight, window, groups), grad_weight


def _transposed(g: Tensor, weight: Tensor, window: Window, groups: int) -> Tensor:
    """The transposed convolution: g (N, groups, O/g, P) -> fold(weight^T @ g), an image
    (N, C, *window.size), for weight (O, C/g, *kernel). Every position spreads weight *
    value over the window it came from, and overlapping windows add up."""
    w = weight.reshape(groups, g.shape[2], -1)  # (g, O/g, C/g*K)
    cols = (w.swapaxes(-1, -2) @ g).reshape(g.shape[0], -1, *window.kernel, *window.out)
    return Fold.apply(cols, window)


class _Layout(NamedTuple):
    """How the NumPy path of `Convolution` lays out its columns, for speed.

    The padded batch is stored flat, plane after plane (one plane per image and channel), and
    the columns are cut from it with strides: (N, groups, *kernel, C/g, *grid). Channels come
    after the kernel offsets, so that for one offset the columns of all channels of an image
    are one run of memory, and so is the part of the padded batch they come from: unfold and
    fold then copy and add long runs instead of image rows.

    For a 2-d convolution with stride 1 the grid is the whole padded plane, flattened:
    positions run along entire padded rows, so one position is one stored pixel. Positions
    under the right-hand padding (and below the last output row) are computed and dropped:
    the matrix products use the first positions only, ``used`` (the OH output rows, each as
    wide as the padded row), and the output is a slice of them. With other strides the grid
    is just the output positions.
    A 1-d convolution's grid is flat for any stride (its plane padded to a multiple of it).
    """

    plane: tuple[int, ...]  # one image-channel's stored (padded) plane
    grid: tuple[int, ...]  # the window positions the columns hold, per dimension
    steps: tuple[int, ...]  # stored pixels between neighbouring positions, per dimension
    reach: tuple[int, ...]  # stored pixels between neighbouring kernel offsets, per dimension
    used: tuple[int, ...]  # the positions the products use, shaped; the output is a slice
    tail: int  # zeros stored after the last plane, for reads past its end (dropped positions)


@functools.lru_cache(maxsize=256)
def _layout(window: Window) -> _Layout:
    padded, nd = window.padded_size, len(window.kernel)
    if nd == 2 and window.stride == (1, 1):
        plane, grid, steps = padded, padded, (padded[1], 1)
        used = (window.out[0], padded[1])
    elif nd == 1:
        (s,) = window.stride
        plane = (-(-padded[0] // s) * s,)
        grid, steps, used = (plane[0] // s,), (s,), window.out
    else:
        plane, grid, used = padded, window.out, window.out
        steps = tuple(s * r for s, r in zip(window.stride, (padded[1], 1)))
    row_length = (plane[1], 1) if nd == 2 else (1,)
    reach = tuple(d * r for d, r in zip(window.dilation, row_length))
    last = sum((k - 1) * r for k, r in zip(window.kernel, reach))
    last += sum((n - 1) * s for n, s in zip(grid, steps))
    return _Layout(plane, grid, steps, reach, used, max(0, last + 1 - math.prod(plane)))


def _fast_columns(x: np.ndarray, window: Window, layout: _Layout, groups: int) -> np.ndarray:
    """The columns of x (N, C, *size) in ``layout``: (N, groups, K*C/g, grid size)."""
    n, c = x.shape[:2]
    plane = math.prod(layout.plane)
    stored = np.zeros(n * c * plane + layout.tail, dtype=x.dtype)
    image = tuple(slice(b, b + s) for s, (b, _) in zip(window.size, window.padding))
    stored[: n * c * plane].reshape(n, c, *layout.plane)[(..., *image)] = x
    item = stored.itemsize
    shape = (n, groups, *window.kernel, c // groups, *layout.grid)
    strides = (c * plane, c // groups * plane, *layout.reach, plane, *layout.steps)
    view = as_strided(stored, shape, [item * s for s in strides], writeable=False)
    return np.ascontiguousarray(view).reshape(n, groups, -1, math.prod(layout.grid))


def _fast_fold(cols: np.ndarray, window: Window, layout: _Layout, channels: int) -> np.ndarray:
    """The adjoint of `_fast_columns`: (N, groups, K*C/g, grid size) -> image (N, C, *size),
    one addition per kernel offset, each a run of whole planes when the grid is flat."""
    n, groups = cols.shape[:2]
    plane = math.prod(layout.plane)
    stored = np.zeros(n * channels * plane + layout.tail, dtype=cols.dtype)
    cols = cols.reshape(n, groups, *window.kernel, channels // groups, *layout.grid)
    # where each kernel offset's column entries land: (*kernel, N, g, C/g, *grid)
    shape = (*window.kernel, n, groups, channels // groups, *layout.grid)
    strides = (*layout.reach, channels * plane, shape[-len(layout.grid) - 1] * plane, plane)
    strides += layout.steps
    targets = as_strided(stored, shape, [stored.itemsize * s for s in strides])
    for offset in np.ndindex(*window.kernel):
        targets[offset] += cols[(slice(None), slice(None), *offset)]
    image = tuple(slice(b, b + s) for s, (b, _) in zip(window.size, window.padding))
    return stored[: n * channels * plane].reshape(n, channels, *layout.plane)[(..., *image)]


def _grouped_weight(weight: np.ndarray, groups: int) -> np.ndarray:
    """weight (O, C/g, *kernel) as (g, O/g, K*C/g): the rows of `_fast_columns`' order."""
    out_channels, per_group = weight.shape[:2]
    w = weight.reshape(groups, out_channels // groups, per_group, -1)
    return np.ascontiguousarray(w.swapaxes(-1, -2)).reshape(groups, out_channels // groups, -1)


class Convolution(Function):
    """y = conv(x, weight) + bias as one node (see the module's docstring for why).

    x (N, C, *size), weight (O, C/groups, *kernel), bias (O,) or None -> y (N, O, *out):
    ``y[n, o, p] = bias[o] + sum_{c, k} weight[o, c, k] * padded_x[n, c, p*stride + k*dilation]``
    (c over the channels of o's group), computed as one product of stacked matrices,
    weight (g, O/g, C/g*K) @ columns (N, g, C/g*K, P).
    """

    @staticmethod
    def forward(ctx: Node, x, weight, bias, window, groups):
        ctx.window, ctx.groups = window, groups
        ctx.save_for_backward(x, weight)
        layout = _layout(window)
        cols = _fast_columns(x, window, layout, groups)
        # Kept for the NumPy backward, which needs them for the weight's gradient and then
        # reuses their memory for the input's (fresh memory is slow to come by). A cache,
        # not a saved value: backward under create_graph recomputes them from x, in the graph.
        ctx.columns = cols
        cols = cols[..., : math.prod(layout.used)]
        y = (_grouped_weight(weight, groups) @ cols).reshape(x.shape[0], weight.shape[0], -1)
        if bias is not None:
            y += bias.reshape(-1, 1).astype(y.dtype, copy=False)
        if layout.used == window.out:
            return y.reshape(*y.shape[:2], *window.out)
        y = y.reshape(*y.shape[:2], *layout.used)[(..., *(slice(0, n) for n in window.out))]
        return np.ascontiguousarray(y)  # the positions kept, compact for what comes next

    @staticmethod
    def backward(ctx: Node, grad):
        x, weight = ctx.saved_tensors
        window, groups = ctx.window, ctx.groups
        need_x, need_weight, need_bias = ctx.needs_input_grad[:3]
        if ctx.create_graph:  # the composition, on Tensors: it can be differentiated again
            grad_x, grad_weight = _conv_grads(x, weight, grad, window, groups)
            grad_bias = grad.sum(axis=(0, *range(2, grad.ndim))) if need_bias else None
            return grad_x, grad_weight, grad_bias, None, None
        # the bias is added at every position of every image: sum the batch, then the rest
        grad_bias = None
        if need_bias:
            grad_bias = sum_axes(sum_axes(grad, (0,)).reshape(grad.shape[1], -1), (1,))
        layout = _layout(window)
        used = math.prod(layout.used)
        g = grad
        if layout.used != window.out:  # zeros at the positions forward dropped
            g = np.zeros((*grad.shape[:2], *layout.used), dtype=grad.dtype)
            g[(..., *(slice(0, n) for n in window.out))] = grad
        n, out_channels = grad.shape[:2]
        g = g.reshape(n, groups, out_channels // groups, used)
        w = _grouped_weight(weight, groups)
        cols = ctx.__dict__.pop("columns", None)  # taken: a second backward recomputes them
        grad_x = grad_weight = None
        if need_weight:
            if cols is None:
                cols = _fast_columns(x, window, layout, groups)
            grad_w = (g @ cols[..., :used].swapaxes(-1, -2)).sum(axis=0)  # (g, O/g, K*C/g)
            grad_w = grad_w.reshape(out_channels, -1, weight.shape[1]).swapaxes(-1, -2)
            grad_weight = grad_w.reshape(weight.shape)
        if need_x:
            if cols is None or not cols.flags.writeable:
                cols = np.empty((n, groups, w.shape[2], math.prod(layout.grid)), dtype=g.dtype)
            cols[..., used:] = 0  # the positions forward dropped contribute nothing
            np.matmul(w.swapaxes(-1, -2), g, out=cols[..., :used])  # columns' gradient
            grad_x = _fast_fold(cols, window, layout, x.shape[1])
        return grad_x, grad_weight, grad_bias, None, None


# ---- checking and normalising arguments ---------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _ints(name: str, what: str, value: Any, nd: int, smallest: int) -> tuple[int, ...]:
    """``value`` (an int, or a tuple of ``nd`` ints) as a tuple of ``nd`` ints >= smallest."""
    if _is_int(value):
        values = (int(value),) * nd
    elif isinstance(value, (tuple, list)) and len(value) == nd and all(map(_is_int, value)):
        values = tuple(int(v) for v in value)
    else:
        raise ValueError(f"{name}: {what} must be an int or a tuple of {nd} ints, got {value!r}")
    if min(values) < smallest:
        kind = "positive" if smallest == 1 else "non-negative"
        raise ValueError(f"{name}: {what} must be {kind}, got {value!r}")
    return values


def _groups(name: str, groups: Any) -> int:
    if not _is_int(groups) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
    return int(groups)


def _batched(name: str, x: Tensor, nd: int) -> bool:
    """True for a batch (N, C, *spatial), False for one sample (C, *spatial); else an error."""
    if x.ndim == nd + 2:
        return True
    if x.ndim == nd + 1:
        return False
    spatial = "L" if nd == 1 else "H, W"
    raise ValueError(
        f"{name}: expected a {nd + 1}-D (unbatched: C, {spatial}) or {nd + 2}-D (batched: N, "
        f"C, {spatial}) input, got input of shape {x.shape}"
    )


def _as_batch(name: str, input: Any, nd: int) -> tuple[Tensor, bool]:
    x = to_tensor(input)
    batched = _batched(name, x, nd)
    return (x if batched else x.reshape((1, *x.shape))), batched


def _unbatch(y: Any, batched: bool) -> Any:
    return y if batched else y.reshape(y.shape[1:])


def _by(values: Sequence[int]) -> str:
    return " x ".join(map(str, values))


def _conv_padding(
    name: str,
    padding: Any,
    nd: int,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
) -> tuple[tuple[int, int], ...]:
    """(before, after) per dimension. 'valid' is no padding; 'same' pads so that the output
    has the input's size (stride 1 only), the odd pixel of an even kernel going after, as
    in PyTorch."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding != "same":
            raise ValueError(
                f"{name}: padding must be 'same', 'valid', an int or a tuple of {nd} ints, "
                f"got {padding!r}"
            )
        if any(s != 1 for s in stride):
            raise ValueError(
                f"{name}: padding='same' is not supported for strided convolutions "
                f"(stride={stride}); give the padding as a number"
            )
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    return tuple((p, p) for p in _ints(name, "padding", padding, nd, 0))


def _conv_window(
    name: str,
    shape: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    padding: tuple[tuple[int, int], ...],
) -> Window:
    """The window of a convolution of an input of ``shape`` (N, C, *size)."""
    size = shape[2:]
    padded = [s + b + a for s, (b, a) in zip(size, padding)]
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(span > p for span, p in zip(spans, padded)):
        dilated = (
            f" (spanning {_by(spans)} with dilation {dilation})" if spans != list(kernel) else ""
        )
        raise ValueError(
            f"{name}: the kernel {_by(kernel)}{dilated} is larger than the padded input "
            f"{_by(padded)}: input of shape {shape}, padding {_padding_repr(padding)}"
        )
    out = tuple((p - span) // s + 1 for p, span, s in zip(padded, spans, stride))
    return Window(tuple(size), tuple(kernel), stride, dilation, padding, out)


def _padding_repr(padding: tuple[tuple[int, int], ...]) -> Any:
    if all(b == a for b, a in padding):
        return tuple(b for b, _ in padding)
    return padding


# ---- convolution ------------------------------------------------------------------------------


def _check_weight(name: str, x: Tensor, weight: Tensor, bias: Any, groups: int, nd: int) -> None:
    """The weight (O, C/groups, *kernel) must fit the input (N, C, *size) and the bias (O,)."""
    if weight.ndim != nd + 2:
        dims = "kL" if nd == 1 else "kH, kW"
        raise ValueError(
            f"{name}: weight must have {nd + 2} dimensions (out_channels, in_channels/groups, "
            f"{dims}), got weight of shape {weight.shape}"
        )
    out_channels, per_group = weight.shape[:2]
    if out_channels % groups:
        raise ValueError(
            f"{name}: groups={groups} must divide the output channels, but weight of shape "
            f"{weight.shape} has {out_channels}"
        )
    if x.shape[1] != per_group * groups:
        raise ValueError(
            f"{name}: expected input with {per_group * groups} channels (weight of shape "
            f"{weight.shape}, groups={groups}), got input of shape {x.shape}"
        )
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ValueError(
            f"{name}: bias must have shape ({out_channels},), one per output channel, "
            f"got {tuple(bias.shape)}"
        )


def _conv(
    name: str,
    input: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: Any,
    nd: int,
) -> Tensor:
    x, batched = _as_batch(name, input, nd)
    weight = to_tensor(weight)
    bias = None if bias is None else to_tensor(bias)
    groups = _groups(name, groups)
    _check_weight(name, x, weight, bias, groups, nd)
    kernel = weight.shape[2:]
    stride = _ints(name, "stride", stride, nd, 1)
    dilation = _ints(name, "dilation", dilation, nd, 1)
    pads = _conv_padding(name, padding, nd, kernel, stride, dilation)
    window = _conv_window(name, x.shape, kernel, stride, dilation, pads)
    if x.dtype.kind != "f":  # integers (pixel values) are converted, as in a layer
        x = x.astype(weight.dtype)
    return _unbatch(Convolution.apply(x, weight, bias, window, groups), batched)


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int] = 1,
    padding: int | tuple[int] | str = 0,
    dilation: int | tuple[int] = 1,
    groups: int = 1,
) -> Tensor:
    """1-d convolution (a cross-correlation, as in every deep learning library).

    input (N, C, L) or (C, L), weight (O, C/groups, k), bias (O,) -> (N, O, L_out) with
    ``L_out = floor((L + 2*padding - dilation*(k-1) - 1) / stride) + 1``;
    ``y[n, o, l] = bias[o] + sum_{c, i} weight[o, c, i] * x[n, c, l*stride + i*dilation]``
    (x padded with zeros). padding may be 'valid' (none) or 'same' (output as long as the
    input; stride 1 only)."""
    return _conv("conv1d", input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> Tensor:
    """2-d convolution (a cross-correlation, as in every deep learning library).

    input (N, C, H, W) or (C, H, W), weight (O, C/groups, kh, kw), bias (O,) -> (N, O, OH, OW)
    with ``OH = floor((H + 2*padding - dilation*(kh-1) - 1) / stride) + 1`` (OW alike);
    ``y[n, o, i, j] = bias[o] + sum_{c, a, b} weight[o, c, a, b] *
    x[n, c, i*stride + a*dilation, j*stride + b*dilation]`` (x padded with zeros), the sum
    over c running over the channels of o's group. padding may be 'valid' (none) or 'same'
    (output the input's size; stride 1 only)."""
    return _conv("conv2d", input, weight, bias, stride, padding, dilation, groups, 2)


def _check_output_padding(
    name: str, output_padding: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...]
) -> None:
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise ValueError(
                f"{name}: output_padding must be smaller than either stride or dilation, got "
                f"output_padding={output_padding}, stride={stride}, dilation={dilation}"
            )


def _transpose_window(
    name: str,
    shape: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...],
    output_padding: tuple[int, ...],
    dilation: tuple[int, ...],
) -> Window:
    """The window of the convolution whose adjoint a transposed convolution of an input of
    ``shape`` is: the output is the image (``size``), the input the window positions."""
    _check_output_padding(name, output_padding, stride, dilation)
    size = tuple(
        (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        for n, k, s, p, op, d in zip(shape[2:], kernel, stride, padding, output_padding, dilation)
    )
    if min(size) < 1:
        raise ValueError(
            f"{name}: the output would have size {_by(size)} (input of shape {shape}, kernel "
            f"{_by(kernel)}, stride {stride}, padding {padding}): the padding is too large"
        )
    return Window(size, tuple(kernel), stride, dilation, tuple((p, p) for p in padding), shape[2:])


def _conv_transpose(
    name: str,
    input: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: Any,
    dilation: Any,
    nd: int,
) -> Tensor:
    """The adjoint of convolution with respect to its input: every input pixel spreads
    weight * value over a kernel-sized patch of the output, and overlapping patches add up.

    x (N, C, *size_in) -> matrix product (O*K, N*P) -> fold -> y (N, O, *size_out)."""
    x, batched = _as_batch(name, input, nd)
    weight = to_tensor(weight)
    bias = None if bias is None else to_tensor(bias)
    groups = _groups(name, groups)
    if weight.ndim != nd + 2:
        raise ValueError(
            f"{name}: weight must have {nd + 2} dimensions (in_channels, out_channels/groups, "
            f"*kernel), got weight of shape {weight.shape}"
        )
    in_channels, per_group = weight.shape[:2]
    if in_channels % groups:
        raise ValueError(
            f"{name}: groups={groups} must divide the input channels, but weight of shape "
            f"{weight.shape} has {in_channels}"
        )
    if x.shape[1] != in_channels:
        raise ValueError(
            f"{name}: expected input with {in_channels} channels (weight of shape "
            f"{weight.shape}), got input of shape {x.shape}"
        )
    out_channels = per_group * groups
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ValueError(
            f"{name}: bias must have shape ({out_channels},), one per output channel, "
            f"got {tuple(bias.shape)}"
        )
    kernel = weight.shape[2:]
    window = _transpose_window(
        name,
        x.shape,
        kernel,
        _ints(name, "stride", stride, nd, 1),
        _ints(name, "padding", padding, nd, 0),
        _ints(name, "output_padding", output_padding, nd, 0),
        _ints(name, "dilation", dilation, nd, 1),
    )
    rows = x.reshape(x.shape[0], groups, in_channels // groups, -1)  # (N, g, C/g, P)
    y = _transposed(rows, weight, window, groups)  # conv's adjoint: weight as conv's
    if bias is not None:
        y = y + bias.reshape(out_channels, *(1,) * nd)
    return _unbatch(y, batched)


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
    groups: int = 1,
    dilation: int | tuple[int, int] = 1,
) -> Tensor:
    """Transposed 2-d convolution (sometimes called deconvolution): the gradient of conv2d
    with respect to its input, used to upsample.

    input (N, C, H, W) or (C, H, W), weight (C, O/groups, kh, kw), bias (O,) ->
    (N, O, OH, OW) with ``OH = (H-1)*stride - 2*padding + dilation*(kh-1) + output_padding + 1``
    (OW alike). ``output_padding`` (smaller than stride or dilation) adds rows and columns at
    the end, to pick among the sizes a strided conv2d maps to the same size."""
    return _conv_transpose(
        "conv_transpose2d", input, weight, bias, stride, padding, output_padding, groups,
        dilation, 2,
    )  # fmt: skip


# ---- pooling ----------------------------------------------------------------------------------


def _pool_window(
    name: str,
    shape: tuple[int, ...],
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    nd: int,
) -> Window:
    """The window of a pooling layer, with PyTorch's rules: stride defaults to the kernel
    size, padding is at most half the kernel size, and with ``ceil_mode`` a last,
    partial window is kept if it starts inside the input or its left padding (the padding
    after the input then grows to hold it)."""
    kernel = _ints(name, "kernel_size", kernel_size, nd, 1)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        stride = kernel
    stride = _ints(name, "stride", stride, nd, 1)
    pad = _ints(name, "padding", padding, nd, 0)
    dilation = _ints(name, "dilation", dilation, nd, 1)
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(p > k // 2 for p, k in zip(pad, kernel)):
        raise ValueError(
            f"{name}: padding must be at most half of the kernel size, got padding={pad}, "
            f"kernel_size={kernel}"
        )
    size, out, padding_pairs = shape[2:], [], []
    for n, span, s, p in zip(size, spans, stride, pad):
        last = n + 2 * p - span + (s - 1 if ceil_mode else 0)
        positions = last // s + 1
        if ceil_mode and (positions - 1) * s >= n + p:
            positions -= 1  # the last window would start on the padding after the input
        out.append(positions)
        padding_pairs.append((p, max(p, (positions - 1) * s + span - n - p)))
    if min(out) < 1:
        raise ValueError(
            f"{name}: the output would be empty ({_by(out)}): input of shape {shape} is "
            f"smaller than the kernel {_by(kernel)} (dilation {dilation}, padding {pad})"
        )
    return Window(tuple(size), kernel, stride, dilation, tuple(padding_pairs), tuple(out))


def _lowest(dtype: np.dtype) -> Any:
    """The padding of max pooling: a value that never wins."""
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _planes(spatial: tuple[int, ...], planes: int, dtype: Any, zero: bool = False) -> np.ndarray:
    """An array (*spatial, planes): the pixel at one place of every image plane (every image
    and channel of a batch) side by side. Pooling works on one kernel offset's slice at a
    time, which is then one long run of memory instead of many rows of a few pixels. Its
    rows are stored one cache line longer when their length is a multiple of 512 bytes:
    reading the planes back out with a stride of, say, 4096 bytes is ten times slower, as
    every read lands in the same few cache sets."""
    itemsize = np.dtype(dtype).itemsize
    row = planes + (64 // itemsize if planes * itemsize % 512 == 0 else 0)
    stored = (np.zeros if zero else np.empty)((*spatial, row), dtype=dtype)
    return stored[..., :planes]


def _planes_last(x: np.ndarray, spatial: tuple[int, ...], inside: Any, fill: Any) -> np.ndarray:
    """x (N, C, *size) as (*spatial, N*C), placed at ``inside`` and surrounded by ``fill``."""
    stored = _planes(spatial, x.shape[0] * x.shape[1], x.dtype, zero=fill == 0)
    if fill != 0:
        stored[...] = fill
    nd = x.ndim - 2
    stored[inside] = x.reshape(-1, *x.shape[2:]).transpose(*range(1, nd + 1), 0)
    return stored


def _planes_first(y: np.ndarray, n: int, c: int) -> np.ndarray:
    """(*spatial, N*C) -> (N, C, *spatial), compact."""
    nd = y.ndim - 1
    return np.ascontiguousarray(y.transpose(nd, *range(nd))).reshape(n, c, *y.shape[:-1])


def _first_image_pixel(window: Window) -> np.ndarray:
    """For each window, the kernel offset (flat index) of its first pixel of the image, not
    of the padding: (*out, 1)."""
    image = _unfold(np.ones((1, 1, *window.size), dtype=bool), window, False)
    return image.reshape(-1, *window.out).argmax(axis=0)[..., None]


def _window_max(x: np.ndarray, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """Each window's maximum and which kernel offset holds it (a flat index), both
    (*out, N*C), found as PyTorch finds it (see `MaxPool`)."""
    padded = _planes_last(x, window.padded_size, window.image, _lowest(x.dtype))
    best = _planes(window.out, padded.shape[-1], x.dtype)
    choice = np.zeros(best.shape, dtype=np.int32)
    # NaNs need a comparison of their own; they are rare, so the first pass leaves them out
    # and a second runs only if the maximum came out NaN somewhere (a W7 epoch: 3% faster)
    for with_nan in (False, True):
        for k, view in enumerate(window.views):
            value = padded[view]
            if k == 0:
                best[...] = value
                continue
            better = value > best
            if with_nan:
                better |= np.isnan(value)  # PyTorch: a NaN wins, and a later NaN wins again
            choice += better * (k - choice)  # arithmetic: faster than assigning through a mask
            np.maximum(best, value, out=best)  # the new maximum (NaN stays NaN, as PyTorch)
        if with_nan or x.dtype.kind != "f" or not np.isnan(best).any():
            break
        choice[...] = 0
    if x.dtype.kind == "f" and window.padded:
        empty = best == -np.inf  # nothing beat the padding: take the first image pixel
        if empty.any():
            choice = np.where(empty, _first_image_pixel(window), choice)
    return best, choice


def _choice_first(choice: np.ndarray, n: int, c: int) -> np.ndarray:
    """The picks (*out, N*C) as (N, C, *out)."""
    return np.moveaxis(choice, -1, 0).reshape(n, c, *choice.shape[:-1])


class MaxPool(Function):
    """Each window's maximum: x (N, C, *size) -> (N, C, *out), padded with -inf.

    The maximum is picked as PyTorch picks it, scanning each window in order (a loop over
    the kh*kw kernel offsets, each comparing whole arrays): the first maximum wins ties, a
    NaN wins over numbers (the last NaN), and a window whose every pixel is -inf picks its
    first pixel of the image. The whole gradient goes to that one element: the backward
    adds each window's gradient at its pick; under create_graph that is `Fold` of the
    gradient placed at the picks (zeros elsewhere), so it can be differentiated again."""

    @staticmethod
    def forward(ctx, x, window):
        best, ctx.choice = _window_max(x, window)  # choice: (*out, N*C)
        ctx.window = window
        return _planes_first(best, *x.shape[:2])

    @staticmethod
    def backward(ctx, grad):
        window, choice = ctx.window, ctx.choice
        n, c, *out = grad.shape
        if ctx.create_graph:
            count, nd = math.prod(window.kernel), len(window.kernel)
            offsets = np.arange(count).reshape(count, *(1,) * nd)
            picked = _choice_first(choice, n, c)[:, :, None] == offsets  # (N, C, K, *out)
            cols = grad.reshape(n, c, 1, *out) * picked
            return Fold.apply(cols.reshape(n, c, *window.kernel, *out), window), None
        return _add_back(grad, window, lambda k: choice == k), None


class WindowSum(Function):
    """Each window's sum: x (N, C, *size) -> (N, C, *out), padded with zeros; a loop over
    the kh*kw kernel offsets, each adding a whole strided slice. Unfold followed by a sum over
    the window, without the columns. The backward adds the gradient back to every pixel of
    the window; under create_graph it is `Fold` of the gradient copied to every entry of its
    window, so it can be differentiated again."""

    @staticmethod
    def forward(ctx, x, window):
        ctx.window = window
        padded = _planes_last(x, window.padded_size, window.image, 0)
        total = _planes(window.out, padded.shape[-1], x.dtype, zero=True)
        for view in window.views:
            total += padded[view]
        return _planes_first(total, *x.shape[:2])

    @staticmethod
    def backward(ctx, grad):
        window = ctx.window
        n, c, *out = grad.shape
        if ctx.create_graph:
            ones = (1,) * len(window.kernel)
            cols = math_for(ctx).expand(
                grad.reshape(n, c, *ones, *out), (n, c, *window.kernel, *out)
            )
            return Fold.apply(cols, window), None
        return _add_back(grad, window), None


def _add_back(grad: np.ndarray, window: Window, pick: Any = None) -> np.ndarray:
    """The backward of pooling (NumPy): grad (N, C, *out), one value per window, added back
    to the pixels each window read, (N, C, *size). With ``pick``, kernel offset k adds only
    ``grad * pick(k)`` (max pooling: its maximum, where ``pick(k)`` is 1)."""
    n, c, *out = grad.shape
    g = _planes_last(grad, tuple(out), ..., 0)
    padded = _planes(window.padded_size, n * c, grad.dtype, zero=True)
    for k, view in enumerate(window.views):
        if pick is None:
            padded[view] += g
        elif window.overlapping:
            padded[view] += g * pick(k)
        else:  # each pixel in one window at most: written once, straight into place
            np.multiply(g, pick(k), out=padded[view])
    return _planes_first(padded[window.image], n, c)


def _max_indices(choice: np.ndarray, window: Window) -> np.ndarray:
    """PyTorch's ``return_indices``: where each maximum is, as a flat index into its image
    plane (h * W + w), of shape (N, C, *out)."""
    offsets = np.unravel_index(choice, window.kernel)
    nd = len(window.kernel)
    index = np.zeros(choice.shape, dtype=np.int64)
    for i in range(nd):  # one step per spatial dimension
        shape = (1, 1) + tuple(-1 if j == i else 1 for j in range(nd))
        start = np.arange(window.out[i]).reshape(shape) * window.stride[i] - window.padding[i][0]
        index = index * window.size[i] + start + offsets[i] * window.dilation[i]
    return index


def _max_pool(
    name: str,
    input: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    return_indices: bool,
    nd: int,
) -> Any:
    """Each window's maximum (see `MaxPool`), and where it is with ``return_indices``."""
    x, batched = _as_batch(name, input, nd)
    window = _pool_window(name, x.shape, kernel_size, stride, padding, dilation, ceil_mode, nd)
    y = MaxPool.apply(x, window)
    if not return_indices:
        return _unbatch(y, batched)
    choice = y.grad_fn.choice if y.grad_fn is not None else _window_max(x.data, window)[1]
    indices = _max_indices(_choice_first(choice, *x.shape[:2]), window)
    return _unbatch(y, batched), _unbatch(Tensor(indices), batched)


def max_pool1d(
    input: Tensor,
    kernel_size: int | tuple[int],
    stride: int | tuple[int] | None = None,
    padding: int | tuple[int] = 0,
    dilation: int | tuple[int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """The maximum of each window: (N, C, L) or (C, L) -> (N, C, L_out). See `max_pool2d`."""
    return _max_pool(
        "max_pool1d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1
    )


def max_pool2d(
    input: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """The maximum of each kh x kw window: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW).

    stride defaults to kernel_size (windows side by side); the padding (at most half the
    kernel) is -inf, so it never wins. ``ceil_mode`` keeps a last, partial window. The
    gradient goes to the element that is the maximum (where several tie, the first, as in
    PyTorch). With ``return_indices``, also where each maximum is, as flat indices h*W + w
    into each image plane (int64, no gradient)."""
    return _max_pool(
        "max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2
    )


def _divisor(window: Window, count_include_pad: bool, divisor_override: Any) -> Any:
    """What each window's sum is divided by, of shape ``window.out``: the window's size, cut
    at the padding's edge (ceil_mode's extra positions never count), and without the padding
    when not ``count_include_pad``; or ``divisor_override``."""
    if divisor_override is not None:
        if not _is_int(divisor_override) or divisor_override == 0:
            raise ValueError(f"avg_pool: divisor_override must be a non-zero int, got "
                             f"{divisor_override!r}")  # fmt: skip
        return int(divisor_override)
    counts = np.ones((), dtype=np.int64)
    for n, k, s, (p, _), m in zip(
        window.size, window.kernel, window.stride, window.padding, window.out
    ):
        start = np.arange(m) * s - p
        end = np.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        counts = np.multiply.outer(counts, end - start)
    return counts


def _avg_pool(
    name: str,
    input: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Any,
    nd: int,
) -> Tensor:
    """Each window's mean: its sum (`WindowSum`) divided by its size."""
    x, batched = _as_batch(name, input, nd)
    window = _pool_window(name, x.shape, kernel_size, stride, padding, 1, ceil_mode, nd)
    total = WindowSum.apply(x, window)  # (N, C, *out)
    divisor = _divisor(window, count_include_pad, divisor_override)
    if isinstance(divisor, np.ndarray) and x.dtype.kind == "f":
        divisor = divisor.astype(x.dtype)
    return _unbatch(total / divisor, batched)


def avg_pool1d(
    input: Tensor,
    kernel_size: int | tuple[int],
    stride: int | tuple[int] | None = None,
    padding: int | tuple[int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """The mean of each window: (N, C, L) or (C, L) -> (N, C, L_out). See `avg_pool2d`."""
    return _avg_pool(
        "avg_pool1d", input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1
    )


def avg_pool2d(
    input: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """The mean of each kh x kw window: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW).

    stride defaults to kernel_size; the padding (at most half the kernel) is zeros, counted
    in the mean when ``count_include_pad`` (PyTorch's default), left out otherwise.
    ``ceil_mode`` keeps a last, partial window, averaged over the pixels it covers.
    ``divisor_override`` divides every window's sum by that number instead."""
    return _avg_pool(
        "avg_pool2d", input, kernel_size, stride, padding, ceil_mode, count_include_pad,
        divisor_override, 2,
    )  # fmt: skip


def _adaptive_size(name: str, output_size: Any, size: tuple[int, ...]) -> tuple[int, ...]:
    nd = len(size)
    values = (output_size,) * nd if output_size is None or _is_int(output_size) else output_size
    if not isinstance(values, (tuple, list)) or len(values) != nd:
        raise ValueError(
            f"{name}: output_size must be an int or a tuple of {nd} ints (or None), "
            f"got {output_size!r}"
        )
    out = tuple(n if v is None else v for v, n in zip(values, size))
    if not all(_is_int(v) and v >= 1 for v in out):
        raise ValueError(f"{name}: output_size must be positive ints, got {output_size!r}")
    return tuple(int(v) for v in out)


def _averaging_matrix(size: int, out: int, dtype: Any) -> np.ndarray:
    """(out, size): row i averages PyTorch's adaptive window i, the pixels from
    floor(i*size/out) to ceil((i+1)*size/out) (exclusive)."""
    i = np.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    pixels = np.arange(size)
    inside = (pixels >= start[:, None]) & (pixels < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def adaptive_avg_pool2d(input: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Average pooling to a given output size (OH, OW) whatever the input's (H, W):
    (N, C, H, W) or (C, H, W) -> (N, C, OH, OW). Output row i averages input rows
    floor(i*H/OH) to ceil((i+1)*H/OH) (exclusive), and columns alike; None keeps a size.

    When OH divides H (and OW divides W) the windows are side by side: a reshape and a mean.
    Otherwise the windows may differ in size and overlap, and the pooling is two matrix
    products with averaging matrices, A_h (OH, H) @ x @ A_w^T (W, OW)."""
    name = "adaptive_avg_pool2d"
    x, batched = _as_batch(name, input, 2)
    (n, c, h, w), (oh, ow) = x.shape, _adaptive_size(name, output_size, x.shape[2:])
    if h % oh == 0 and w % ow == 0:
        y = x.reshape(n, c, oh, h // oh, ow, w // ow).mean(axis=(3, 5))
    else:
        dtype = x.dtype if x.dtype.kind == "f" else np.float64
        rows, columns = _averaging_matrix(h, oh, dtype), _averaging_matrix(w, ow, dtype)
        y = matmul(rows, x @ columns.T)
    return _unbatch(y, batched)


# ---- im2col itself, PyTorch's layout ----------------------------------------------------------


def unfold(
    input: Tensor,
    kernel_size: int | tuple[int, int],
    dilation: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    stride: int | tuple[int, int] = 1,
) -> Tensor:
    """im2col, as PyTorch lays it out: (N, C, H, W) or (C, H, W) -> (N, C*kh*kw, L), one
    column per window position (L = OH*OW of them), rows ordered (channel, kernel row,
    kernel column). conv2d is ``weight.reshape(O, -1) @ unfold(x, k)`` reshaped."""
    name = "unfold"
    x, batched = _as_batch(name, input, 2)
    kernel = _ints(name, "kernel_size", kernel_size, 2, 1)
    dilation = _ints(name, "dilation", dilation, 2, 1)
    stride = _ints(name, "stride", stride, 2, 1)
    pads = tuple((p, p) for p in _ints(name, "padding", padding, 2, 0))
    window = _conv_window(name, x.shape, kernel, stride, dilation, pads)
    n, c = x.shape[:2]
    return _unbatch(Unfold.apply(x, window, 0).reshape(n, c * math.prod(kernel), -1), batched)


def fold(
    input: Tensor,
    output_size: int | tuple[int, int],
    kernel_size: int | tuple[int, int],
    dilation: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    stride: int | tuple[int, int] = 1,
) -> Tensor:
    """col2im, the adjoint of `unfold`: (N, C*kh*kw, L) or (C*kh*kw, L) -> (N, C, *output_size),
    each pixel the sum of the column entries of every window covering it."""
    name = "fold"
    cols = to_tensor(input)
    batched = cols.ndim == 3
    if cols.ndim not in (2, 3):
        raise ValueError(
            f"{name}: expected a 2-D (C*kh*kw, L) or 3-D (N, C*kh*kw, L) input, got input of "
            f"shape {cols.shape}"
        )
    if not batched:
        cols = cols.reshape(1, *cols.shape)
    size = _ints(name, "output_size", output_size, 2, 1)
    kernel = _ints(name, "kernel_size", kernel_size, 2, 1)
    dilation = _ints(name, "dilation", dilation, 2, 1)
    stride = _ints(name, "stride", stride, 2, 1)
    pads = tuple((p, p) for p in _ints(name, "padding", padding, 2, 0))
    n, rows, length = cols.shape
    window = _conv_window(name, (n, 0, *size), kernel, stride, dilation, pads)
    count = math.prod(kernel)
    if rows % count or length != math.prod(window.out):
        raise ValueError(
            f"{name}: input of shape {tuple(cols.shape)} does not fit output_size {size} with "
            f"kernel {_by(kernel)}: expected (N, C*{count}, {math.prod(window.out)}) "
            f"({_by(window.out)} window positions)"
        )
    cols = cols.reshape(n, rows // count, *kernel, *window.out)
    return _unbatch(Fold.apply(cols, window), batched)


# ---- modules ----------------------------------------------------------------------------------


class _ConvNd(Module):
    """What Conv1d, Conv2d and ConvTranspose2d share: arguments, parameters, initialisation."""

    _nd = 2
    _transposed = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        output_padding: Any = 0,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name, nd = type(self).__name__, self._nd
        for what, n in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not _is_int(n) or n < 1:
                raise ValueError(f"{name}: {what} must be a positive int, got {n!r}")
        groups = _groups(name, groups)
        for what, n in (("in_channels", in_channels), ("out_channels", out_channels)):
            if n % groups:
                raise ValueError(f"{name}: {what}={n} must be divisible by groups={groups}")
        if padding_mode != "zeros":
            raise NotImplementedError(
                f"{name}: padding_mode={padding_mode!r} is not implemented; only 'zeros' is"
            )
        self.in_channels, self.out_channels, self.groups = (
            int(in_channels),
            int(out_channels),
            groups,
        )
        self.kernel_size = _ints(name, "kernel_size", kernel_size, nd, 1)
        self.stride = _ints(name, "stride", stride, nd, 1)
        self.dilation = _ints(name, "dilation", dilation, nd, 1)
        self.output_padding = _ints(name, "output_padding", output_padding, nd, 0)
        _check_output_padding(name, self.output_padding, self.stride, self.dilation)
        if isinstance(padding, str) and not self._transposed:
            _conv_padding(name, padding, nd, self.kernel_size, self.stride, self.dilation)
            self.padding = padding
        else:
            self.padding = _ints(name, "padding", padding, nd, 0)
        self.padding_mode = padding_mode
        self.transposed = self._transposed
        if self._transposed:
            shape = (self.in_channels, self.out_channels // groups, *self.kernel_size)
        else:
            shape = (self.out_channels, self.in_channels // groups, *self.kernel_size)
        dtype = dtype_or_default(dtype)
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_ with a = sqrt(5), i.e. U(-1/sqrt(fan_in),
        1/sqrt(fan_in)) with fan_in = weight.shape[1] * kernel size, and the same bound for
        the bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def _input(self, x: Any) -> Tensor:
        """Check the input's rank and channels (the error names the layer), convert it to the
        layer's dtype."""
        x = to_tensor(x)
        _batched(type(self).__name__, x, self._nd)
        channels = x.shape[-self._nd - 1]
        if channels != self.in_channels:
            raise ValueError(
                f"{type(self).__name__}(in_channels={self.in_channels}): expected input with "
                f"{self.in_channels} channels, got input of shape {x.shape}"
            )
        if x.dtype != self.weight.dtype:  # a float32 model stays float32 for any input
            x = x.astype(self.weight.dtype)
        return x

    def extra_repr(self) -> str:
        nd = self._nd
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * nd:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


class _Conv(_ConvNd):
    """The forward Conv1d and Conv2d share: ``_conv`` over ``_nd`` spatial dimensions."""

    def forward(self, input: Any) -> Tensor:
        return _conv(
            type(self).__name__, self._input(input), self.weight, self.bias, self.stride,
            self.padding, self.dilation, self.groups, self._nd,
        )  # fmt: skip


class Conv1d(_Conv):
    """A 1-d convolution layer: (N, C_in, L) or (C_in, L) -> (N, C_out, L_out), see `conv1d`.

    ``weight`` (out_channels, in_channels/groups, kernel_size) and ``bias`` (out_channels,),
    PyTorch's layout and default initialisation; float64 unless ``dtype`` is given."""

    _nd = 1

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] = 1,
        padding: int | tuple[int] | str = 0,
        dilation: int | tuple[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
            padding_mode, 0, dtype,
        )  # fmt: skip


class Conv2d(_Conv):
    """A 2-d convolution layer: (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, OH, OW), see
    `conv2d` for the sizes and the sum it computes.

    ``weight`` (out_channels, in_channels/groups, kh, kw) and ``bias`` (out_channels,),
    PyTorch's layout and default initialisation; float64 unless ``dtype`` is given (an input
    of another dtype is converted to it).

    >>> conv = nn.Conv2d(1, 8, kernel_size=3, padding=1)   # (N, 1, 8, 8) -> (N, 8, 8, 8)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
            padding_mode, 0, dtype,
        )  # fmt: skip


class ConvTranspose2d(_ConvNd):
    """A transposed 2-d convolution layer (upsampling): (N, C_in, H, W) or (C_in, H, W) ->
    (N, C_out, OH, OW), see `conv_transpose2d`.

    ``weight`` (in_channels, out_channels/groups, kh, kw), the transpose of Conv2d's, and
    ``bias`` (out_channels,), PyTorch's layout and default initialisation. ``forward`` takes an
    optional ``output_size`` that chooses output_padding, as in PyTorch."""

    _transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, int] = 1,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
            padding_mode, output_padding, dtype,
        )  # fmt: skip

    def _output_padding(self, x: Tensor, output_size: Any) -> tuple[int, ...]:
        if output_size is None:
            return self.output_padding
        wanted = tuple(output_size)[-2:]
        smallest = tuple(
            (n - 1) * s - 2 * p + d * (k - 1) + 1
            for n, s, p, d, k in zip(
                x.shape[-2:], self.stride, self.padding, self.dilation, self.kernel_size
            )
        )
        extra = tuple(int(w) - m for w, m in zip(wanted, smallest))
        if len(wanted) != 2 or any(not 0 <= e < s for e, s in zip(extra, self.stride)):
            largest = tuple(m + s - 1 for m, s in zip(smallest, self.stride))
            raise ValueError(
                f"ConvTranspose2d: output_size {tuple(output_size)} is not possible for input "
                f"of shape {x.shape}: sizes from {smallest} to {largest} are"
            )
        return extra

    def forward(self, input: Any, output_size: Sequence[int] | None = None) -> Tensor:
        x = self._input(input)
        return _conv_transpose(
            "ConvTranspose2d", x, self.weight, self.bias, self.stride, self.padding,
            self._output_padding(x, output_size), self.groups, self.dilation, 2,
        )  # fmt: skip


class _MaxPoolNd(Module):
    _nd = 2

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Any) -> Any:
        return _max_pool(
            type(self).__name__, input, self.kernel_size, self.stride, self.padding,
            self.dilation, self.ceil_mode, self.return_indices, self._nd,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPoolNd):
    """``max_pool1d`` as a layer: (N, C, L) or (C, L) -> (N, C, L_out)."""

    _nd = 1


class MaxPool2d(_MaxPoolNd):
    """``max_pool2d`` as a layer: the maximum of each kernel_size window,
    (N, C, H, W) or (C, H, W) -> (N, C, OH, OW). stride defaults to kernel_size.

    >>> pool = nn.MaxPool2d(2)   # (N, C, 8, 8) -> (N, C, 4, 4)
    """


class _AvgPoolNd(Module):
    _nd = 2

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Any) -> Tensor:
        return _avg_pool(
            type(self).__name__, input, self.kernel_size, self.stride, self.padding,
            self.ceil_mode, self.count_include_pad, self.divisor_override, self._nd,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """``avg_pool1d`` as a layer: (N, C, L) or (C, L) -> (N, C, L_out)."""

    _nd = 1

    def __init__(
        self,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] | None = None,
        padding: int | tuple[int] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """``avg_pool2d`` as a layer: the mean of each kernel_size window,
    (N, C, H, W) or (C, H, W) -> (N, C, OH, OW). stride defaults to kernel_size."""


class AdaptiveAvgPool2d(Module):
    """``adaptive_avg_pool2d`` as a layer: average pooling to a fixed output size, whatever
    the input's size. ``AdaptiveAvgPool2d(1)`` is global average pooling, (N, C, H, W) ->
    (N, C, 1, 1)."""

    def __init__(self, output_size: int | tuple[int | None, int | None]) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Any) -> Tensor:
        return adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``: ``Unflatten(1, (1, 8, 8))`` turns
    (N, 64) into (N, 1, 8, 8). One size may be -1 (inferred). The inverse of `Flatten`."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        if not _is_int(dim):
            raise TypeError(f"Unflatten: dim must be an int, got {dim!r}")
        sizes = unflattened_size
        if not isinstance(sizes, (tuple, list)) or not all(_is_int(n) for n in sizes):
            raise TypeError(
                f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r}"
            )
        if sum(1 for n in sizes if n == -1) > 1 or any(n < -1 for n in sizes):
            raise ValueError(
                f"Unflatten: unflattened_size must be non-negative ints with at most one -1, "
                f"got {tuple(sizes)}"
            )
        self.dim, self.unflattened_size = int(dim), tuple(int(n) for n in sizes)

    def forward(self, input: Any) -> Tensor:
        x = to_tensor(input)
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(
                f"Unflatten: dim {self.dim} is out of range for input of shape {x.shape}"
            )
        dim = self.dim % x.ndim
        length, sizes = x.shape[dim], self.unflattened_size
        known = math.prod(n for n in sizes if n != -1)
        if -1 in sizes and known and length % known == 0:
            sizes = tuple(length // known if n == -1 else n for n in sizes)
        if math.prod(sizes) != length or -1 in sizes:
            raise ValueError(
                f"Unflatten: cannot split dimension {self.dim} of size {length} into "
                f"{self.unflattened_size} (the sizes must multiply to {length}); input of "
                f"shape {x.shape}"
            )
        return x.reshape(x.shape[:dim] + sizes + x.shape[dim + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
