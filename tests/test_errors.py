"""Bad input: each mistake raises the stated error type, with a message naming the operation
and what was wrong, and leaves every tensor as it was."""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor

pytestmark = pytest.mark.usefixtures("grad_mode_restored")


def make_tensors():
    a = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    a.grad = Tensor(np.full((2, 3), 7.0))
    b = Tensor(np.ones((4, 5)), requires_grad=True)
    return a, b


def snapshot(*tensors):
    return [
        (t.data.copy(), None if t.grad is None else t.grad.data.copy(), t.requires_grad, t.grad_fn)
        for t in tensors
    ]


def assert_unchanged(before, tensors):
    for (data, grad, requires_grad, grad_fn), t in zip(before, tensors):
        np.testing.assert_array_equal(t.data, data)
        if grad is None:
            assert t.grad is None
        else:
            np.testing.assert_array_equal(t.grad.data, grad)
        assert t.requires_grad == requires_grad and t.grad_fn is grad_fn


# (what is done, the error type, words the message must contain)
MISTAKES = {
    "matmul_inner": (lambda a, b: a @ b, ValueError, ["matmul", "(2, 3)", "(4, 5)", "3 != 4"]),
    "matmul_function": (lambda a, b: tg.matmul(b, a), ValueError, ["matmul", "(4, 5)", "(2, 3)"]),
    "matmul_vector": (
        lambda a, b: a @ Tensor(np.ones(2)),
        ValueError,
        ["matmul", "(2, 3)", "(2,)"],
    ),
    "matmul_batch": (
        lambda a, b: Tensor(np.ones((2, 2, 3))) @ Tensor(np.ones((3, 3, 4))),
        ValueError,
        ["matmul", "(2, 2, 3)", "(3, 3, 4)"],
    ),
    "matmul_0d": (lambda a, b: a @ Tensor(2.0), ValueError, ["matmul", "(2, 3)", "()"]),
    "add": (lambda a, b: a + b, ValueError, ["add", "(2, 3)", "(4, 5)"]),
    "sub": (lambda a, b: a - b, ValueError, ["sub", "(2, 3)", "(4, 5)"]),
    "mul": (lambda a, b: b * a, ValueError, ["mul", "(4, 5)", "(2, 3)"]),
    "div": (lambda a, b: a / b, ValueError, ["div", "(2, 3)", "(4, 5)"]),
    "pow": (lambda a, b: a**b, ValueError, ["pow", "(2, 3)", "(4, 5)"]),
    "add_array": (lambda a, b: np.ones(4) + a, ValueError, ["add", "(4,)", "(2, 3)"]),
    "maximum": (lambda a, b: tg.maximum(a, b), ValueError, ["maximum", "(2, 3)", "(4, 5)"]),
    "minimum": (lambda a, b: tg.minimum(a, b), ValueError, ["minimum", "(2, 3)", "(4, 5)"]),
    "where": (
        lambda a, b: tg.where(np.ones(4, bool), a, b),
        ValueError,
        ["where", "(2, 3)", "(4, 5)"],
    ),
    "compare": (lambda a, b: a < b, ValueError, ["(2, 3)", "(4, 5)"]),
    "backward_no_gradient": (
        lambda a, b: (a * 2.0).backward(),
        RuntimeError,
        ["backward", "(2, 3)", "gradient"],
    ),
    "backward_no_grad": (
        lambda a, b: Tensor([1.0]).backward(),
        RuntimeError,
        ["backward", "require"],
    ),
    "backward_shape": (
        lambda a, b: (a * 2.0).backward(np.ones(3)),
        ValueError,
        ["backward", "(3,)", "(2, 3)"],
    ),
    "int_requires_grad": (
        lambda a, b: Tensor([1, 2], requires_grad=True),
        TypeError,
        ["int64", "floating"],
    ),
    "bool_requires_grad": (lambda a, b: Tensor([True], requires_grad=True), TypeError, ["bool"]),
    "int_arange_requires_grad": (
        lambda a, b: tg.arange(3, requires_grad=True),
        TypeError,
        ["int64"],
    ),
    "int_requires_grad_": (lambda a, b: Tensor([1, 2]).requires_grad_(), TypeError, ["int64"]),
    "ragged": (lambda a, b: Tensor([[1.0, 2.0], [3.0]]), ValueError, ["ragged"]),
    "string": (lambda a, b: Tensor("1.0"), TypeError, ["string"]),
    "strings": (lambda a, b: Tensor(["a", "b"]), TypeError, ["numbers"]),
    "object": (lambda a, b: Tensor(object()), TypeError, ["numbers", "object"]),
    "none": (lambda a, b: Tensor(None), TypeError, ["numbers", "NoneType"]),
    "dict": (lambda a, b: Tensor({"a": 1.0}), TypeError, ["numbers"]),
    "reshape": (lambda a, b: a.reshape(4, 2), ValueError, ["reshape", "(2, 3)", "(4, 2)"]),
    "reshape_minus_one": (lambda a, b: a.reshape(4, -1), ValueError, ["reshape", "(2, 3)"]),
    "reshape_two_minus_ones": (lambda a, b: a.reshape(-1, -1), ValueError, ["reshape", "-1"]),
    "view": (lambda a, b: a.view(7), ValueError, ["reshape", "(2, 3)"]),
    "reshape_negative": (lambda a, b: a.reshape(-2, -3), ValueError, ["reshape", "(-2, -3)"]),
    "expand": (lambda a, b: a.expand(3, 3), ValueError, ["expand", "(2, 3)", "(3, 3)"]),
    "expand_fewer_dims": (lambda a, b: a.expand(3), ValueError, ["expand", "(2, 3)"]),
    "expand_new_minus_one": (lambda a, b: a.expand(-1, 2, 3), ValueError, ["expand", "-1"]),
    "permute_not_a_permutation": (lambda a, b: a.permute(0, 0), ValueError, ["permute"]),
    "cat_shapes": (lambda a, b: tg.cat([a, b]), ValueError, ["cat", "(4, 5)", "(2, 3)"]),
    "cat_empty": (lambda a, b: tg.cat([]), ValueError, ["cat"]),
    "cat_0d": (lambda a, b: tg.cat([Tensor(1.0), Tensor(2.0)]), ValueError, ["cat", "stack"]),
    "stack_shapes": (lambda a, b: tg.stack([a, b]), ValueError, ["stack", "(4, 5)", "(2, 3)"]),
    "clip_no_bounds": (lambda a, b: a.clip(), ValueError, ["clip"]),
    "where_not_bool": (
        lambda a, b: tg.where(np.ones((2, 3)), a, 0.0),
        TypeError,
        ["where", "bool"],
    ),
    "item_of_many": (lambda a, b: a.item(), ValueError, ["item", "(2, 3)"]),
    "bool_of_many": (lambda a, b: bool(a > 1), ValueError, ["ambiguous"]),
    "max_of_empty": (lambda a, b: Tensor(np.ones((0, 2))).max(), ValueError, ["max", "empty"]),
    "in_place_on_graph": (lambda a, b: a.__iadd__(1.0), RuntimeError, ["in-place", "no_grad"]),
    "setitem_on_graph": (lambda a, b: a.__setitem__(0, 1.0), RuntimeError, ["no_grad"]),
    "requires_grad_false_on_non_leaf": (
        lambda a, b: (a * 2.0).requires_grad_(False),
        RuntimeError,
        ["detach"],
    ),
    "retain_grad_without_grad": (
        lambda a, b: Tensor(1.0).retain_grad(),
        RuntimeError,
        ["retain_grad"],
    ),
    "grad_of_non_tensor": (lambda a, b: tg.grad(3.0, a), TypeError, ["grad", "Tensors"]),
    "len_of_0d": (lambda a, b: len(Tensor(1.0)), TypeError, ["len"]),
    "operand_string": (lambda a, b: a + "x", TypeError, ["+"]),
    "operand_none": (lambda a, b: a * None, TypeError, ["*"]),
    "normal_negative_std": (lambda a, b: tg.normal(0.0, -1.0, (2,)), ValueError, ["normal", "std"]),
}

