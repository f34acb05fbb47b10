"""tg.save / tg.load: npz without pickle, order kept, nested optimizer states, a new process."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn, optim

REPO = Path(__file__).resolve().parents[1]


def test_model_state_dict_round_trip_keeps_order_values_and_dtypes(tmp_path):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    state = model.state_dict()
    tg.save(state, tmp_path / "model.npz")
    loaded = tg.load(tmp_path / "model.npz")
    assert list(loaded) == list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for key in state:
        assert loaded[key].dtype == state[key].dtype
        assert np.array_equal(loaded[key], state[key])


def test_order_is_the_saved_order_not_sorted(tmp_path):
    state = {"z": np.zeros(1), "a": np.ones(2), "m.0.w": np.arange(3.0)}
    tg.save(state, tmp_path / "s.npz")
    assert list(tg.load(tmp_path / "s.npz")) == ["z", "a", "m.0.w"]


def test_float32_and_integer_arrays_keep_their_dtype(tmp_path):
    state = {"w": np.ones((2, 2), dtype=np.float32), "n": np.arange(3), "flag": np.array(True)}
    tg.save(state, tmp_path / "s")
    loaded = tg.load(tmp_path / "s")
    assert [v.dtype for v in loaded.values()] == [np.float32, np.int64, np.bool_]


def test_the_file_is_plain_npz_with_readable_names(tmp_path):
    opt_state = {"state": {0: {"step": 2, "exp_avg": np.ones(3)}}, "param_groups": []}
    tg.save({"0.weight": np.eye(2)}, tmp_path / "m.npz")
    tg.save(opt_state, tmp_path / "o.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        assert np.array_equal(f["0.weight"], np.eye(2))
    with np.load(tmp_path / "o.npz", allow_pickle=False) as f:
        assert np.array_equal(f["state/0/exp_avg"], np.ones(3))
        assert '["step", 2]' in str(f["__structure__"])


def test_npz_suffix_is_added_like_np_savez(tmp_path):
    written = tg.save({"a": np.ones(1)}, str(tmp_path / "weights"))
    assert written == tmp_path / "weights.npz" and written.exists()
    assert not (tmp_path / "weights").exists()
    assert list(tg.load(tmp_path / "weights")) == ["a"]  # the name given to save works
    assert list(tg.load(str(tmp_path / "weights.npz"))) == ["a"]
    assert tg.save({"a": np.ones(1)}, tmp_path / "x.npz") == tmp_path / "x.npz"
    assert tg.save({"a": np.ones(1)}, tmp_path / "ckpt.v1") == tmp_path / "ckpt.v1.npz"


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        tg.load(tmp_path / "nothing.npz")


def test_optimizer_state_dict_round_trips_exactly(tmp_path):
    a = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = tg.Tensor(np.array(0.5), requires_grad=True)
    opt = optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.1}], amsgrad=True)
    a.grad, b.grad = tg.Tensor([0.1, -0.2]), tg.Tensor(0.3)
    opt.step()
    state = opt.state_dict()
    tg.save(state, tmp_path / "opt")
    loaded = tg.load(tmp_path / "opt")
    assert loaded["param_groups"] == state["param_groups"]
    assert loaded["param_groups"][0]["betas"] == (0.9, 0.999)  # a tuple again
    assert list(loaded["state"]) == [0, 1]  # int keys again
    for i in (0, 1):
        assert loaded["state"][i]["step"] == 1 and isinstance(loaded["state"][i]["step"], int)
        for key, value in state["state"][i].items():
            if isinstance(value, np.ndarray):
                assert np.array_equal(loaded["state"][i][key], value)
                assert loaded["state"][i][key].shape == value.shape


def test_nested_values_of_every_kind(tmp_path):
    obj = {
        "model": {"w": np.arange(4.0).reshape(2, 2)},
        0: "zero as int",
        "0": "zero as str",
        "list": [1, 2.5, None, True, "text", [np.ones(1)]],
        "tuple": (float("inf"), -0.0, 1e-300),
        "scalar": np.float32(0.1),
        "tensor": tg.Tensor([1.0, 2.0]),
    }
    tg.save(obj, tmp_path / "all")
    loaded = tg.load(tmp_path / "all")
    assert list(loaded) == list(obj)
    assert loaded[0] == "zero as int" and loaded["0"] == "zero as str"
    assert loaded["list"][:5] == [1, 2.5, None, True, "text"]
    assert np.array_equal(loaded["list"][5][0], np.ones(1))
    assert loaded["tuple"] == (float("inf"), -0.0, 1e-300)
    assert np.copysign(1.0, loaded["tuple"][1]) == -1.0
    assert loaded["scalar"] == np.float32(0.1) and loaded["scalar"].dtype == np.float32
    assert np.array_equal(loaded["tensor"], [1.0, 2.0])
    assert np.array_equal(loaded["model"]["w"], obj["model"]["w"])


def test_object_arrays_are_refused(tmp_path):
    np.savez(tmp_path / "evil.npz", payload=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        tg.load(tmp_path / "evil.npz")
    with pytest.raises(TypeError, match="dtype object"):
        tg.save({"a": np.array([1, "x", None], dtype=object)}, tmp_path / "o")


def test_unsupported_values_are_refused(tmp_path):
    with pytest.raises(TypeError, match="cannot save a set"):
        tg.save({"a": {1, 2}}, tmp_path / "s")
    with pytest.raises(TypeError, match="dict keys must be str or int"):
        tg.save({(1, 2): np.ones(1)}, tmp_path / "s")


def test_a_file_written_by_np_savez_loads_as_a_dict(tmp_path):
    np.savez(tmp_path / "plain.npz", b=np.ones(2), a=np.zeros(3))
    loaded = tg.load(tmp_path / "plain.npz")
    assert list(loaded) == ["b", "a"]
    assert np.array_equal(loaded["a"], np.zeros(3))


def test_model_predicts_bit_identically_in_a_new_process(tmp_path):
    tg.manual_seed(5)
    model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 2))
    opt = optim.Adam(model.parameters(), lr=0.05)
    x = np.random.default_rng(0).normal(size=(7, 3))
    for _ in range(5):  # weights that are not the initial ones
        opt.zero_grad()
        (model(tg.Tensor(x)) ** 2).mean().backward()
        opt.step()
    with tg.no_grad():
        expected = model(tg.Tensor(x)).data
    tg.save(model.state_dict(), tmp_path / "model.npz")
    np.save(tmp_path / "x.npy", x)

    script = textwrap.dedent(
        f"""
        import numpy as np
        import tinygrad_edu as tg
        from tinygrad_edu import nn
        tg.manual_seed(999)  # different initial weights, all replaced by the loaded ones
        model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 2))
        model.load_state_dict(tg.load({str(tmp_path / "model.npz")!r}))
        x = np.load({str(tmp_path / "x.npy")!r})
        with tg.no_grad():
            np.save({str(tmp_path / "y.npy")!r}, model(tg.Tensor(x)).data)
        """
    )
    subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, check=True, capture_output=True, timeout=60
    )
    predicted = np.load(tmp_path / "y.npy")
    assert predicted.dtype == expected.dtype
    assert np.array_equal(predicted, expected)  # bit for bit


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
        lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
        lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    ],
    ids=["SGD", "Adam", "RMSprop"],
)
def test_model_and_optimizer_checkpoint_resumes_bit_exactly(make_optimizer, tmp_path):
    from tinygrad_edu.data import DataLoader, TensorDataset

    rng = np.random.default_rng(0)
    data = TensorDataset(rng.normal(size=(24, 3)), rng.normal(size=(24, 1)))
    loader = DataLoader(data, batch_size=8)

    def new_model(seed):
        tg.manual_seed(seed)
        return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))

    def train(model, opt, epochs):
        tg.train.fit(model, nn.functional.mse_loss, opt, loader, epochs, progress=False)

    model = new_model(0)
    opt = make_optimizer(model.parameters())
    train(model, opt, 3)
    checkpoint = {"model": model.state_dict(), "optimizer": opt.state_dict()}
    tg.save(checkpoint, tmp_path / "checkpoint")
    train(model, opt, 3)  # the run that never stopped

    resumed = new_model(1)  # other initial weights, replaced by the checkpoint's
    resumed_opt = make_optimizer(resumed.parameters())
    loaded = tg.load(tmp_path / "checkpoint")
    resumed.load_state_dict(loaded["model"])
    resumed_opt.load_state_dict(loaded["optimizer"])
    train(resumed, resumed_opt, 3)
    for (name, a), b in zip(model.state_dict().items(), resumed.state_dict().values()):
        assert np.array_equal(a, b), name  # bit for bit
