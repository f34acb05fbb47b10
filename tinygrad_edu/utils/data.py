"""``tg.utils.data``, PyTorch's module path for datasets and loaders::

    from tinygrad_edu.utils.data import DataLoader, TensorDataset, random_split

``TensorDataset`` and ``DataLoader`` are the library's own (``tinygrad_edu/data.py``);
``Dataset`` (the base class to subclass), ``Subset`` and ``random_split`` are here.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from ..creation import randperm
from ..data import DataLoader, TensorDataset

__all__ = ["DataLoader", "Dataset", "Subset", "TensorDataset", "random_split"]


class Dataset:
    """The base of a map-style dataset: subclass it and define ``__len__`` (the number of
    samples) and ``__getitem__(i)`` (sample i, a tuple such as ``(x, y)``); a DataLoader
    then batches it."""

    def __getitem__(self, index: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``: ``subset[i]`` is ``dataset[indices[i]]``."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, list):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        return f"Subset({len(self)} of {len(self.dataset)} samples)"


def random_split(
    dataset: Any, lengths: Sequence[int | float], generator: Any = None
) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets of the given ``lengths``, which
    sum to ``len(dataset)``, or are fractions summing to 1 (each gets floor(fraction * n)
    samples, and the samples left over go one each to the first subsets, as PyTorch).
    ``generator`` (a ``tg.Generator``) makes the split reproducible."""
    n = len(dataset)
    lengths = list(lengths)
    if any(not isinstance(x, numbers.Real) or isinstance(x, bool) for x in lengths):
        raise TypeError(f"random_split: lengths must be numbers, got {lengths!r}")
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        lengths = _lengths_of_fractions(lengths, n)
    if any(x < 0 or x != int(x) for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative ints, got {lengths!r}")
    if sum(lengths) != n:
        raise ValueError(
            "Sum of input lengths does not equal the length of the input dataset! "
            f"(lengths {lengths} sum to {sum(lengths)}, the dataset has {n} samples)"
        )
    order = randperm(n, generator=generator).tolist()
    subsets, start = [], 0
    for length in lengths:
        subsets.append(Subset(dataset, order[start : start + int(length)]))
        start += int(length)
    return subsets


def _lengths_of_fractions(fractions: list, n: int) -> list[int]:
    for i, fraction in enumerate(fractions):
        if not 0 <= fraction <= 1:
            raise ValueError(f"Fraction at index {i} is not between 0 and 1")
    lengths = [math.floor(n * fraction) for fraction in fractions]
    for i in range(n - sum(lengths)):  # the remainder, one each, round-robin
        lengths[i % len(lengths)] += 1
    return lengths