AXIS_MISTAKES = {
    "sum": lambda a: a.sum(2),
    "mean": lambda a: a.mean(-3),
    "max": lambda a: a.max(5),
    "min": lambda a: a.min((0, 2)),
    "var": lambda a: a.var(2),
    "std": lambda a: a.std(2),
    "logsumexp": lambda a: a.logsumexp(2),
    "softmax": lambda a: a.softmax(2),
    "log_softmax": lambda a: a.log_softmax(-3),
    "squeeze": lambda a: a.squeeze(3),
    "unsqueeze": lambda a: a.unsqueeze(4),
    "transpose": lambda a: a.transpose(0, 2),
    "permute": lambda a: a.permute(0, 2),
    "flatten": lambda a: a.flatten(0, 4),
    "cat": lambda a: tg.cat([a, a], 2),
    "stack": lambda a: tg.stack([a, a], 4),
    "argmax": lambda a: a.argmax(2),
    "argmin": lambda a: a.argmin(-3),
}


@pytest.mark.parametrize("mistake", MISTAKES.values(), ids=MISTAKES.keys())
def test_mistake_raises_a_clear_error_and_changes_nothing(mistake):
    action, error, words = mistake
    a, b = make_tensors()
    before = snapshot(a, b)
    with pytest.raises(error) as info:
        action(a, b)
    for word in words:
        assert word in str(info.value), f"{word!r} is not in {str(info.value)!r}"
    assert_unchanged(before, [a, b])


