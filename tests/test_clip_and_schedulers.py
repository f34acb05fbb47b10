"""Gradient clipping and learning-rate schedulers against PyTorch (the same norms and clipped
gradients; the same lr at every step, to 1e-12, also across a state_dict round trip), fit with
a scheduler, and every error they raise."""

import math
import warnings

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.data import DataLoader, TensorDataset
from tinygrad_edu.nn.utils import clip_grad_norm_, clip_grad_value_
from tinygrad_edu.optim import lr_scheduler as sched

try:
    import torch
except ImportError:  # the comparisons are skipped, the rest runs
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


# ---- clipping ---------------------------------------------------------------------------------


def params_with_grads(seed=0, scale=1.0, shapes=((3, 4), (4,), (), (2, 2))):
    r = np.random.default_rng(seed)
    arrays = [r.normal(size=s) for s in shapes]
    grads = [r.normal(size=s) * scale for s in shapes]
    ours = [tg.Tensor(a, requires_grad=True) for a in arrays]
    for p, g in zip(ours, grads):
        p.grad = tg.Tensor(g)
    theirs = None
    if torch is not None:
        theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
        for p, g in zip(theirs, grads):
            p.grad = torch.tensor(g)
    return ours, theirs


@needs_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf, "inf", 0])
@pytest.mark.parametrize("scale", [0.01, 1.0, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, scale):
    ours, theirs = params_with_grads(scale=scale)
    total = clip_grad_norm_(ours, max_norm=1.5, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm=1.5, norm_type=norm_type)
    assert isinstance(total, tg.Tensor) and total.shape == ()
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-12)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-12, atol=1e-15)


@needs_torch
def test_clip_grad_norm_single_tensor_generator_and_missing_grads():
    ours, theirs = params_with_grads(seed=1, scale=10.0)
    ours[1].grad = None
    theirs[1].grad = None
    total = clip_grad_norm_((p for p in ours), max_norm=1.0)  # a generator, as parameters()
    expected = torch.nn.utils.clip_grad_norm_((p for p in theirs), max_norm=1.0)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-12)
    assert ours[1].grad is None
    for p, t in zip(ours, theirs):
        if t.grad is not None:
            np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-12)
    single, single_t = params_with_grads(seed=2, scale=5.0, shapes=((5,),))
    total = clip_grad_norm_(single[0], 0.5)
    expected = torch.nn.utils.clip_grad_norm_(single_t[0], 0.5)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(single[0].grad.data, single_t[0].grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_leaves_small_gradients_and_clips_large_ones():
    p = tg.Tensor([0.0, 0.0], requires_grad=True)
    p.grad = tg.Tensor([3.0, 4.0])
    assert clip_grad_norm_([p], max_norm=10.0).item() == 5.0
    np.testing.assert_array_equal(p.grad.data, [3.0, 4.0])  # clip_coef >= 1: unchanged
    grad_array = p.grad.data
    assert clip_grad_norm_([p], max_norm=1.0).item() == 5.0  # the norm before clipping
    np.testing.assert_allclose(p.grad.data, [0.6, 0.8], rtol=1e-6)
    assert p.grad.data is grad_array  # in place
    assert np.linalg.norm(p.grad.data) < 1.0
    assert clip_grad_norm_([tg.Tensor([1.0], requires_grad=True)], 1.0).item() == 0.0


def test_clip_grad_norm_works_inside_a_training_step():
    tg.manual_seed(0)
    model = nn.Linear(3, 2)
    (model(tg.randn(4, 3) * 100).sum()).backward()
    total = clip_grad_norm_(model.parameters(), max_norm=0.1)
    assert total.item() > 0.1 and not total.requires_grad
    norm = math.sqrt(sum(float((p.grad.data**2).sum()) for p in model.parameters()))
    assert norm == pytest.approx(0.1, rel=1e-4)
    float32 = nn.Linear(3, 2, dtype=np.float32)
    float32(tg.randn(4, 3).float()).sum().backward()
    assert clip_grad_norm_(float32.parameters(), 0.01).dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in float32.parameters())


@needs_torch
def test_clip_grad_norm_nonfinite_as_torch_or_an_error():
    for bad in (math.nan, math.inf):
        ours, theirs = params_with_grads(seed=3)
        ours[0].grad.data[0, 0] = bad
        theirs[0].grad[0, 0] = bad
        before = [p.grad.data.copy() for p in ours]
        with pytest.raises(RuntimeError, match="total norm of order 2.0.*error_if_nonfinite"):
            clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
        for p, b in zip(ours, before):
            np.testing.assert_array_equal(p.grad.data, b)  # untouched
        total = clip_grad_norm_(ours, 1.0)
        expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
        np.testing.assert_array_equal(total.item(), expected.item())
        for p, t in zip(ours, theirs):
            np.testing.assert_array_equal(p.grad.data, t.grad.numpy())


