"""Attention: the `MultiheadAttention` layer, with PyTorch's arguments, shapes, masks and
parameter layout, on ``F.scaled_dot_product_attention`` (in ``functional.py``).

Each query looks at every key, turns the similarities into weights that sum to 1, and returns
the weighted mean of the values::

    weights = softmax(Q K^T * scale + mask)        (..., L, S): row i sums to 1
    output  = weights V                            (..., L, Ev)

with L queries, S keys and values, E the size of a query or key, ``scale = 1 / sqrt(E)``
unless given. Everything here is composed from differentiable Tensor operations (matmul,
``where``, ``softmax`` over the last axis), so the gradients come from the primitives.

Masks, which mean opposite things in the two places, as in PyTorch:

* ``scaled_dot_product_attention(attn_mask=...)``: a boolean mask says which pairs *take
  part* (True = the query may look at that key); a float mask is *added* to the scores.
* ``MultiheadAttention``: a boolean ``attn_mask`` or ``key_padding_mask`` says which pairs
  are *masked out* (True = may not look); a float one is added to the scores.

A masked pair gets a score of ``-inf``, hence a weight of exactly 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..dtypes import dtype_or_default
from ..tensor import Tensor, to_tensor
from . import functional as F
from . import init
from .functional import (
    _check_dropout,
    _mask_array,
    _shape,
    _softmax_rows,
)
from .layers import Linear
from .modules import Module, Parameter

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear"]


class NonDynamicallyQuantizableLinear(Linear):
    """A `Linear` layer under the name PyTorch gives MultiheadAttention's output projection
    (the name only matters to PyTorch's quantization tools); same parameters and math."""


class MultiheadAttention(Module):
    r"""Multi-head attention, PyTorch's ``nn.MultiheadAttention``.

    The inputs are projected to queries, keys and values (``embed_dim`` each), split into
    ``num_heads`` heads of ``head_dim = embed_dim // num_heads``, attended in each head with
    ``softmax(q k^T / sqrt(head_dim) + mask) v``, joined again and projected by ``out_proj``::

        q = query W_q^T + b_q,  k = key W_k^T + b_k,  v = value W_v^T + b_v
        output = concat_h(attention(q_h, k_h, v_h)) W_o^T + b_o

    Shapes with ``batch_first=False`` (PyTorch's default): query (L, N, E), key (S, N, kdim),
    value (S, N, vdim) -> output (L, N, E); with ``batch_first=True``: (N, L, E) and so on;
    unbatched: (L, E), (S, kdim), (S, vdim) -> (L, E). The attention weights are always
    (N, L, S) (averaged over the heads) or (N, num_heads, L, S), without N when unbatched.

    Parameters, PyTorch's layout and names: ``in_proj_weight`` (3 E, E) holds W_q, W_k, W_v
    stacked (or, when kdim or vdim differ from E, ``q_proj_weight`` (E, E), ``k_proj_weight``
    (E, kdim), ``v_proj_weight`` (E, vdim)); ``in_proj_bias`` (3 E,); ``out_proj.weight``
    (E, E) and ``out_proj.bias`` (E,). Initialised as PyTorch does: xavier_uniform_ for the
    projection weights, ``out_proj.weight`` as a Linear layer, every bias 0.

    ``dropout`` drops attention weights in training mode only.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        batch_first: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for name, n in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
                raise ValueError(f"MultiheadAttention: {name} must be a positive int, got {n!r}")
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads "
                f"({num_heads}): each head gets embed_dim // num_heads features"
            )
        for name, n in (("kdim", kdim), ("vdim", vdim)):
            if n is not None and (
                isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0
            ):
                raise ValueError(f"MultiheadAttention: {name} must be a positive int, got {n!r}")
        _check_dropout("MultiheadAttention", "dropout", dropout)
        self.embed_dim = int(embed_dim)
        self.kdim = int(embed_dim if kdim is None else kdim)
        self.vdim = int(embed_dim if vdim is None else vdim)
        self._qkv_same_embed_dim = self.kdim == self.embed_dim and self.vdim == self.embed_dim
        self.num_heads = int(num_heads)
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = self.embed_dim // self.num_heads

        E = self.embed_dim
        dtype = dtype_or_default(dtype)
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * E, E), dtype=dtype))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = Parameter(np.empty((E, E), dtype=dtype))
            self.k_proj_weight = Parameter(np.empty((E, self.kdim), dtype=dtype))
            self.v_proj_weight = Parameter(np.empty((E, self.vdim), dtype=dtype))
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * E, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(E, E, bias=bias, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's initialisation: xavier_uniform_ for the input projections, zeros for
        both biases; ``out_proj.weight`` keeps the Linear layer's initialisation."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    @property
    def _name(self) -> str:
        return f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend from ``query`` to ``key``/``value``; returns ``(output, weights)``.

        - ``key_padding_mask`` (N, S), or (S,) unbatched: keys to ignore (boolean True, or a
          float added to their scores), e.g. the padding of shorter sequences.
        - ``attn_mask`` (L, S), or (N * num_heads, L, S) for one mask per sequence and head:
          pairs to mask (boolean True = may not look, or a float added to the scores).
        - ``is_causal``: a hint that ``attn_mask`` is the causal mask; as in PyTorch it needs
          ``attn_mask`` itself: ``np.triu(np.ones((L, L), dtype=bool), k=1)``, True above
          the diagonal (no looking ahead).
        - ``need_weights=False`` returns ``(output, None)``; then a query whose every key is
          masked gets output 0, whereas with weights its row is NaN, both as in PyTorch.
        - ``average_attn_weights``: average the weights over the heads (N, L, S), or keep
          them per head (N, num_heads, L, S).
        """
        query, key, value = to_tensor(query), to_tensor(key), to_tensor(value)
        batched = self._check_inputs(query, key, value)
        if is_causal and attn_mask is None:
            raise ValueError(
                f"{self._name}: is_causal=True is a hint that attn_mask is the causal mask, "
                "so it needs attn_mask too (True above the diagonal: no looking ahead)"
            )
        dtype = self.out_proj.weight.dtype
        query, key, value = (
            t if t.dtype == dtype else t.astype(dtype) for t in (query, key, value)
        )
        if not batched:  # one sequence: a batch of one
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
        elif not self.batch_first:  # (L, N, E) -> (N, L, E)
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        N, L, S = query.shape[0], query.shape[1], key.shape[1]
        bias = self._mask_bias(attn_mask, key_padding_mask, batched, N, L, S, dtype)

        q, k, v = (self._split_heads(t) for t in self._in_projection(query, key, value))
        dropout_p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            scores = (q * math.sqrt(1.0 / self.head_dim)) @ k.transpose(-2, -1)
            weights = _softmax_rows(scores, bias, empty_rows_to_zero=False)
            if dropout_p > 0:
                weights = F.dropout(weights, dropout_p, training=True)
            heads = weights @ v
        else:
            heads = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout_p)
        output = self.out_proj(heads.permute(0, 2, 1, 3).reshape(N, L, self.embed_dim))

        if not batched:
            output = output.squeeze(0)
        elif not self.batch_first:
            output = output.transpose(0, 1)
        if weights is not None:
            if average_attn_weights:
                weights = weights.mean(axis=1)
            if not batched:
                weights = weights.squeeze(0)
        return output, weights

    def _check_inputs(self, query: Tensor, key: Tensor, value: Tensor) -> bool:
        """Check the ranks and sizes of the inputs; True when they are batched."""
        shapes = f"query {query.shape}, key {key.shape}, value {value.shape}"
        if query.ndim not in (2, 3):
            raise ValueError(
                f"{self._name}: query must be 3-d (batched) or 2-d (one sequence), got {shapes}"
            )
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(
                f"{self._name}: key and value must be {query.ndim}-d like query, got {shapes}"
            )
        for name, t, size in (
            ("query", query, self.embed_dim),
            ("key", key, self.kdim),
            ("value", value, self.vdim),
        ):
            if t.shape[-1] != size:
                dim = {"query": "embed_dim", "key": "kdim", "value": "vdim"}[name]
                raise ValueError(
                    f"{self._name}: {name}'s last dimension must be {dim}={size}, got {shapes}"
                )
        if key.shape[:-1] != value.shape[:-1]:
            raise ValueError(
                f"{self._name}: key and value must have the same sequence length and batch "
                f"size, got {shapes}"
            )
        batched = query.ndim == 3
        if batched:
            axis = 0 if self.batch_first else 1
            if query.shape[axis] != key.shape[axis]:
                layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
                raise ValueError(
                    f"{self._name}: query and key have different batch sizes (axis {axis} of "
                    f"{layout}, batch_first={self.batch_first}), got {shapes}"
                )
        return batched

    def _mask_bias(
        self, attn_mask: Any, key_padding_mask: Any, batched: bool, N: int, L: int, S: int, dtype
    ) -> Any:
        """Both masks as one float bias to add to the scores (N or 1, heads or 1, L, S): a
        boolean True becomes -inf, a float mask is used as it is. None without masks."""
        H = self.num_heads
        bias = None
        if attn_mask is not None:
            mask = self._float_mask(attn_mask, "attn_mask", dtype)
            shape = _shape(mask)
            if len(shape) == 2:
                expected = (L, S)
            elif len(shape) == 3:
                expected = (N * H, L, S)
            else:
                raise ValueError(
                    f"{self._name}: attn_mask must be 2-d (L, S) or 3-d (N * num_heads, L, S), "
                    f"got shape {shape}"
                )
            if shape != expected:
                raise ValueError(
                    f"{self._name}: attn_mask of shape {shape} should be {expected} for "
                    f"{N if batched else 'no'} batch, {L} queries, {S} keys and {H} heads"
                )
            bias = mask.reshape((1, 1, L, S) if len(shape) == 2 else (N, H, L, S))
        if key_padding_mask is not None:
            mask = self._float_mask(key_padding_mask, "key_padding_mask", dtype)
            shape = _shape(mask)
            expected = (N, S) if batched else (S,)
            if shape != expected:
                raise ValueError(
                    f"{self._name}: key_padding_mask of shape {shape} should be {expected} "
                    f"({'batch, ' if batched else ''}keys)"
                )
            padding = mask.reshape((N, 1, 1, S))
            bias = padding if bias is None else bias + padding
        return bias

    def _float_mask(self, mask: Any, name: str, dtype: Any) -> Any:
        """A mask as an additive bias: True (masked) -> -inf, False -> 0; floats unchanged."""
        mask = _mask_array(mask, self._name, name)
        if isinstance(mask, np.ndarray) and mask.dtype == bool:
            return np.where(mask, -math.inf, 0.0).astype(dtype)
        if isinstance(mask, Tensor):
            return mask if mask.dtype == dtype else mask.astype(dtype)
        return np.asarray(mask, dtype=dtype)

    def _in_projection(self, query: Tensor, key: Tensor, value: Tensor) -> tuple:
        """q, k, v: (N, L, E), (N, S, E), (N, S, E)."""
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            w_q, w_k, w_v = w[:E], w[E : 2 * E], w[2 * E :]
        else:
            w_q, w_k, w_v = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        b = self.in_proj_bias
        b_q, b_k, b_v = (None, None, None) if b is None else (b[:E], b[E : 2 * E], b[2 * E :])
        return F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)

    def _split_heads(self, x: Tensor) -> Tensor:
        """(N, T, E) -> (N, num_heads, T, head_dim)."""
        N, T, _ = x.shape
        return x.reshape(N, T, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def extra_repr(self) -> str:
        text = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            text += f", kdim={self.kdim}, vdim={self.vdim}"
        if self.batch_first:
            text += ", batch_first=True"
        return text
