"""tg.data: TensorDataset and DataLoader."""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.data import DataLoader, TensorDataset


def dataset(n=10):
    X = np.arange(n * 2, dtype=np.float64).reshape(n, 2)
    y = np.arange(n)
    return TensorDataset(X, y)


def targets(loader):
    return [batch[1].tolist() for batch in loader]


# ---- TensorDataset ----------------------------------------------------------------------------


def test_dataset_from_arrays_and_tensors():
    X = np.ones((4, 3), dtype=np.float32)
    y = tg.Tensor([0, 1, 1, 0])
    ds = TensorDataset(X, y)
    assert len(ds) == 4
    assert ds.tensors[1] is y  # Tensors are used as they are
    assert ds.tensors[0].dtype == np.float32
    x2, y2 = ds[2]
    assert isinstance(x2, tg.Tensor) and isinstance(y2, tg.Tensor)
    assert x2.shape == (3,) and y2.item() == 1
    assert type(y2.data) is np.int64 and y2.shape == ()  # a 0-d sample holds a NumPy scalar


def test_dataset_index_with_an_array_gives_many_rows():
    ds = dataset()
    x, y = ds[np.array([3, 1])]
    assert y.tolist() == [3, 1]
    np.testing.assert_array_equal(x.data, [[6, 7], [2, 3]])


def test_dataset_sizes_must_match():
    with pytest.raises(ValueError, match="same first dimension.*got sizes 5, 4"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-dimensional"):
        TensorDataset(np.float64(1.0))


# ---- DataLoader ------------------------------------------------------------------------------


def test_batches_in_order_with_a_smaller_last_batch():
    loader = DataLoader(dataset(10), batch_size=4)
    assert len(loader) == 3
    assert targets(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    x, y = next(iter(loader))
    assert isinstance(x, tg.Tensor) and x.shape == (4, 2) and not x.requires_grad


def test_drop_last():
    loader = DataLoader(dataset(10), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert targets(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(dataset(8), batch_size=4, drop_last=True)) == 2
    assert len(DataLoader(dataset(3), batch_size=4, drop_last=True)) == 0
    assert targets(DataLoader(dataset(3), batch_size=4, drop_last=True)) == []


def test_default_batch_size_is_one_and_full_batch_works():
    assert targets(DataLoader(dataset(3))) == [[0], [1], [2]]
    assert targets(DataLoader(dataset(5), batch_size=100)) == [[0, 1, 2, 3, 4]]


def test_batch_size_must_be_a_positive_int():
    for bad in (0, -3):
        with pytest.raises(ValueError, match="batch_size must be at least 1"):
            DataLoader(dataset(), batch_size=bad)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        DataLoader(dataset(), batch_size=2.5)


def test_seeded_shuffle_is_reproducible_and_new_each_epoch():
    first = DataLoader(dataset(20), batch_size=6, shuffle=True, seed=7)
    second = DataLoader(dataset(20), batch_size=6, shuffle=True, seed=7)
    epochs_first = [targets(first) for _ in range(3)]
    epochs_second = [targets(second) for _ in range(3)]
    assert epochs_first == epochs_second  # the same sequence of epochs for the same seed
    assert epochs_first[0] != epochs_first[1]  # a new permutation each epoch
    for epoch in epochs_first:
        assert [len(b) for b in epoch] == [6, 6, 6, 2]
        assert sorted(sum(epoch, [])) == list(range(20))  # each sample exactly once
    other_seed = DataLoader(dataset(20), batch_size=6, shuffle=True, seed=8)
    assert targets(other_seed) != epochs_first[0]


def test_shuffled_rows_stay_together():
    for x, y in DataLoader(dataset(10), batch_size=3, shuffle=True, seed=0):
        np.testing.assert_array_equal(x.data[:, 0], 2 * y.data)


def test_shuffle_without_seed_follows_manual_seed():
    loader = DataLoader(dataset(30), batch_size=30, shuffle=True)
    tg.manual_seed(123)
    a = targets(loader)
    tg.manual_seed(123)
    b = targets(loader)
    assert a == b and a != [list(range(30))]


def test_shuffle_drop_last_leaves_out_a_random_remainder():
    loader = DataLoader(dataset(10), batch_size=4, shuffle=True, drop_last=True, seed=3)
    epoch = targets(loader)
    assert [len(b) for b in epoch] == [4, 4]
    assert len(set(sum(epoch, []))) == 8


def test_tensor_dataset_batches_are_indexed_whole_not_row_by_row(monkeypatch):
    def one_row(self, index):
        raise AssertionError("DataLoader read a TensorDataset one row at a time")

    monkeypatch.setattr(TensorDataset, "__getitem__", one_row)
    loader = DataLoader(dataset(10), batch_size=4, shuffle=True, seed=0)
    assert sum(len(b) for b in targets(loader)) == 10


def test_changing_a_batch_in_place_leaves_the_dataset_alone():
    ds = dataset(4)
    x, _ = next(iter(DataLoader(ds, batch_size=2)))
    x += 100.0
    assert x.data[0, 0] == 100.0
    np.testing.assert_array_equal(ds.tensors[0].data[0], [0.0, 1.0])


def test_any_dataset_with_len_and_getitem_is_stacked():
    samples = [(np.array([i, i + 0.5]), i % 2) for i in range(5)]
    loader = DataLoader(samples, batch_size=2)
    batches = list(loader)
    assert len(batches) == 3
    x, y = batches[0]
    np.testing.assert_array_equal(x.data, [[0, 0.5], [1, 1.5]])
    assert y.tolist() == [0, 1]
    assert batches[2][0].shape == (1, 2)


def test_repr():
    assert "5 samples" in repr(dataset(5))
    assert "3 batches of 2" in repr(DataLoader(dataset(5), batch_size=2))


def test_a_generator_orders_the_shuffle_as_in_pytorch_code():
    dataset = TensorDataset(np.arange(10.0))

    def order(loader):
        return [float(v) for (batch,) in loader for v in batch.data]

    first = order(DataLoader(dataset, 3, shuffle=True, generator=tg.Generator().manual_seed(5)))
    again = order(DataLoader(dataset, 3, shuffle=True, generator=tg.Generator().manual_seed(5)))
    other = order(DataLoader(dataset, 3, shuffle=True, generator=tg.Generator().manual_seed(6)))
    assert first == again and first != other and sorted(first) == list(range(10))
    with pytest.raises(ValueError, match="give seed or generator, not both"):
        DataLoader(dataset, 3, seed=1, generator=tg.Generator())
    with pytest.raises(TypeError, match="generator must be a tg.Generator, got int"):
        DataLoader(dataset, 3, generator=5)
