"""Learning-rate schedulers: change the ``lr`` of an optimizer's parameter groups as training
goes on, with PyTorch's classes, arguments and numbers (``torch.optim.lr_scheduler``)::

    opt = tg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = tg.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, opt)    # opt.step() after every batch
        scheduler.step()               # then the lr for the next epoch

How a scheduler counts, as in PyTorch:

* Creating it is step 0: it stores each group's starting lr as ``group["initial_lr"]`` (the
  list ``base_lrs``), sets ``last_epoch = 0`` and the lr of step 0. Each ``step()`` adds 1 to
  ``last_epoch`` and sets the lr for that step. ``get_last_lr()`` is the list of lrs it set
  last, one per parameter group.
* Most schedulers are *chainable*: a step multiplies (or moves) the group's *current* lr
  rather than recomputing it from ``base_lrs``, so two schedulers on one optimizer combine,
  and an lr you changed by hand carries on from there. ``step(epoch)`` (deprecated in
  PyTorch, kept for old lecture code) jumps to ``last_epoch = epoch`` with the closed form.
* ``state_dict()`` is a copy of everything but the optimizer (numbers, lists and dicts, which
  ``tg.save`` can write); ``load_state_dict`` puts it back. Save it next to the model's and
  the optimizer's, and create the scheduler *before* loading the optimizer's state (creating
  a scheduler sets the groups' lrs).

Each class gives, step for step, the lr PyTorch 2.x gives: the same formula in the same
order of floating-point operations.
"""

from __future__ import annotations

import copy
import math
import types
import warnings
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import Optimizer

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "StepLR",
]

_EPOCH_DEPRECATED = (
    "step(epoch) is deprecated (as in PyTorch): call step() once per epoch instead; the lr "
    "was set with the schedule's closed form at that epoch"
)


def _check_optimizer(scheduler: str, optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"{scheduler}: expected an optimizer from tg.optim (SGD, Adam, ...), got "
            f"{type(optimizer).__name__}"
        )