@needs_torch
@pytest.mark.parametrize("clip_value", [0.0, 0.3, 1, 10.0])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs = params_with_grads(seed=4, scale=2.0)
    ours[0].grad.data[1, 1] = math.nan
    theirs[0].grad[1, 1] = math.nan
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.data, t.grad.numpy())


def test_clip_zero_dim_and_read_only_gradients():
    p = tg.Tensor(0.0, requires_grad=True)
    p.grad = tg.Tensor(-5.0)
    clip_grad_value_(p, 2.0)
    assert p.grad.item() == -2.0
    q = tg.Tensor(np.zeros(3), requires_grad=True)
    q.grad = tg.Tensor(np.broadcast_to(np.array(4.0), (3,)))  # a read-only view
    clip_grad_norm_([p, q], 1.0)
    total = math.sqrt(2.0**2 + 3 * 4.0**2)
    np.testing.assert_allclose(q.grad.data, 4.0 / (total + 1e-6))


def test_clip_errors():
    p = tg.Tensor([1.0], requires_grad=True)
    p.grad = tg.Tensor([1.0])
    with pytest.raises(TypeError, match="clip_grad_norm_: parameters must be a Tensor or an iter"):
        clip_grad_norm_(3.0, 1.0)
    with pytest.raises(TypeError, match="parameter 1 is a ndarray, not a Tensor"):
        clip_grad_norm_([p, np.zeros(2)], 1.0)
    with pytest.raises(ValueError, match="max_norm must be >= 0"):
        clip_grad_norm_([p], -1.0)
    with pytest.raises(ValueError, match="max_norm must be >= 0"):
        clip_grad_norm_([p], math.nan)
    with pytest.raises(TypeError, match="max_norm must be a number"):
        clip_grad_norm_([p], "1")
    with pytest.raises(ValueError, match="norm_type must be >= 0"):
        clip_grad_norm_([p], 1.0, norm_type=-2)
    with pytest.raises(TypeError, match="norm_type must be a number"):
        clip_grad_norm_([p], 1.0, norm_type="fro")
    with pytest.raises(ValueError, match="clip_grad_value_: clip_value must be >= 0"):
        clip_grad_value_([p], -0.5)
    with pytest.raises(TypeError, match="clip_grad_value_: parameters must be"):
        clip_grad_value_(None, 1.0)


def test_clipping_records_nothing_in_a_graph():
    p = tg.Tensor([3.0, 4.0], requires_grad=True)
    (p * p).sum().backward(create_graph=True)
    assert p.grad.requires_grad
    clip_grad_norm_([p], 1.0)
    clip_grad_value_([p], 0.5)
    assert p.grad.grad_fn is not None  # still the graph's tensor, values changed in place
    assert tg.is_grad_enabled()


# ---- schedulers against PyTorch ---------------------------------------------------------------


def optimizers(kind="sgd", groups=2):
    """Our optimizer and PyTorch's with the same groups and lrs."""
    ours_params = [tg.Tensor(np.zeros(2), requires_grad=True) for _ in range(groups)]
    lrs = [0.1, 0.03][:groups]
    ours_groups = [{"params": [p], "lr": lr} for p, lr in zip(ours_params, lrs)]
    make = {
        "sgd": (lambda g: tg.optim.SGD(g, lr=0.1, momentum=0.9)),
        "adam": (lambda g: tg.optim.Adam(g, lr=0.1)),
        "adagrad": (lambda g: tg.optim.Adagrad(g, lr=0.1)),
    }[kind]
    ours = make(ours_groups)
    theirs = None
    if torch is not None:
        theirs_params = [torch.zeros(2, requires_grad=True) for _ in range(groups)]
        theirs_groups = [{"params": [p], "lr": lr} for p, lr in zip(theirs_params, lrs)]
        theirs = {
            "sgd": lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9),
            "adam": lambda g: torch.optim.Adam(g, lr=0.1),
            "adagrad": lambda g: torch.optim.Adagrad(g, lr=0.1),
        }[kind](theirs_groups)
    return ours, theirs


def decay(epoch):
    return 0.9**epoch


