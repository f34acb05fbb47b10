"""tg.optim: closed-form single steps, errors, state_dict checkpoints."""

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import optim

ALL = [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad]


def param(values, dtype=np.float64):
    return tg.Tensor(np.array(values, dtype=dtype), requires_grad=True)


def with_grad(p, grad):
    p.grad = tg.Tensor(np.array(grad, dtype=p.dtype))
    return p


def make(cls, params, **options):
    if cls is optim.SGD:
        options.setdefault("lr", 0.1)
    return cls(params, **options)


P0 = np.array([1.0, -2.0, 0.5])
G1 = np.array([0.5, 0.25, -4.0])
G2 = np.array([-1.0, 0.75, 2.0])


def two_steps(cls, **options):
    """Run two steps with the gradients G1 then G2 from P0; return p after each step."""
    p = param(P0)
    opt = make(cls, [p], **options)
    with_grad(p, G1)
    opt.step()
    after_one = p.data.copy()
    with_grad(p, G2)
    opt.step()
    return after_one, p.data.copy()


# ---- closed-form steps: the expected values are computed here from the formulas -----------------


def test_sgd_plain_step_is_p_minus_lr_g():
    one, two = two_steps(optim.SGD, lr=0.1)
    np.testing.assert_allclose(one, P0 - 0.1 * G1, rtol=0, atol=1e-15)
    np.testing.assert_allclose(two, P0 - 0.1 * G1 - 0.1 * G2, rtol=0, atol=1e-15)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_first_buffer_is_the_gradient(nesterov):
    mu, damp, lr, wd = 0.9, 0.0, 0.1, 0.01
    one, two = two_steps(optim.SGD, lr=lr, momentum=mu, nesterov=nesterov, weight_decay=wd)
    g1 = G1 + wd * P0
    buf1 = g1  # first step: no dampening
    p1 = P0 - lr * (g1 + mu * buf1 if nesterov else buf1)
    g2 = G2 + wd * p1
    buf2 = mu * buf1 + (1 - damp) * g2
    p2 = p1 - lr * (g2 + mu * buf2 if nesterov else buf2)
    np.testing.assert_allclose(one, p1, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(two, p2, rtol=1e-15, atol=1e-15)


def test_sgd_dampening_applies_from_the_second_step():
    one, two = two_steps(optim.SGD, lr=0.1, momentum=0.5, dampening=0.3)
    p1 = P0 - 0.1 * G1
    buf2 = 0.5 * G1 + 0.7 * G2
    np.testing.assert_allclose(one, p1, rtol=1e-15)
    np.testing.assert_allclose(two, p1 - 0.1 * buf2, rtol=1e-15)


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
def test_adam_two_steps_with_bias_correction(cls, amsgrad):
    lr, b1, b2, eps, wd = 0.01, 0.8, 0.9, 1e-3, 0.1
    one, two = two_steps(cls, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, amsgrad=amsgrad)
    p, m, v, vmax = P0.copy(), 0.0, 0.0, 0.0
    for t, g in enumerate([G1, G2], start=1):
        if cls is optim.AdamW:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        vmax = np.maximum(vmax, v)
        m_hat = m / (1 - b1**t)
        v_hat = (vmax if amsgrad else v) / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(one if t == 1 else two, p, rtol=1e-13)


def test_adam_first_step_moves_each_weight_by_about_lr():
    # m_hat = g and v_hat = g^2 after one step, so the update is lr * g / (|g| + eps)
    one, _ = two_steps(optim.Adam, lr=0.01)
    np.testing.assert_allclose(one, P0 - 0.01 * np.sign(G1), rtol=1e-7)


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_rmsprop_two_steps(centered, momentum):
    lr, alpha, eps, wd = 0.01, 0.9, 1e-4, 0.05
    one, two = two_steps(
        optim.RMSprop,
        lr=lr,
        alpha=alpha,
        eps=eps,
        weight_decay=wd,
        momentum=momentum,
        centered=centered,
    )
    p, v, a, buf = P0.copy(), 0.0, 0.0, 0.0
    for t, g in enumerate([G1, G2], start=1):
        g = g + wd * p
        v = alpha * v + (1 - alpha) * g**2
        a = alpha * a + (1 - alpha) * g
        denom = np.sqrt(v - a**2 if centered else v) + eps  # eps outside the square root
        if momentum:
            buf = momentum * buf + g / denom
            p = p - lr * buf
        else:
            p = p - lr * g / denom
        np.testing.assert_allclose(one if t == 1 else two, p, rtol=1e-13)


def test_adagrad_two_steps_with_lr_decay_and_initial_accumulator():
    lr, decay, init, eps, wd = 0.1, 0.5, 0.2, 1e-6, 0.01
    one, two = two_steps(
        optim.Adagrad,
        lr=lr,
        lr_decay=decay,
        initial_accumulator_value=init,
        eps=eps,
        weight_decay=wd,
    )
    p, s = P0.copy(), init
    for t, g in enumerate([G1, G2], start=1):
        g = g + wd * p
        s = s + g**2
        p = p - lr / (1 + (t - 1) * decay) * g / (np.sqrt(s) + eps)
        np.testing.assert_allclose(one if t == 1 else two, p, rtol=1e-13)


# ---- behaviour shared by all optimizers ------------------------------------------------------


@pytest.mark.parametrize("cls", ALL)
def test_gradient_is_not_modified_and_params_without_grad_are_skipped(cls):
    a, b = param(P0), param([3.0, 4.0])
    opt = make(cls, [a, b], weight_decay=0.1)
    with_grad(a, G1)
    opt.step()
    assert not np.array_equal(a.data, P0)
    np.testing.assert_array_equal(b.data, [3.0, 4.0])
    np.testing.assert_array_equal(a.grad.data, G1)  # weight decay used a copy
    assert b not in opt.state


@pytest.mark.parametrize("cls", ALL)
def test_float32_parameters_keep_float32_state(cls):
    p = param(P0, np.float32)
    opt = make(cls, [p], momentum=0.9) if cls in (optim.SGD, optim.RMSprop) else make(cls, [p])
    for g in (G1, G2):
        with_grad(p, g)
        opt.step()
    assert p.dtype == np.float32
    arrays = [v for v in opt.state[p].values() if isinstance(v, np.ndarray)]
    assert arrays and all(a.dtype == np.float32 for a in arrays)


@pytest.mark.parametrize("cls", ALL)
def test_update_is_in_place_on_the_parameter_array(cls):
    p = param(P0)
    before = p.data
    opt = make(cls, [p])
    with_grad(p, G1)
    opt.step()
    assert p.data is before
    assert not np.array_equal(before, P0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls", ALL)
def test_zero_d_parameter_stays_a_numpy_scalar_and_matches_a_one_element_array(cls, dtype):
    scalar = tg.Tensor(dtype(1.5), requires_grad=True)  # 0-d data is a NumPy scalar
    array = param([1.5], dtype)
    opt_scalar, opt_array = make(cls, [scalar]), make(cls, [array])
    for g in (2.0, -0.5, 1.25):
        with_grad(scalar, g), with_grad(array, [g])
        opt_scalar.step()
        opt_array.step()
        assert type(scalar.data) is dtype and scalar.shape == ()
        assert scalar.item() == array.data[0]  # the same NumPy lines, rebinding the name
    assert scalar.item() != 1.5


@pytest.mark.parametrize("cls", ALL)
def test_read_only_parameter_data_is_copied_before_the_update(cls):
    p = param(P0)
    p.data = np.broadcast_to(np.float64(1.0), (3,))  # a read-only view
    opt = make(cls, [p])
    with_grad(p, G1)
    opt.step()
    assert p.data.flags.writeable and p.shape == (3,)
    assert np.all(p.data != 1.0)


def test_step_runs_under_no_grad_and_returns_closure_loss():
    p = param(P0)
    opt = optim.SGD([p], lr=0.1)
    seen = []

    def closure():
        opt.zero_grad()
        seen.append(tg.is_grad_enabled())
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert seen == [True]
    assert loss.item() == pytest.approx(np.sum(P0**2))
    np.testing.assert_allclose(p.data, P0 - 0.1 * 2 * P0)
    assert tg.is_grad_enabled()


def test_zero_grad_to_none_and_to_zeros():
    a, b = param(P0), param([1.0])
    opt = optim.SGD([a, b], lr=0.1)
    (a.sum() * 2 + b.sum()).backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.data, np.zeros(3))
    np.testing.assert_array_equal(b.grad.data, np.zeros(1))
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_param_groups_have_their_own_options():
    a, b = param(P0), param(P0)
    opt = optim.SGD([{"params": [a], "lr": 1.0}, {"params": [b]}], lr=0.1, momentum=0.5)
    assert [g["lr"] for g in opt.param_groups] == [1.0, 0.1]
    assert [g["momentum"] for g in opt.param_groups] == [0.5, 0.5]
    with_grad(a, G1)
    with_grad(b, G1)
    opt.step()
    np.testing.assert_allclose(a.data, P0 - G1)
    np.testing.assert_allclose(b.data, P0 - 0.1 * G1)


def test_changing_lr_in_a_param_group_takes_effect():
    p = param(P0)
    opt = optim.SGD([p], lr=0.1)
    opt.param_groups[0]["lr"] = 0.5
    with_grad(p, G1)
    opt.step()
    np.testing.assert_allclose(p.data, P0 - 0.5 * G1)


def test_parameters_from_a_generator_are_kept():
    params = [param(P0), param(P0)]
    opt = optim.Adam(p for p in params)
    assert opt.param_groups[0]["params"] == params


# ---- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL)
def test_empty_parameter_list(cls):
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        make(cls, [])
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        make(cls, iter([]))


def test_sgd_needs_lr():
    with pytest.raises(TypeError, match="lr"):
        optim.SGD([param(P0)])


@pytest.mark.parametrize(
    "cls, options, name",
    [
        (optim.SGD, {"lr": -0.1}, "lr"),
        (optim.SGD, {"momentum": -0.9}, "momentum"),
        (optim.SGD, {"weight_decay": -1e-4}, "weight_decay"),
        (optim.SGD, {"dampening": -0.1}, "dampening"),
        (optim.Adam, {"lr": -1e-3}, "lr"),
        (optim.Adam, {"eps": -1e-8}, "eps"),
        (optim.Adam, {"weight_decay": -0.1}, "weight_decay"),
        (optim.Adam, {"betas": (1.0, 0.999)}, r"betas\[0\]"),
        (optim.Adam, {"betas": (0.9, -0.1)}, r"betas\[1\]"),
        (optim.AdamW, {"betas": (0.9, 1.5)}, r"betas\[1\]"),
        (optim.AdamW, {"lr": float("nan")}, "lr"),
        (optim.RMSprop, {"lr": -0.01}, "lr"),
        (optim.RMSprop, {"alpha": -0.5}, "alpha"),
        (optim.RMSprop, {"eps": -1.0}, "eps"),
        (optim.RMSprop, {"momentum": -0.5}, "momentum"),
        (optim.Adagrad, {"lr": -0.01}, "lr"),
        (optim.Adagrad, {"lr_decay": -0.1}, "lr_decay"),
        (optim.Adagrad, {"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
    ],
)
def test_invalid_options_name_the_argument(cls, options, name):
    with pytest.raises(ValueError, match=f"invalid {name}"):
        make(cls, [param(P0)], **options)


def test_invalid_option_in_a_param_group():
    with pytest.raises(ValueError, match="invalid lr"):
        optim.SGD([{"params": [param(P0)], "lr": -1.0}], lr=0.1)


def test_nesterov_needs_momentum_and_no_dampening():
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([param(P0)], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([param(P0)], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)


@pytest.mark.parametrize("cls", ALL)
def test_parameter_that_requires_no_grad_is_named(cls):
    frozen = tg.Tensor(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"parameter 1 of shape \(2, 5\) does not require grad"):
        make(cls, [param(P0), frozen])


def test_parameter_given_twice():
    p = param(P0)
    with pytest.raises(ValueError, match="more than once"):
        optim.Adam([p, param(P0), p])
    with pytest.raises(ValueError, match="more than once"):
        optim.Adam([{"params": [p]}, {"params": [p]}])


def test_non_leaf_and_non_tensor_parameters():
    with pytest.raises(ValueError, match="not a leaf"):
        optim.SGD([param(P0) * 2], lr=0.1)
    with pytest.raises(TypeError, match="not a Tensor"):
        optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(param(P0), lr=0.1)


def test_gradient_given_as_an_array_a_list_or_another_dtype():
    params = [param(P0) for _ in range(3)]
    opt = optim.SGD(params, lr=0.5)
    params[0].grad = np.array(G1)  # not a Tensor
    params[1].grad = list(G1)
    params[2].grad = tg.Tensor(np.array(G1, dtype=np.float32))  # converted to float64
    opt.step()
    for p in params[:2]:
        np.testing.assert_array_equal(p.data, P0 - 0.5 * np.array(G1))
    np.testing.assert_array_equal(params[2].data, P0 - 0.5 * np.array(G1, dtype=np.float32))
    assert all(p.dtype == np.float64 for p in params)
    with pytest.raises(ValueError, match=r"assigned grad has shape \(3, 1\), but the tensor"):
        params[1].grad = np.ones((3, 1))  # refused where it is made, not at the next step
    params[1].grad = np.ones(3)
    params[1].data = np.ones((3, 1))  # the parameter itself changed shape under its gradient
    with pytest.raises(ValueError, match=r"parameter 1 has shape \(3, 1\) .* shape \(3,\); no"):
        opt.step()


@pytest.mark.parametrize("cls", ALL)
def test_failed_step_updates_no_parameter(cls):
    a, b = param(P0), param([[1.0, 2.0]])
    opt = make(cls, [a, b])
    with_grad(a, G1)
    opt.step()
    state_before = opt.state_dict()
    a_before = a.data.copy()
    with_grad(a, G2)
    b.grad = tg.Tensor(np.ones((1, 2)))
    b.data = np.array([1.0, 2.0])  # the parameter changed shape: its gradient no longer fits
    with pytest.raises(
        ValueError, match=r"parameter 1 has shape \(2,\).*gradient has shape \(1, 2\)"
    ):
        opt.step()
    np.testing.assert_array_equal(a.data, a_before)
    np.testing.assert_array_equal(b.data, [1.0, 2.0])
    assert_state_equal(opt.state_dict(), state_before)


# ---- state_dict / load_state_dict --------------------------------------------------------------

CONFIGS = [
    (optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}),
    (optim.Adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 1e-3}),
    (optim.AdamW, {"lr": 0.01}),
    (optim.RMSprop, {"lr": 0.01, "momentum": 0.5, "centered": True}),
    (optim.Adagrad, {"lr": 0.1, "lr_decay": 0.01}),
]


def assert_state_equal(a, b):
    assert a["param_groups"] == b["param_groups"]
    assert list(a["state"]) == list(b["state"])
    for index in a["state"]:
        assert list(a["state"][index]) == list(b["state"][index])
        for key, value in a["state"][index].items():
            np.testing.assert_array_equal(value, b["state"][index][key])


def quadratic_problem(seed=0):
    rng = np.random.default_rng(seed)
    params = {"w": rng.normal(size=(3, 2)), "b": rng.normal(size=2), "s": np.array(0.7)}
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))

    def train(tensors, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            w, b, s = tensors
            loss = (((x @ w + b).tanh() * s - y) ** 2).mean()
            loss.backward()
            opt.step()

    return params, train


@pytest.mark.parametrize("cls, options", CONFIGS, ids=lambda c: getattr(c, "__name__", ""))
def test_resume_from_a_saved_checkpoint_is_bit_exact(cls, options, tmp_path):
    start, train = quadratic_problem()
    # run A: 12 steps without stopping
    a = [param(v) for v in start.values()]
    opt_a = cls(a, **options)
    train(a, opt_a, 6)
    tg.save({"params": [t.data for t in a], "optimizer": opt_a.state_dict()}, tmp_path / "ckpt")
    train(a, opt_a, 6)
    # run B: fresh tensors and optimizer, loaded from the checkpoint, then 6 steps
    checkpoint = tg.load(tmp_path / "ckpt.npz")
    b = [param(v) for v in checkpoint["params"]]
    opt_b = cls(b, **options)
    opt_b.load_state_dict(checkpoint["optimizer"])
    train(b, opt_b, 6)
    for ta, tb in zip(a, b):
        assert np.array_equal(ta.data, tb.data)  # bit for bit
    assert_state_equal(opt_a.state_dict(), opt_b.state_dict())


def test_state_dict_layout_and_snapshot():
    a, b = param(P0), param([1.0, 2.0])
    opt = optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.1}])
    with_grad(b, [1.0, 1.0])
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.1
    assert list(sd["state"]) == [1]  # a has no gradient yet, so no state
    assert sd["state"][1]["step"] == 1
    saved = sd["state"][1]["exp_avg"].copy()
    opt.step()
    np.testing.assert_array_equal(sd["state"][1]["exp_avg"], saved)  # a copy, not a view


