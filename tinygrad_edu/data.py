"""Datasets and mini-batches.

A ``TensorDataset`` holds arrays that share their first dimension (inputs, targets, ...); a
``DataLoader`` walks through it in batches, shuffled or not::

    train = tg.data.TensorDataset(X_train, y_train)        # NumPy arrays or Tensors
    loader = tg.data.DataLoader(train, batch_size=32, shuffle=True, seed=0)
    for x, y in loader:                                     # x: (32, n_features), y: (32, ...)
        ...

``batch_size=len(train)`` gives full-batch gradient descent, as in the source documents.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .creation import Generator, generator
from .tensor import Tensor


class TensorDataset:
    """Rows of several arrays taken together: ``dataset[i]`` is ``(X[i], y[i], ...)`` as a
    tuple of Tensors.

    Every array must have the same first dimension (the number of samples). NumPy arrays and
    lists are copied into Tensors once, here; Tensors are used as they are.
    """

    def __init__(self, *tensors: Tensor | np.ndarray) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one array")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        for i, t in enumerate(self.tensors):
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: array {i} is 0-dimensional; it has no rows")
        sizes = [t.shape[0] for t in self.tensors]
        if len(set(sizes)) > 1:
            raise ValueError(
                "TensorDataset: all arrays need the same first dimension (number of samples), "
                f"got sizes {', '.join(map(str, sizes))}"
            )

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        """``dataset[3]`` gives one sample; an array or slice of indices gives many at once."""
        return tuple([_wrap(t.data[index]) for t in self.tensors])

    def __repr__(self) -> str:
        shapes = ", ".join(str(t.shape) for t in self.tensors)
        return f"TensorDataset({len(self)} samples; shapes {shapes})"


class DataLoader:
    """Iterate over a dataset in batches: each batch is a tuple of Tensors whose first
    dimension is at most ``batch_size``.

    - ``shuffle=True`` draws a new order every epoch (every ``for`` loop over the loader). With
      ``seed``, or a ``generator=tg.Generator().manual_seed(n)`` as in PyTorch, the sequence of
      orders is the same on every run; without either the library's generator is used, which
      ``tg.manual_seed`` seeds.
    - ``drop_last=True`` leaves out the last batch when it would be smaller than the others.
    - ``len(loader)`` is the number of batches per epoch.

    A ``TensorDataset`` is indexed with all the batch's indices at once (one NumPy call per
    array); any other dataset (with ``__len__`` and ``__getitem__`` returning a tuple) is read
    sample by sample and the samples are stacked.
    """

    def __init__(
        self,
        dataset: TensorDataset | Sequence,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        generator: Generator | None = None,
    ) -> None:
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: give seed or generator, not both")
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(
                f"DataLoader: generator must be a tg.Generator, got {type(generator).__name__}"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be at least 1, got {batch_size}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.generator = generator
        self._rng = None if seed is None else np.random.default_rng(seed)
        if generator is not None:
            self._rng = generator.numpy_generator

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return (n + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        n = len(self.dataset)
        order = None
        if self.shuffle:
            rng = self._rng if self._rng is not None else generator()
            order = rng.permutation(n)
        for b in range(len(self)):
            start = b * self.batch_size
            stop = min(start + self.batch_size, n)
            if order is not None:
                yield self._batch(order[start:stop])
            else:
                yield self._batch(slice(start, stop))

    def _batch(self, index: np.ndarray | slice) -> tuple[Tensor, ...]:
        if isinstance(self.dataset, TensorDataset):
            # tuple([...]) rather than tuple(... for ...): a list is quicker to build than a generator
            return tuple([_wrap(t.data[index]) for t in self.dataset.tensors])
        rows = range(len(self.dataset))[index] if isinstance(index, slice) else index
        samples = [self.dataset[int(i)] for i in rows]
        return tuple(
            _wrap(np.stack([np.asarray(s[k]) for s in samples])) for k in range(len(samples[0]))
        )

    def __repr__(self) -> str:
        return (
            f"DataLoader({len(self)} batches of {self.batch_size}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last}, seed={self.seed})"
        )


def _wrap(array: Any) -> Tensor:
    """A batch as a Tensor without copying again. A slice of the dataset is a view of it, so
    it is made read-only: changing a batch in place cannot change the dataset."""
    if type(array) is not np.ndarray:  # the NumPy scalar of dataset[i] on 1-D data
        return Tensor._from_op(array, None)  # what a 0-d tensor holds (immutable)
    if array.base is not None:
        array = array.view()
        array.flags.writeable = False
    return Tensor._from_op(array, None)