class Warmup:
    """A callable object: its attributes are part of LambdaLR's state."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.steps)


CASES = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=4, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[3, 7, 7, 20], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.93),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
    "CosineAnnealingLR T_max=7": lambda m, o: m.CosineAnnealingLR(o, T_max=7),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lr_lambda=decay),
    "LambdaLR per group": lambda m, o: m.LambdaLR(o, lr_lambda=[decay, Warmup(5)]),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=8),
    "LinearLR default": lambda m, o: m.LinearLR(o),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=30),
    "OneCycleLR three phase linear": lambda m, o: m.OneCycleLR(
        o,
        max_lr=0.8,
        epochs=3,
        steps_per_epoch=10,
        pct_start=0.25,
        anneal_strategy="linear",
        three_phase=True,
        base_momentum=0.8,
        max_momentum=[0.9, 0.99],
    ),
    "OneCycleLR no momentum": lambda m, o: m.OneCycleLR(
        o, max_lr=0.5, total_steps=31, cycle_momentum=False, div_factor=10.0
    ),
}

STEPS = 30


def momenta(optimizer):
    groups = optimizer.param_groups
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in groups]


def run(scheduler, optimizer, steps=STEPS):
    """The lrs (and momenta) after construction and after each step."""
    lrs, moms = [scheduler.get_last_lr()], [momenta(optimizer)]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr())
        moms.append(momenta(optimizer))
        assert scheduler.get_last_lr() == [g["lr"] for g in optimizer.param_groups]
    return np.array(lrs), moms


@needs_torch
@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("case", list(CASES))
def test_scheduler_lrs_match_torch_step_for_step(case, kind):
    ours_opt, theirs_opt = optimizers(kind)
    ours = CASES[case](sched, ours_opt)
    theirs = CASES[case](torch.optim.lr_scheduler, theirs_opt)
    steps = STEPS
    lrs, moms = run(ours, ours_opt, steps)
    expected, expected_moms = run(theirs, theirs_opt, steps)
    np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        np.array(moms, dtype=float), np.array(expected_moms, dtype=float), rtol=1e-12
    )
    assert ours.last_epoch == theirs.last_epoch == steps
    assert [g["initial_lr"] for g in ours_opt.param_groups] == [
        g["initial_lr"] for g in theirs_opt.param_groups
    ]
    assert ours.base_lrs == theirs.base_lrs


@needs_torch
@pytest.mark.parametrize("case", list(CASES))
def test_scheduler_state_dict_round_trip_continues_like_torch(case, tmp_path):
    ours_opt, theirs_opt = optimizers("adam")
    ours = CASES[case](sched, ours_opt)
    theirs = CASES[case](torch.optim.lr_scheduler, theirs_opt)
    run(ours, ours_opt, 12)
    run(theirs, theirs_opt, 12)
    # save both the optimizer and the scheduler, through a file, then resume in new objects
    path = tg.save({"opt": ours_opt.state_dict(), "sched": ours.state_dict()}, tmp_path / "ck")
    checkpoint = tg.load(path)
    resumed_opt, _ = optimizers("adam")
    resumed = CASES[case](sched, resumed_opt)  # the scheduler first, as PyTorch advises
    resumed_opt.load_state_dict(checkpoint["opt"])
    resumed.load_state_dict(checkpoint["sched"])
    assert resumed.get_last_lr() == ours.get_last_lr()
    assert resumed.last_epoch == 12
    lrs, _ = run(resumed, resumed_opt, 15)
    expected, _ = run(theirs, theirs_opt, 15)
    np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=1e-15)


@needs_torch
@pytest.mark.parametrize("mode,threshold_mode", [("min", "rel"), ("max", "abs")])
def test_reduce_lr_on_plateau_matches_torch(mode, threshold_mode, tmp_path):
    ours_opt, theirs_opt = optimizers("sgd")
    kwargs = dict(
        mode=mode,
        factor=0.5,
        patience=2,
        threshold=0.01,
        threshold_mode=threshold_mode,
        cooldown=1,
        min_lr=[0.01, 0.02],
    )
    ours = sched.ReduceLROnPlateau(ours_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs_opt, **kwargs)
    r = np.random.default_rng(0)
    values = np.cumsum(r.normal(size=40) * 0.3) * (1 if mode == "min" else -1)
    values[5:9] = values[4]  # a plateau
    lrs, expected = [], []
    for i, value in enumerate(values):
        ours.step(tg.Tensor(value) if i % 2 else float(value))
        theirs.step(torch.tensor(value) if i % 2 else float(value))
        lrs.append(ours.get_last_lr())
        expected.append(theirs.get_last_lr())
        if i == 20:  # round trip through a file half-way
            state = tg.load(tg.save(ours.state_dict(), tmp_path / "plateau"))
            ours = sched.ReduceLROnPlateau(ours_opt, **kwargs)
            ours.load_state_dict(state)
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert ours.num_bad_epochs == theirs.num_bad_epochs and ours.best == theirs.best
    assert min(min(lr) for lr in lrs) < 0.1  # it did reduce


@needs_torch
def test_chained_schedulers_and_a_manual_change_carry_on_like_torch():
    ours_opt, theirs_opt = optimizers("sgd")
    ours = [sched.LinearLR(ours_opt, 0.2, total_iters=4), sched.ExponentialLR(ours_opt, 0.9)]
    theirs = [
        torch.optim.lr_scheduler.LinearLR(theirs_opt, 0.2, total_iters=4),
        torch.optim.lr_scheduler.ExponentialLR(theirs_opt, 0.9),
    ]
    for step in range(12):
        if step == 6:
            for opt in (ours_opt, theirs_opt):
                opt.param_groups[0]["lr"] = 0.05
        ours_opt.step()
        theirs_opt.step()
        for s in ours + theirs:
            s.step()
        assert ours[1].get_last_lr() == pytest.approx(theirs[1].get_last_lr(), rel=1e-12)
        assert ours[0].get_last_lr() == pytest.approx(theirs[0].get_last_lr(), rel=1e-12)


@needs_torch
@pytest.mark.parametrize(
    "case", ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR", "LambdaLR"]
)
def test_step_with_an_epoch_uses_the_closed_form_like_torch(case):
    ours_opt, theirs_opt = optimizers("sgd")
    ours = CASES[case](sched, ours_opt)
    theirs = CASES[case](torch.optim.lr_scheduler, theirs_opt)
    for epoch in (3, 8, 4, 15):
        with pytest.warns(UserWarning, match="deprecated"):
            ours.step(epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs.step(epoch)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
        assert ours.last_epoch == epoch


@needs_torch
def test_resuming_with_last_epoch_like_torch():
    for case in ("StepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR"):
        ours_opt, theirs_opt = optimizers("sgd")
        for opt in (ours_opt, theirs_opt):
            for group in opt.param_groups:
                group["initial_lr"] = group["lr"]
        make = {
            "StepLR": lambda m, o: m.StepLR(o, 3, last_epoch=5),
            "ExponentialLR": lambda m, o: m.ExponentialLR(o, 0.9, last_epoch=5),
            "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, 10, last_epoch=5),
            "LinearLR": lambda m, o: m.LinearLR(o, 0.5, total_iters=8, last_epoch=5),
        }[case]
        lrs, _ = run(make(sched, ours_opt), ours_opt, 10)
        expected, _ = run(make(torch.optim.lr_scheduler, theirs_opt), theirs_opt, 10)
        np.testing.assert_allclose(lrs, expected, rtol=1e-12)


def test_scheduler_bookkeeping():
    opt, _ = optimizers("sgd")
    s = sched.StepLR(opt, step_size=2)
    assert s.last_epoch == 0 and s.get_last_lr() == [0.1, 0.03]
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.03]
    s.get_last_lr().append(5)  # a copy
    assert s.get_last_lr() == [0.1, 0.03]
    state = s.state_dict()
    assert "optimizer" not in state and state["base_lrs"] == [0.1, 0.03]
    state["base_lrs"].append(1.0)  # a copy too
    assert s.base_lrs == [0.1, 0.03]
    assert "StepLR(last_epoch=0" in repr(s)
    assert isinstance(s, sched.LRScheduler)
    assert tg.optim.lr_scheduler is sched


def test_lambda_lr_state_keeps_callable_objects_not_functions():
    opt, _ = optimizers("sgd")
    warmup = Warmup(5)
    s = sched.LambdaLR(opt, [decay, warmup])
    state = s.state_dict()
    assert state["lr_lambdas"] == [None, {"steps": 5}]
    warmup.steps = 9
    s.load_state_dict(state)
    assert warmup.steps == 5 and s.lr_lambdas == [decay, warmup]


def test_onecycle_raises_past_total_steps():
    opt, _ = optimizers("sgd")
    s = sched.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        s.step()
    with pytest.raises(ValueError, match="stepped 4 times, but total_steps is 3"):
        s.step()


def test_scheduler_errors():
    opt, _ = optimizers("sgd")
    with pytest.raises(TypeError, match="StepLR: expected an optimizer from tg.optim"):
        sched.StepLR([tg.Tensor([1.0])], 3)
    with pytest.raises(TypeError, match="ReduceLROnPlateau: expected an optimizer"):
        sched.ReduceLROnPlateau("sgd")
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="StepLR: step_size must be a positive int"):
            sched.StepLR(opt, bad)
    with pytest.raises(TypeError, match="MultiStepLR: milestones must be ints"):
        sched.MultiStepLR(opt, [2.5])
    with pytest.raises(ValueError, match="T_max must be a number > 0"):
        sched.CosineAnnealingLR(opt, 0)
    with pytest.raises(ValueError, match=r"start_factor must be in \(0, 1\]"):
        sched.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match=r"end_factor must be in \[0, 1\]"):
        sched.LinearLR(opt, end_factor=1.5)
    with pytest.raises(ValueError, match="total_iters must be a positive int"):
        sched.LinearLR(opt, total_iters=0)
    with pytest.raises(ValueError, match="got 3 lr_lambdas, but the optimizer has 2"):
        sched.LambdaLR(opt, [decay] * 3)
    with pytest.raises(TypeError, match="lr_lambda 0 is not callable"):
        sched.LambdaLR(opt, 0.5)
    with pytest.raises(ValueError, match="last_epoch must be an int >= -1"):
        sched.StepLR(opt, 2, last_epoch=-3)
    fresh, _ = optimizers("sgd")
    with pytest.raises(KeyError, match=r"param_groups\[0\] has no 'initial_lr'"):
        sched.ExponentialLR(fresh, 0.9, last_epoch=4)


def test_onecycle_errors():
    opt, _ = optimizers("sgd")
    with pytest.raises(ValueError, match="give total_steps, or both epochs and steps_per_epoch"):
        sched.OneCycleLR(opt, 1.0, epochs=3)
    with pytest.raises(ValueError, match="total_steps must be a positive int"):
        sched.OneCycleLR(opt, 1.0, total_steps=0)
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive int"):
        sched.OneCycleLR(opt, 1.0, epochs=2, steps_per_epoch=2.5)
    with pytest.raises(ValueError, match=r"pct_start must be a float in \[0, 1\]"):
        sched.OneCycleLR(opt, 1.0, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy must be 'cos' or 'linear'"):
        sched.OneCycleLR(opt, 1.0, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="max_lr has 3 values, but the optimizer has 2"):
        sched.OneCycleLR(opt, [1.0, 1.0, 1.0], total_steps=10)
    adagrad, _ = optimizers("adagrad")
    with pytest.raises(ValueError, match="cycle_momentum=True needs an optimizer with momentum"):
        sched.OneCycleLR(adagrad, 1.0, total_steps=10)
    sched.OneCycleLR(adagrad, 1.0, total_steps=10, cycle_momentum=False)


def test_plateau_errors():
    opt, _ = optimizers("sgd")
    with pytest.raises(ValueError, match="factor must be < 1.0"):
        sched.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        sched.ReduceLROnPlateau(opt, mode="lowest")
    with pytest.raises(ValueError, match="threshold_mode must be 'rel' or 'abs'"):
        sched.ReduceLROnPlateau(opt, threshold_mode="pct")
    with pytest.raises(ValueError, match="patience must be an int >= 0"):
        sched.ReduceLROnPlateau(opt, patience=-1)
    with pytest.raises(ValueError, match="min_lr has 3 values"):
        sched.ReduceLROnPlateau(opt, min_lr=[0, 0, 0])
    s = sched.ReduceLROnPlateau(opt)
    with pytest.raises(TypeError, match=r"needs the monitored value.*scheduler.step\(val_loss\)"):
        s.step(None)
    with pytest.raises(TypeError, match="needs the monitored value"):
        s.step(tg.Tensor([1.0, 2.0]))


def test_state_dict_errors_change_nothing():
    opt, _ = optimizers("sgd")
    step = sched.StepLR(opt, 2)
    other = sched.ExponentialLR(opt, 0.5)
    before = step.state_dict()
    with pytest.raises(ValueError, match=r"does not match \(missing \['step_size'\].*another sch"):
        step.load_state_dict(other.state_dict())
    with pytest.raises(TypeError, match="expected a dict from state_dict"):
        step.load_state_dict([1, 2])
    assert step.state_dict() == before
    lam = sched.LambdaLR(opt, decay)
    bad = lam.state_dict()
    bad["lr_lambdas"] = [None, None, None]
    with pytest.raises(ValueError, match="expected 'lr_lambdas' with 2 entries"):
        lam.load_state_dict(bad)


def test_a_group_added_after_the_scheduler_is_an_error():
    opt, _ = optimizers("sgd", groups=1)
    s = sched.LambdaLR(opt, decay)
    opt.add_param_group({"params": [tg.Tensor([1.0], requires_grad=True)]})
    before = s.state_dict()
    with pytest.raises(
        ValueError, match="has 2 parameter groups, but the scheduler was created for 1"
    ):
        s.step()
    assert s.state_dict() == before


# ---- fit with a scheduler ---------------------------------------------------------------------


def regression(n=32, batch_size=8, seed=0):
    r = np.random.default_rng(seed)
    x = r.normal(size=(n, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + 0.1
    loader = DataLoader(TensorDataset(tg.Tensor(x), tg.Tensor(y)), batch_size=batch_size)
    tg.manual_seed(seed)
    return nn.Linear(3, 1), loader


def mse(output, target):
    return ((output - target) ** 2).mean()


def test_fit_steps_a_scheduler_per_epoch_and_records_the_lr():
    model, loader = regression()
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    scheduler = sched.StepLR(opt, step_size=2, gamma=0.5)
    history = tg.train.fit(model, mse, opt, loader, epochs=5, scheduler=scheduler, progress=False)
    assert list(history.history) == ["loss", "lr"]
    assert history.lr == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    assert scheduler.last_epoch == 5 and opt.param_groups[0]["lr"] == pytest.approx(0.025)
    assert history.loss[-1] < history.loss[0]


def test_fit_steps_a_scheduler_per_batch():
    model, loader = regression()
    opt = tg.optim.Adam(model.parameters(), lr=0.01)
    scheduler = sched.OneCycleLR(opt, max_lr=0.1, epochs=3, steps_per_epoch=len(loader))
    history = tg.train.fit(
        model,
        mse,
        opt,
        loader,
        epochs=3,
        scheduler=scheduler,
        scheduler_step="batch",
        progress=False,
    )
    assert scheduler.last_epoch == 3 * len(loader)
    assert history.lr[0] == pytest.approx(0.1 / 25)
    assert len(history.lr) == 3


def test_fit_steps_reduce_lr_on_plateau_with_the_validation_or_training_loss():
    class Recorder(sched.ReduceLROnPlateau):
        def step(self, metrics, epoch=None):
            self.seen = [*getattr(self, "seen", []), float(metrics)]
            super().step(metrics, epoch)

    for with_val in (True, False):
        model, loader = regression()
        _, val_loader = regression(n=16, seed=1)
        opt = tg.optim.SGD(model.parameters(), lr=0.1)
        scheduler = Recorder(opt, patience=0)
        history = tg.train.fit(
            model,
            mse,
            opt,
            loader,
            epochs=4,
            val_loader=val_loader if with_val else None,
            scheduler=scheduler,
            progress=False,
        )
        assert scheduler.seen == (history.val_loss if with_val else history.loss)
        assert history.lr[0] == 0.1


def test_fit_records_the_lr_each_epoch_trained_with():
    model, loader = regression()
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    history = tg.train.fit(
        model, mse, opt, loader, epochs=2, scheduler=sched.ExponentialLR(opt, 0.5), progress=False
    )
    assert history.lr == pytest.approx([0.1, 0.05])


def test_fit_scheduler_errors():
    model, loader = regression()
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    other = tg.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match='scheduler_step must be "epoch" or "batch"'):
        tg.train.fit(
            model,
            mse,
            opt,
            loader,
            1,
            scheduler=sched.StepLR(opt, 1),
            scheduler_step="step",
            progress=False,
        )
    with pytest.raises(TypeError, match="scheduler must be a learning-rate scheduler"):
        tg.train.fit(model, mse, opt, loader, 1, scheduler=0.1, progress=False)
    with pytest.raises(ValueError, match="adjusts another optimizer"):
        tg.train.fit(model, mse, opt, loader, 1, scheduler=sched.StepLR(other, 1), progress=False)
    with pytest.raises(ValueError, match="ReduceLROnPlateau is stepped with an epoch.s loss"):
        tg.train.fit(
            model,
            mse,
            opt,
            loader,
            1,
            scheduler=sched.ReduceLROnPlateau(opt),
            scheduler_step="batch",
            progress=False,
        )
