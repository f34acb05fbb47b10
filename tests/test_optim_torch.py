"""tg.optim against torch.optim: the same start, the same loss, 25 steps, every option.

Each framework computes its own gradients of the same loss, so the comparison covers the
update rules end to end; in float64 the trajectories agree to about 1e-15.
"""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import optim

torch = pytest.importorskip("torch")

STEPS = 25
TOLERANCE = 1e-12

CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.02}),
    ("Adam", {}),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-6}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.05}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.2}),
    ("AdamW", {"lr": 0.05, "amsgrad": True, "betas": (0.5, 0.9)}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-6}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.005, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6}),
]


def problem(seed=1):
    """Initial weights (a matrix, a vector and a 0-d scalar) and fixed data."""
    rng = np.random.default_rng(seed)
    start = [rng.normal(size=(3, 4)), rng.normal(size=4), np.array(0.8)]
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 4))
    return start, x, y


def loss_of(w, b, s, x, y, lib):
    h = lib.tanh(x @ w + b) if lib is torch else (x @ w + b).tanh()
    return ((h * s - y) ** 2).mean() + (s - 0.5) ** 2 * 0.1


def run_tg(name, options, start, x, y, groups=False):
    params = [tg.Tensor(a, requires_grad=True) for a in start]
    spec = [{"params": params[:1], "lr": 0.02}, {"params": params[1:]}] if groups else params
    opt = getattr(optim, name)(spec, **options)
    trajectory = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss_of(*params, x, y, tg).backward()
        opt.step()
        trajectory.append([p.data.copy() for p in params])
    return trajectory


def run_torch(name, options, start, x, y, groups=False):
    params = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in start]
    spec = [{"params": params[:1], "lr": 0.02}, {"params": params[1:]}] if groups else params
    opt = getattr(torch.optim, name)(spec, **options)
    xt, yt = torch.tensor(x), torch.tensor(y)
    trajectory = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss_of(*params, xt, yt, torch).backward()
        opt.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory


def max_difference(a, b):
    return max(float(np.max(np.abs(pa - pb))) for sa, sb in zip(a, b) for pa, pb in zip(sa, sb))


@pytest.mark.parametrize("name, options", CASES, ids=[f"{n}-{o}" for n, o in CASES])
def test_trajectory_matches_torch(name, options):
    start, x, y = problem()
    ours = run_tg(name, options, start, x, y)
    theirs = run_torch(name, options, start, x, y)
    assert max_difference(ours, theirs) < TOLERANCE
    # and the weights really moved: the comparison is not between two unchanged copies
    assert np.max(np.abs(ours[-1][0] - start[0])) > 1e-3


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_param_groups_match_torch(name):
    options = {"lr": 0.1, "momentum": 0.9} if name in ("SGD", "RMSprop") else {"lr": 0.05}
    start, x, y = problem(seed=2)
    ours = run_tg(name, options, start, x, y, groups=True)
    theirs = run_torch(name, options, start, x, y, groups=True)
    assert max_difference(ours, theirs) < TOLERANCE


def test_float32_adam_stays_close_to_torch_float32():
    start, x, y = problem(seed=3)
    start = [a.astype(np.float32) for a in start]
    x, y = x.astype(np.float32), y.astype(np.float32)
    params = [tg.Tensor(a, requires_grad=True) for a in start]
    opt = optim.Adam(params, lr=0.01)
    tparams = [torch.tensor(a, requires_grad=True) for a in start]
    topt = torch.optim.Adam(tparams, lr=0.01)
    for _ in range(STEPS):
        opt.zero_grad()
        loss_of(*params, x, y, tg).backward()
        opt.step()
        topt.zero_grad()
        loss_of(*tparams, torch.tensor(x), torch.tensor(y), torch).backward()
        topt.step()
    for p, t in zip(params, tparams):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p.data, t.detach().numpy(), atol=1e-5)