@pytest.mark.parametrize("op", AXIS_MISTAKES, ids=AXIS_MISTAKES.keys())
def test_axis_out_of_range_names_the_operation(op):
    a, _ = make_tensors()
    before = snapshot(a)
    with pytest.raises(
        IndexError, match=rf"^{op}: dim -?\d is out of range for a tensor with \d dimensions"
    ):
        AXIS_MISTAKES[op](a)
    assert_unchanged(before, [a])


def test_axis_of_the_wrong_type():
    with pytest.raises(TypeError, match="sum: axis must be an int"):
        Tensor([1.0, 2.0]).sum(axis=0.5)
    with pytest.raises(ValueError, match="repeats"):
        Tensor(np.ones((2, 2))).sum(axis=(0, -2))


def test_failed_op_on_a_graph_leaves_the_graph_usable():
    a, b = make_tensors()
    h = a * 2.0
    with pytest.raises(ValueError):
        h + b
    h.sum().backward()
    np.testing.assert_array_equal(a.grad.data, np.full((2, 3), 9.0))


def test_a_failed_backward_call_changes_nothing_and_can_be_retried():
    a, _ = make_tensors()
    out = a * 3.0
    with pytest.raises(ValueError):
        out.backward(np.ones(6))
    np.testing.assert_array_equal(a.grad.data, np.full((2, 3), 7.0))
    out.backward(np.ones((2, 3)))
    np.testing.assert_array_equal(a.grad.data, np.full((2, 3), 10.0))


def test_in_place_is_allowed_where_no_graph_can_see_it():
    a, _ = make_tensors()
    with tg.no_grad():
        a += 1.0
        a -= 0.5
        a *= 2.0
        a /= 2.0
        a[0, 0] = -1.0
    np.testing.assert_array_equal(a.data, [[-1.0, 1.5, 2.5], [3.5, 4.5, 5.5]])
    c = Tensor([1.0, 2.0])
    c += 1.0
    c[1] = 0.0
    np.testing.assert_array_equal(c.data, [2.0, 0.0])
    with pytest.raises(ValueError, match="in-place add"):
        c += np.ones((3, 2))
    np.testing.assert_array_equal(c.data, [2.0, 0.0])