def test_load_state_dict_restores_group_options():
    p = param(P0)
    opt = optim.SGD([p], lr=0.1)
    sd = opt.state_dict()
    sd["param_groups"][0]["lr"] = 0.7
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["lr"] == 0.7
    assert opt.param_groups[0]["params"][0] is p


def test_load_state_dict_casts_state_to_the_parameter_dtype():
    p64, p32 = param(P0), param(P0, np.float32)
    opt64 = optim.Adam([p64])
    with_grad(p64, G1)
    opt64.step()
    opt32 = optim.Adam([p32])
    opt32.load_state_dict(opt64.state_dict())
    assert opt32.state[p32]["exp_avg"].dtype == np.float32


def _invalid_state_dicts():
    a, b = param(P0), param([[1.0, 2.0]])
    opt = optim.Adam([a, b], lr=0.01)
    with_grad(a, G1)
    with_grad(b, [[1.0, 1.0]])
    opt.step()
    good = opt.state_dict()

    def edited(edit):
        sd = {
            "state": {i: dict(s) for i, s in good["state"].items()},
            "param_groups": [dict(g) for g in good["param_groups"]],
        }
        edit(sd)
        return sd

    def wrong_shape(sd):
        sd["state"][1]["exp_avg"] = np.zeros((2, 1))

    def two_groups(sd):
        sd["param_groups"].append(dict(sd["param_groups"][0]))

    def one_param(sd):
        sd["param_groups"][0]["params"] = [0]

    def sgd_options(sd):
        del sd["param_groups"][0]["betas"]
        sd["param_groups"][0]["momentum"] = 0.9

    def unknown_buffer(sd):
        sd["state"][0]["momentum_buffer"] = np.zeros(3)

    def missing_buffer(sd):
        sd["state"][0] = {"step": 1, "exp_avg": np.zeros(3)}

    def unknown_index(sd):
        sd["state"][5] = sd["state"][0]

    cases = {
        "state 'exp_avg' of parameter 1 has shape \\(2, 1\\)": wrong_shape,
        "2 parameter groups": two_groups,
        "group 0 of the state has 1 parameters": one_param,
        "options do not match": sgd_options,
        r"unknown entries \['momentum_buffer'\]": unknown_buffer,
        r"lacks \['exp_avg_sq'\]": missing_buffer,
        "parameter 5": unknown_index,
        'keys "state" and "param_groups"': lambda sd: sd.pop("state"),
    }
    return [(message, edited(edit)) for message, edit in cases.items()]