def _check_positive_int(scheduler: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{scheduler}: {name} must be a positive int, got {value!r}")


def _per_group(scheduler: str, name: str, optimizer: Optimizer, value: Any) -> list:
    """One value per parameter group: a list or tuple of that length, or one value for all."""
    groups = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != groups:
            raise ValueError(
                f"{scheduler}: {name} has {len(value)} values, but the optimizer has {groups} "
                "parameter groups; give one value per group, or a single value for all"
            )
        return list(value)
    return [value] * groups


class LRScheduler:
    """Base class: keeps ``optimizer``, ``base_lrs`` (each group's ``initial_lr``),
    ``last_epoch`` and the lrs of the last step.

    A subclass sets its options, then calls ``super().__init__(optimizer, last_epoch)``, and
    defines ``get_lr()``: the lr of every group at step ``last_epoch``, usually from the
    groups' current ``lr`` (chainable); and, if the schedule has one, ``_closed_form_lr()``
    from ``base_lrs`` alone (used by ``step(epoch)``).

    ``last_epoch=-1`` starts a schedule. A larger value resumes one: every group must then
    hold the ``initial_lr`` a scheduler stored in it (load the optimizer's saved state first).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(self._name, optimizer)
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(f"{self._name}: last_epoch must be an int >= -1, got {last_epoch!r}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{self._name}: last_epoch={last_epoch} resumes a schedule, but "
                        f"param_groups[{i}] has no 'initial_lr' (a scheduler stores it); "
                        "load the optimizer's saved state_dict first, or pass last_epoch=-1 "
                        "to start a new schedule"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        # Step 0 (from last_epoch=-1) or the step after the resumed one: some schedules keep
        # the current lr here instead of moving it a step ahead of itself.
        self._is_initial = True
        self.step()
        self._is_initial = False

    @property
    def _name(self) -> str:
        return type(self).__name__

    def get_lr(self) -> list[float]:
        """The lr of every parameter group at step ``last_epoch`` (called by ``step``; to
        read the current lrs, use ``get_last_lr()``)."""
        raise NotImplementedError

    def _closed_form_lr(self) -> list[float] | None:
        """The lrs at ``last_epoch`` from ``base_lrs`` alone, or None when the schedule has no
        closed form (then ``step(epoch)`` uses ``get_lr``)."""
        return None

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self, epoch: int | None = None) -> None:
        """Advance the schedule by one step and set every group's lr. Call it after
        ``optimizer.step()``: once per epoch, or once per batch for per-batch schedules such
        as `OneCycleLR`. ``epoch`` (deprecated) jumps to that step instead."""
        before = self.last_epoch, self._step_count
        self._step_count += 1
        if epoch is None:
            self.last_epoch += 1
            lrs = self.get_lr()
        else:
            warnings.warn(_EPOCH_DEPRECATED, UserWarning, stacklevel=2)
            self.last_epoch = epoch
            lrs = self._closed_form_lr()
            if lrs is None:
                lrs = self.get_lr()
        groups = self.optimizer.param_groups
        if len(lrs) != len(groups):
            self.last_epoch, self._step_count = before  # a failed step changes nothing
            raise ValueError(
                f"{self._name}.step: the optimizer has {len(groups)} parameter groups, but the "
                f"scheduler was created for {len(lrs)}; create the scheduler after the last "
                "add_param_group"
            )
        for group, lr in zip(groups, lrs):
            group["lr"] = lr
        self._last_lr = self._current_lrs()

    def get_last_lr(self) -> list[float]:
        """The lrs the last step set, one per parameter group."""
        return list(self._last_lr)

    # ---- checkpoints -----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """A copy of the scheduler's state: every attribute but the optimizer."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state taken by ``state_dict()`` (possibly saved and loaded with
        ``tg.save`` / ``tg.load``). Its entries must be the ones this scheduler keeps;
        otherwise a ValueError says which differ and nothing changes."""
        if not isinstance(state_dict, dict):
            raise TypeError(
                f"{self._name}.load_state_dict: expected a dict from state_dict(), got "
                f"{type(state_dict).__name__}"
            )
        own = set(self.state_dict())
        missing, unexpected = own - set(state_dict), set(state_dict) - own
        if missing or unexpected:
            raise ValueError(
                f"{self._name}.load_state_dict: the state does not match (missing "
                f"{sorted(missing)}, unexpected {sorted(unexpected)}); is it the state of "
                "another scheduler?"
            )
        self.__dict__.update(copy.deepcopy(state_dict))

    def __repr__(self) -> str:
        return f"{self._name}(last_epoch={self.last_epoch}, last_lr={self.get_last_lr()})"


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(last_epoch), for a function of the step (or one function per
    parameter group)::

        LambdaLR(opt, lambda epoch: 0.95 ** epoch)

    Not chainable: every step recomputes from ``base_lrs``. ``state_dict()`` keeps the
    attributes of callable objects, not plain functions or lambdas (None in their place).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer("LambdaLR", optimizer)
        groups = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != groups:
                raise ValueError(
                    f"LambdaLR: got {len(lr_lambda)} lr_lambdas, but the optimizer has "
                    f"{groups} parameter groups"
                )
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * groups
        for i, fn in enumerate(self.lr_lambdas):
            if not callable(fn):
                raise TypeError(f"LambdaLR: lr_lambda {i} is not callable: {fn!r}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self) -> dict[str, Any]:
        state = {
            k: copy.deepcopy(v)
            for k, v in self.__dict__.items()
            if k not in ("optimizer", "lr_lambdas")
        }
        state["lr_lambdas"] = [
            None if isinstance(fn, types.FunctionType) else copy.deepcopy(fn.__dict__)
            for fn in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = state_dict.get("lr_lambdas") if isinstance(state_dict, dict) else None
        if isinstance(state_dict, dict) and (
            not isinstance(saved, list) or len(saved) != len(self.lr_lambdas)
        ):
            raise ValueError(
                f"LambdaLR.load_state_dict: expected 'lr_lambdas' with {len(self.lr_lambdas)} "
                f"entries, got {saved!r}"
            )
        lambdas = self.lr_lambdas
        super().load_state_dict(state_dict)
        self.lr_lambdas = lambdas  # the functions themselves are never part of the state
        for fn, attributes in zip(lambdas, saved):
            if attributes is not None:
                fn.__dict__.update(copy.deepcopy(attributes))


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` steps::

        lr = base_lr * gamma ** (last_epoch // step_size)

    (chainable: at each multiple of step_size the current lr is multiplied by gamma).
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        _check_positive_int("StepLR", "step_size", step_size)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each of the ``milestones`` (step numbers)::

        lr = base_lr * gamma ** (number of milestones <= last_epoch)

    A milestone given twice multiplies by gamma twice.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        milestones = list(milestones)
        for m in milestones:
            if isinstance(m, bool) or not isinstance(m, int):
                raise TypeError(f"MultiStepLR: milestones must be ints, got {milestones!r}")
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        times = self.milestones.get(self.last_epoch, 0)
        if times == 0:
            return self._current_lrs()
        return [lr * self.gamma**times for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        milestones = sorted(Counter(self.milestones).elements())
        passed = bisect_right(milestones, self.last_epoch)
        return [base * self.gamma**passed for base in self.base_lrs]

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        # tg.load gives back a plain dict with the keys as they were saved
        self.milestones = Counter({int(k): int(v) for k, v in dict(self.milestones).items()})


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` at every step: lr = base_lr * gamma ** last_epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Follow half a cosine from base_lr down to ``eta_min`` over ``T_max`` steps::

        lr_t = eta_min + (base_lr - eta_min) (1 + cos(pi t / T_max)) / 2

    As in PyTorch, each step moves the current lr by the ratio of two consecutive values of
    this curve (chainable), so after ``T_max`` it climbs back up (a period of 2 T_max).
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        if isinstance(T_max, bool) or not isinstance(T_max, (int, float)) or not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be a number > 0, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and t > 0:  # resumed: the curve itself
            return [
                eta_min + (base - eta_min) * (1 + math.cos(t * math.pi / T)) / 2
                for base in self.base_lrs
            ]
        if (t - 1 - T) % (2 * T) == 0:  # leaving the bottom, where the ratio would be 0/0
            return [
                lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                for base, lr in zip(self.base_lrs, self._current_lrs())
            ]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        return [
            eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / T)) / 2
            for base in self.base_lrs
        ]


class LinearLR(LRScheduler):
    """Scale the lr by a factor that moves linearly from ``start_factor`` to ``end_factor``
    over ``total_iters`` steps, then stays::

        lr = base_lr * (start + (end - start) * min(last_epoch, total_iters) / total_iters)

    The usual warm-up: ``LinearLR(opt, start_factor=0.1, total_iters=5)``.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor!r}")
        _check_positive_int("LinearLR", "total_iters", total_iters)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        start, end, t = self.start_factor, self.end_factor, self.last_epoch
        if t == 0:
            return [lr * start for lr in self._current_lrs()]
        if self._is_initial or t > self.total_iters:
            return self._current_lrs()
        # the ratio of the factors at t and t - 1
        ratio = 1.0 + (end - start) / (self.total_iters * start + (t - 1) * (end - start))
        return [lr * ratio for lr in self._current_lrs()]

    def _closed_form_lr(self) -> list[float]:
        start, end = self.start_factor, self.end_factor
        done = min(self.total_iters, self.last_epoch)
        return [base * (start + (end - start) * done / self.total_iters) for base in self.base_lrs]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith), stepped once per *batch*: the lr rises from
    ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of ``total_steps``,
    then falls to ``initial_lr / final_div_factor`` (cosine or linear annealing). With
    ``three_phase=True`` it falls back to the start symmetrically, then to the minimum.

    With ``cycle_momentum`` (the default) the momentum moves the other way, between
    ``max_momentum`` and ``base_momentum``: ``group["momentum"]`` for SGD and RMSprop,
    ``betas[0]`` for Adam and AdamW. Give ``total_steps``, or ``epochs`` and
    ``steps_per_epoch``. Stepping more than ``total_steps`` times is a ValueError. Each group
    also keeps ``max_lr``, ``min_lr`` (and ``max_momentum``, ``base_momentum``), as in PyTorch.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer("OneCycleLR", optimizer)
        if total_steps is not None:
            _check_positive_int("OneCycleLR", "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            _check_positive_int("OneCycleLR", "epochs", epochs)
            _check_positive_int("OneCycleLR", "steps_per_epoch", steps_per_epoch)
            total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("OneCycleLR: give total_steps, or both epochs and steps_per_epoch")
        if isinstance(pct_start, bool) or not isinstance(pct_start, float):
            raise ValueError(f"OneCycleLR: pct_start must be a float in [0, 1], got {pct_start!r}")
        if not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: pct_start must be a float in [0, 1], got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        self.total_steps = total_steps
        self.anneal_strategy = anneal_strategy
        self._schedule_phases = _one_cycle_phases(total_steps, pct_start, three_phase)

        max_lrs = _per_group("OneCycleLR", "max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            defaults = optimizer.defaults
            if "momentum" not in defaults and "betas" not in defaults:
                raise ValueError(
                    f"OneCycleLR: cycle_momentum=True needs an optimizer with momentum or betas "
                    f"(SGD, RMSprop, Adam, AdamW), not {type(optimizer).__name__}; pass "
                    "cycle_momentum=False"
                )
            self.use_beta1 = "betas" in defaults
            highs = _per_group("OneCycleLR", "max_momentum", optimizer, max_momentum)
            lows = _per_group("OneCycleLR", "base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for group, high, low in zip(optimizer.param_groups, highs, lows):
                    self._set_momentum(group, high)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict, momentum: float) -> None:
        if self.use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(
                f"OneCycleLR: stepped {step} times, but total_steps is {self.total_steps}; "
                "create it with the number of batches you train for (epochs * len(loader))"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    break
                start_step = end_step
            lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
            if self.cycle_momentum:
                momentum = self._anneal(
                    group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                )
                self._set_momentum(group, momentum)
        return lrs


def _one_cycle_phases(total_steps: int, pct_start: float, three_phase: bool) -> list[dict]:
    """The phases of 1cycle: the last step of each, and the entries of the group (lr and
    momentum) it anneals from and to."""

    def phase(end_step: float, lrs: str, momenta: str) -> dict:
        start_lr, end_lr = lrs.split()
        start_momentum, end_momentum = momenta.split()
        return {
            "end_step": end_step,
            "start_lr": start_lr,
            "end_lr": end_lr,
            "start_momentum": start_momentum,
            "end_momentum": end_momentum,
        }

    rise = phase(
        float(pct_start * total_steps) - 1, "initial_lr max_lr", "max_momentum base_momentum"
    )
    if not three_phase:
        return [rise, phase(total_steps - 1, "max_lr min_lr", "base_momentum max_momentum")]
    return [
        rise,
        phase(
            float(2 * pct_start * total_steps) - 2,
            "max_lr initial_lr",
            "base_momentum max_momentum",
        ),
        phase(total_steps - 1, "initial_lr min_lr", "max_momentum max_momentum"),
    ]


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by ``factor`` when a monitored value (the validation loss, say) has not
    improved for more than ``patience`` steps::

        scheduler = ReduceLROnPlateau(opt, mode="min", factor=0.1, patience=10)
        for epoch in range(100):
            train_one_epoch(...)
            scheduler.step(val_loss)

    A value improves on the best so far when it is below ``best * (1 - threshold)``
    (``threshold_mode="rel"``) or ``best - threshold`` (``"abs"``); above, for
    ``mode="max"``. After a reduction, ``cooldown`` steps pass without counting bad ones. The
    lr never goes below ``min_lr`` (one value, or one per group), and a reduction smaller
    than ``eps`` is skipped. ``step`` takes the value; there is no ``initial_lr``.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        if not factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1.0, got {factor!r}")
        _check_optimizer("ReduceLROnPlateau", optimizer)
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"ReduceLROnPlateau: {name} must be an int >= 0, got {value!r}")
        self.factor = factor
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr = None
            self.min_lrs = _per_group("ReduceLROnPlateau", "min_lr", optimizer, min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        self._set_mode(mode, threshold, threshold_mode)
        self._reset()

    def _set_mode(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}"
            )
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, value: float, best: float) -> bool:
        rel, threshold = self.threshold_mode == "rel", self.threshold
        if self.mode == "min":
            return value < best * (1.0 - threshold) if rel else value < best - threshold
        return value > best * (threshold + 1.0) if rel else value > best + threshold

    def step(self, metrics: Any, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record one value of the monitored quantity (a number or a one-element Tensor) and
        reduce the lr if it has not improved for more than ``patience`` steps."""
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise TypeError(
                "ReduceLROnPlateau.step needs the monitored value, a number or a "
                f"one-element Tensor (scheduler.step(val_loss)), got {metrics!r}"
            ) from None
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(_EPOCH_DEPRECATED, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise ValueError(
                    f"ReduceLROnPlateau: the optimizer now has {len(groups)} parameter groups "
                    f"but min_lr has {len(self.min_lrs)} values; set scheduler.min_lrs"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._set_mode(self.mode, self.threshold, self.threshold_mode)
