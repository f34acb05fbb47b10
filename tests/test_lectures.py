"""The lecture scripts of demos/lectures/, written for PyTorch, run here with only their imports
changed, and give PyTorch's figures (exactly where both draw the same numbers, and up to their
random streams where each library draws its own)."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("names")
torch = pytest.importorskip("torch")

LECTURES = Path(__file__).resolve().parent.parent / "demos" / "lectures"


def lecture(name):
    sys.path.insert(0, str(LECTURES))
    try:
        spec = importlib.util.spec_from_file_location(f"lecture_{name}", LECTURES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(LECTURES))
    return module


@pytest.fixture(autouse=True)
def default_dtypes():
    """The scripts may set the default dtype; each test starts and ends with the defaults."""
    import tinygrad_edu as tg

    ours, theirs = tg.get_default_dtype(), torch.get_default_dtype()
    yield
    tg.set_default_dtype(ours)
    torch.set_default_dtype(theirs)


def test_micrograd_lecture_gives_pytorchs_numbers(capsys):
    run = lecture("micrograd").run
    ours, theirs = run(use_torch=False), run(use_torch=True)
    assert ours["graph"] == pytest.approx(theirs["graph"], rel=1e-12)
    assert ours["graph"]["L"] == -8.0 and ours["graph"]["dL/da"] == 6.0
    assert ours["neuron"] == pytest.approx(theirs["neuron"], rel=1e-12)
    np.testing.assert_allclose(ours["losses"], theirs["losses"], rtol=1e-10)
    assert ours["losses"][-1] < ours["losses"][0] / 10


def test_makemore_bigram_counts_and_trains_as_pytorch(capsys):
    run = lecture("makemore_bigram").run
    ours, theirs = run(use_torch=False), run(use_torch=True)
    np.testing.assert_array_equal(ours["N"].numpy(), theirs["N"].numpy())
    assert str(ours["N"].dtype) == "int32"
    assert ours["counts_loss"] == pytest.approx(theirs["counts_loss"], rel=1e-6)
    letters = set("abcdefghijklmnopqrstuvwxyz")
    assert all(set(name) <= letters for name in ours["samples"])
    # different random weights at the start; the same model learnt
    assert ours["losses"][-1] == pytest.approx(theirs["losses"][-1], rel=0.03)
    assert ours["losses"][-1] < ours["losses"][0]


def test_makemore_mlp_reaches_pytorchs_loss(capsys):
    run = lecture("makemore_mlp").run
    ours, theirs = run(use_torch=False, steps=600), run(use_torch=True, steps=600)
    assert ours["train"] == pytest.approx(theirs["train"], abs=0.12)
    assert ours["dev"] == pytest.approx(theirs["dev"], abs=0.12)
    assert ours["dev"] < 2.6


def test_makemore_manual_backprop_agrees_with_autograd(capsys):
    run = lecture("makemore_backprop").run
    ours, theirs = run(use_torch=False), run(use_torch=True)
    assert set(ours["checks"]) == set(theirs["checks"])
    assert len(ours["checks"]) == 28
    assert all(ours["checks"].values()), [k for k, ok in ours["checks"].items() if not ok]
    assert all(theirs["checks"].values())
    assert ours["loss"] == pytest.approx(theirs["loss"], abs=0.3)  # different random weights
    assert "approximate: True" in capsys.readouterr().out