@pytest.mark.parametrize("message, bad", _invalid_state_dicts())
def test_invalid_load_state_dict_changes_nothing(message, bad):
    a, b = param(P0), param([[1.0, 2.0]])
    opt = optim.Adam([a, b], lr=0.5)
    with_grad(a, G2)
    opt.step()
    before = opt.state_dict()
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(bad)
    assert_state_equal(opt.state_dict(), before)
    assert opt.param_groups[0]["lr"] == 0.5


def test_repr_lists_the_options():
    text = repr(optim.RMSprop([param(P0)], lr=0.5, centered=True))
    assert text.startswith("RMSprop (") and "lr: 0.5" in text and "centered: True" in text


# ---- Adam's flat state: one NumPy call per line of the rule for a whole group ------------------

FLAT_CASES = [
    (optim.Adam, {"lr": 0.05}),
    (optim.Adam, {"lr": 0.05, "weight_decay": 0.1, "betas": (0.8, 0.99)}),
    (optim.AdamW, {"lr": 0.05, "weight_decay": 0.2, "eps": 1e-6}),
]


def flat_loss(w, b, s, k):
    return ((w.tanh() + b) * s).sum() ** 2 * 0.01 + (k * k * w[:2, :3].reshape(2, 1, 3)).sum()


def flat_problem(dtype=np.float64):
    """Parameters of several shapes (a 0-d one among them) and a loss that gives each a
    different gradient at every step."""
    rng = np.random.default_rng(5)
    shapes = [(3, 4), (4,), (), (2, 1, 3)]
    params = [tg.Tensor(rng.normal(size=s).astype(dtype), requires_grad=True) for s in shapes]
    return params, functools.partial(flat_loss, *params)


