"""Grad mode: no_grad / enable_grad / set_grad_enabled as context managers and decorators,
nested, restored after exceptions, local to each thread; and what no_grad records (nothing)."""

import threading
import weakref

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor

pytestmark = pytest.mark.usefixtures("grad_mode_restored")


def test_no_grad_records_nothing():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = (x * 2.0).exp().sum()
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


OPS = {
    "mul": lambda x: x * 2.0,
    "exp": lambda x: x.exp(),
    "matmul": lambda x: x @ x.T,
    "index": lambda x: x[np.array([0, 0])],
    "max": lambda x: x.max(axis=0),
    "reshape": lambda x: x.reshape(-1),
    "softmax": lambda x: x.softmax(),
    "cat": lambda x: tg.cat([x, x]),
    "where": lambda x: tg.where(x.data > 0, x, 0.0),
}


@pytest.mark.parametrize("op", OPS.values(), ids=OPS.keys())
def test_no_grad_keeps_no_reference_to_the_inputs(op):
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    probe = weakref.ref(x)
    with tg.no_grad():
        y = op(x)
    del x
    assert probe() is None
    assert y.grad_fn is None


def test_the_same_ops_with_grad_do_keep_their_inputs():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    probe = weakref.ref(x)
    y = x.exp()
    del x
    assert probe() is not None and y.grad_fn is not None


def test_nesting_and_restoring():
    with tg.no_grad():
        with tg.enable_grad():
            assert tg.is_grad_enabled()
            with tg.no_grad():
                assert not tg.is_grad_enabled()
            assert tg.is_grad_enabled()
            x = Tensor(1.0, requires_grad=True)
            assert (x * 2.0).requires_grad
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()


def test_restored_after_an_exception():
    with pytest.raises(KeyError):
        with tg.no_grad():
            raise KeyError("inside")
    assert tg.is_grad_enabled()
    with tg.no_grad():
        with pytest.raises(KeyError):
            with tg.enable_grad():
                raise KeyError("inside")
        assert not tg.is_grad_enabled()


def test_no_grad_as_a_decorator():
    @tg.no_grad()
    def evaluate(x):
        """Evaluate without a graph."""
        return tg.is_grad_enabled(), x * 2.0

    assert tg.is_grad_enabled()  # decorating changes nothing
    enabled, y = evaluate(Tensor(1.0, requires_grad=True))
    assert not enabled and not y.requires_grad
    assert tg.is_grad_enabled()
    assert evaluate.__name__ == "evaluate" and "without a graph" in evaluate.__doc__


def test_decorated_function_restores_after_an_exception_and_recursion():
    @tg.no_grad()
    def failing():
        raise ValueError("boom")

    with pytest.raises(ValueError):
        failing()
    assert tg.is_grad_enabled()

    @tg.enable_grad()
    def depth(n):
        assert tg.is_grad_enabled()
        if n:
            with tg.no_grad():
                depth(n - 1)
                assert not tg.is_grad_enabled()
        return n

    depth(3)
    assert tg.is_grad_enabled()


def test_enable_grad_decorator_inside_no_grad():
    @tg.enable_grad()
    def make(x):
        return x * 3.0

    x = Tensor(1.0, requires_grad=True)
    with tg.no_grad():
        y = make(x)
        assert not tg.is_grad_enabled()
    y.backward()
    assert x.grad.item() == 3.0


def test_set_grad_enabled_as_a_call_a_context_and_a_decorator():
    tg.set_grad_enabled(False)
    try:
        assert not tg.is_grad_enabled()
    finally:
        tg.set_grad_enabled(True)
    assert tg.is_grad_enabled()

    with tg.set_grad_enabled(False):
        assert not tg.is_grad_enabled()
        with tg.set_grad_enabled(True):
            assert tg.is_grad_enabled()
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()

    @tg.set_grad_enabled(False)
    def inside():
        return tg.is_grad_enabled()

    assert tg.is_grad_enabled(), "decorating with set_grad_enabled(False) switched grad off"
    assert inside() is False
    assert tg.is_grad_enabled()


def test_a_context_object_can_be_reused():
    mode = tg.no_grad()
    for _ in range(2):
        with mode:
            assert not tg.is_grad_enabled()
        assert tg.is_grad_enabled()
    switch = tg.set_grad_enabled(False)
    tg.set_grad_enabled(True)
    with switch:
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    with switch:
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()


def test_grad_mode_is_local_to_the_thread():
    inside, checked = threading.Event(), threading.Event()
    seen = {}

    def other_thread():
        with tg.no_grad():
            inside.set()
            checked.wait(5)
            seen["other"] = tg.is_grad_enabled()

    worker = threading.Thread(target=other_thread)
    worker.start()
    assert inside.wait(5)
    seen["main"] = tg.is_grad_enabled()
    x = Tensor(1.0, requires_grad=True)
    seen["recorded"] = (x * 2.0).requires_grad
    checked.set()
    worker.join(5)
    assert seen == {"other": False, "main": True, "recorded": True}


def test_a_new_thread_starts_with_grad_enabled():
    seen = []
    with tg.no_grad():
        worker = threading.Thread(target=lambda: seen.append(tg.is_grad_enabled()))
        worker.start()
        worker.join(5)
    assert seen == [True]


def test_one_decorated_function_called_from_two_threads():
    """Each call restores its own thread's mode, whatever the order the calls finish in."""
    a_in, b_in, a_done = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    @tg.enable_grad()
    def body(name):
        if name == "a":
            a_in.set()
            b_in.wait(5)
        else:
            b_in.set()
            a_done.wait(5)

    def thread_a():
        body("a")
        seen["a"] = tg.is_grad_enabled()
        a_done.set()

    def thread_b():
        a_in.wait(5)
        with tg.no_grad():
            body("b")
            seen["b"] = tg.is_grad_enabled()

    workers = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(5)
    assert seen == {"a": True, "b": False}


def test_backward_inside_no_grad_still_works():
    x = Tensor(2.0, requires_grad=True)
    y = x * x
    with tg.no_grad():
        y.backward()
        assert not tg.is_grad_enabled()
    assert x.grad.item() == 4.0


def test_decorator_needs_a_function():
    with pytest.raises(TypeError):
        tg.no_grad()(3)