def trajectory(optimizer, params, loss, steps=6, skip=None):
    """Parameters and states after each step; ``skip`` (step -> parameter index) leaves one
    parameter without a gradient at that step."""
    seen = []
    for step in range(steps):
        optimizer.zero_grad()
        loss().backward()
        if skip is not None and step in skip:
            params[skip[step]].grad = None
        optimizer.step()
        states = [{k: np.array(v) for k, v in optimizer.state.get(p, {}).items()} for p in params]
        seen.append(([np.array(p.data) for p in params], states))
    return seen


def assert_identical(a, b):
    """Bit for bit: the parameters, the step counts and the running means."""
    for (params_a, states_a), (params_b, states_b) in zip(a, b, strict=True):
        for pa, pb in zip(params_a, params_b):
            np.testing.assert_array_equal(pa, pb)
        for sa, sb in zip(states_a, states_b):
            assert sa.keys() == sb.keys()
            for key in sa:
                np.testing.assert_array_equal(sa[key], sb[key])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cls, options", FLAT_CASES)
def test_adam_on_a_whole_group_equals_adam_parameter_by_parameter(cls, options, dtype):
    """One group of four parameters takes the flat path; four groups of one go parameter by
    parameter. Both give the same bits, steps and states."""
    params, loss = flat_problem(dtype)
    flat = trajectory(cls(params, **options), params, loss)
    assert len(next(iter(cls(params, **options).param_groups))["params"]) == 4
    params, loss = flat_problem(dtype)
    one_by_one = trajectory(cls([{"params": [p]} for p in params], **options), params, loss)
    assert_identical(flat, one_by_one)
    assert flat[-1][0][0].dtype == dtype
    assert not np.array_equal(flat[-1][0][0], flat_problem(dtype)[0][0].data)  # they moved


def test_flat_adam_state_is_a_view_per_parameter_and_state_dict_copies_it():
    params, loss = flat_problem()
    opt = optim.Adam(params, lr=0.05)
    trajectory(opt, params, loss, steps=2)
    state = opt.state[params[0]]
    assert state["exp_avg"].shape == params[0].shape and state["step"] == 2
    saved = opt.state_dict()
    before = saved["state"][0]["exp_avg"].copy()
    trajectory(opt, params, loss, steps=1)
    np.testing.assert_array_equal(saved["state"][0]["exp_avg"], before)  # a snapshot
    assert not np.array_equal(opt.state[params[0]]["exp_avg"], before)  # the live state moved
    # a change made in place to a parameter's state is the one the next step uses
    opt.state[params[1]]["exp_avg"][...] = 0
    opt.state[params[1]]["exp_avg_sq"][...] = 0
    steps_before = opt.state[params[1]]["step"]
    trajectory(opt, params, loss, steps=1)
    g = params[1].grad.data
    np.testing.assert_allclose(opt.state[params[1]]["exp_avg"], 0.1 * g, rtol=1e-12)
    assert opt.state[params[1]]["step"] == steps_before + 1


@pytest.mark.parametrize("cls, options", FLAT_CASES)
def test_flat_adam_resumes_from_a_state_dict_and_from_a_deep_copy(cls, options):
    """Stopping after three steps and going on from a state_dict (loaded into a new
    optimizer) or from a deep copy of the optimizer gives the bits of an unbroken run."""
    import copy

    params, loss = flat_problem()
    unbroken = trajectory(cls(params, **options), params, loss, steps=6)

    params, loss = flat_problem()
    opt = cls(params, **options)
    first = trajectory(opt, params, loss, steps=3)
    fresh = cls(params, **options)
    fresh.load_state_dict(opt.state_dict())
    assert_identical(unbroken, first + trajectory(fresh, params, loss, steps=3))

    params, loss = flat_problem()
    opt = cls(params, **options)
    first = trajectory(opt, params, loss, steps=3)
    copied = copy.deepcopy(opt)  # (its parameters are copies too: step the copy on its own)
    copied_params = copied.param_groups[0]["params"]
    copied_loss = functools.partial(flat_loss, *copied_params)
    rest = trajectory(copied, copied_params, copied_loss, steps=3)
    assert_identical(unbroken, first + rest)
    assert opt.state[params[0]]["step"] == 3  # the original is untouched by the copy's steps


def test_flat_adam_with_a_parameter_left_without_gradient_now_and_then():
    """A parameter without gradient at a step is skipped (its step count falls behind): the
    steps that follow still equal Adam parameter by parameter."""
    skip = {1: 2, 3: 0}
    params, loss = flat_problem()
    flat = trajectory(optim.Adam(params, lr=0.05), params, loss, skip=skip)
    params, loss = flat_problem()
    one_by_one = optim.Adam([{"params": [p]} for p in params], lr=0.05)
    assert_identical(flat, trajectory(one_by_one, params, loss, skip=skip))
    assert [s["step"] for s in flat[-1][1]] == [5, 6, 5, 6]


def test_flat_adam_after_loading_an_empty_state_starts_afresh():
    """Loading the state_dict of an optimizer that never stepped empties the state: the next
    steps are those of a new optimizer."""
    params, loss = flat_problem()
    opt = optim.AdamW(params, lr=0.05)
    trajectory(opt, params, loss, steps=2)
    opt.load_state_dict(optim.AdamW(params, lr=0.05).state_dict())
    assert opt.state == {}
    start = [np.array(p.data) for p in params]
    resumed = trajectory(opt, params, loss, steps=3)

    params, loss = flat_problem()
    for p, values in zip(params, start):
        p.data = values
    assert_identical(resumed, trajectory(optim.AdamW(params, lr=0.05), params, loss, steps=3))


def test_a_subclass_with_its_own_update_rule_is_followed_for_every_parameter():
    """The flat path is Adam's own rule: a subclass that overrides ``_update`` gets it called
    for each parameter, as the Optimizer protocol says."""

    class SignAdam(optim.Adam):
        def _update(self, p, g, group, state):
            state["step"] = state.get("step", 0) + 1
            p.data -= group["lr"] * np.sign(g)

    params, loss = flat_problem()
    start = [np.array(p.data) for p in params]
    opt = SignAdam(params, lr=0.1)
    loss().backward()
    grads = [np.array(p.grad.data) for p in params]
    opt.step()
    for p, before, g in zip(params, start, grads):
        np.testing.assert_array_equal(p.data, before - 0.1 * np.sign(g))
        assert opt.state[p] == {"step": 1}


@settings(max_examples=40, deadline=None)
@given(
    shapes=st.lists(
        st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple), min_size=2, max_size=5
    ),
    dtype=st.sampled_from([np.float32, np.float64]),
    case=st.sampled_from(FLAT_CASES),
    seed=st.integers(0, 2**16),
)
def test_flat_adam_equals_adam_parameter_by_parameter_for_any_shapes(shapes, dtype, case, seed):
    """Any mix of shapes (0-d included), either dtype, each option set: three steps on a whole
    group give the bits of the same steps taken one parameter at a time."""
    cls, options = case
    rng = np.random.default_rng(seed)
    start = [rng.normal(size=s).astype(dtype) for s in shapes]
    grads = [[rng.normal(size=s).astype(dtype) for s in shapes] for _ in range(3)]
    results = []
    for spec in ("group", "one by one"):
        params = [tg.Tensor(a.copy(), requires_grad=True) for a in start]
        groups = params if spec == "group" else [{"params": [p]} for p in params]
        opt = cls(groups, **options)
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = tg.Tensor(g)
            opt.step()
        results.append([np.array(p.data) for p in params])
    for flat, one in zip(*results):
        assert flat.dtype == dtype
        np.testing.assert_array_equal(flat, one)
