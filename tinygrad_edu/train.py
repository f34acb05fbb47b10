"""A training loop you would otherwise write by hand every time: ``fit`` and ``evaluate``.

``fit`` runs, for every epoch::

    model.train()
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    with tg.no_grad(): model.eval(); evaluate on val_loader

and records the mean loss (and metrics) of every epoch in a `History`, like Keras::

    history = tg.train.fit(model, F.cross_entropy, opt, train_loader, epochs=20,
                           val_loader=val_loader, metrics=["accuracy"],
                           early_stopping=tg.train.EarlyStopping(patience=3))
    history["val_loss"]        # one value per epoch; also history.val_loss

A batch is a tuple ``(inputs..., target)``: the model gets every element but the last.

With a learning-rate scheduler, ``fit`` also steps it (after each epoch, or after each batch)
and records the lr of every epoch::

    scheduler = tg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20)
    history = tg.train.fit(model, F.cross_entropy, opt, train_loader, epochs=20,
                           scheduler=scheduler)
    history["lr"]              # the lr each epoch trained with

Callbacks watch (or take over part of) every batch: a `tg.debug.HealthMonitor` records the
health of the network after each optimizer step, a `tg.debug.TrainingRecorder` traces each
backward pass for the step-through view::

    monitor = tg.debug.HealthMonitor(model)
    tg.train.fit(model, F.cross_entropy, opt, train_loader, epochs=5, callbacks=[monitor])
    monitor.plot()
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .grad_mode import no_grad
from .optim.lr_scheduler import ReduceLROnPlateau
from .tensor import Tensor

Metric = Callable[[Tensor, Tensor], float]


def accuracy(output: Tensor, target: Tensor) -> float:
    """The fraction of correct predictions.

    - Multi-class, ``output`` of shape ``(N, C)`` (logits or probabilities): the prediction
      is ``argmax`` over the classes; ``target`` holds class indices ``(N,)`` or one-hot /
      probability rows ``(N, C)`` (their argmax is the class).
    - Binary, ``output`` of shape ``(N,)`` or ``(N, 1)`` holding probabilities: the
      prediction is ``output > 0.5``, compared with 0/1 targets of the same length.
    """
    out = np.asarray(output.data if isinstance(output, Tensor) else output)
    tgt = np.asarray(target.data if isinstance(target, Tensor) else target)
    if out.ndim == 2 and out.shape[1] > 1:
        predicted = out.argmax(axis=1)
        if tgt.shape == out.shape:
            tgt = tgt.argmax(axis=1)
    elif out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1):
        predicted = out.reshape(-1) > 0.5
        if tgt.size == predicted.size:
            tgt = tgt.reshape(-1) > 0.5
    else:
        raise ValueError(
            f"accuracy: expected outputs of shape (N, C), (N,) or (N, 1), got {out.shape}"
        )
    if tgt.shape != predicted.shape:
        raise ValueError(
            f"accuracy: outputs of shape {out.shape} do not match targets of shape "
            f"{np.shape(target)}"
        )
    return float(np.mean(predicted == tgt))


BUILTIN_METRICS: dict[str, Metric] = {"accuracy": accuracy}


class History:
    """What ``fit`` recorded: ``history.history`` maps ``"loss"``, ``"val_loss"`` and each
    metric (``"accuracy"``, ``"val_accuracy"``, ...) to a list with one value per epoch.
    Read an entry as ``history["loss"]`` or ``history.loss``; ``history.epochs`` is the number
    of epochs that ran (fewer than asked for when early stopping stopped the run)."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.history: dict[str, list[float]] = {key: [] for key in keys}

    @property
    def epochs(self) -> int:
        return len(self.history["loss"])

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __getattr__(self, key: str) -> list[float]:
        history = self.__dict__.get("history", {})
        if key in history:
            return history[key]
        raise AttributeError(f"History has no {key!r}; it recorded {list(history)}")

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v)
        return f"History({self.epochs} epochs; last: {last})"


class EarlyStopping:
    """Stop training when the monitored value has not improved for ``patience`` epochs.

    An epoch improves on the best value so far when it is lower by more than ``min_delta``
    (higher, for ``mode="max"``; ``mode="auto"`` picks ``"max"`` for accuracies and ``"min"``
    otherwise). ``monitor`` is ``"val_loss"`` by default and falls back to ``"loss"`` when
    ``fit`` has no ``val_loader``. With ``restore_best=True`` the model ends with the weights
    of its best epoch (a copy of its ``state_dict()`` taken then), whether or not training
    stopped early. After ``fit``, ``best_epoch`` and ``best`` tell which epoch that was
    (counting from 1) and its value, and ``stopped_epoch`` the epoch training stopped after
    (``None`` if it ran to the end).
    """

    def __init__(
        self,
        patience: int,
        min_delta: float = 0.0,
        restore_best: bool = True,
        monitor: str = "val_loss",
        mode: str = "auto",
    ) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        if not min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f'EarlyStopping: mode must be "auto", "min" or "max", got {mode!r}')
        self.patience = patience
        self.min_delta = min_delta
        self.restore_best = restore_best
        self.monitor = monitor
        self.mode = mode
        self._reset(monitor)

    def _reset(self, monitor: str) -> None:
        """Start afresh for a run of ``fit`` that monitors ``monitor``."""
        self.monitored = monitor
        mode = self.mode
        if mode == "auto":
            mode = "max" if monitor.endswith(("accuracy", "acc")) else "min"
        self._sign = 1.0 if mode == "min" else -1.0
        self.best = math.inf * self._sign
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.best_state: dict[str, Any] | None = None
        self.wait = 0

    def _update(self, epoch: int, value: float, model: Any) -> bool:
        """Record one epoch's value; return True when training should stop."""
        if self._sign * value < self._sign * self.best - self.min_delta:  # NaN never improves
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self.best_state = model.state_dict()
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, "
            f"restore_best={self.restore_best}, monitor={self.monitor!r}, mode={self.mode!r})"
        )


def fit(
    model: Any,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    optimizer: Any,
    train_loader: Iterable,
    epochs: int,
    val_loader: Iterable | None = None,
    metrics: Sequence[str] | Mapping[str, Metric] | None = None,
    early_stopping: EarlyStopping | None = None,
    progress: bool = True,
    scheduler: Any = None,
    scheduler_step: str = "epoch",
    callbacks: Any = None,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader`` and return a `History`.

    Each batch: ``optimizer.zero_grad()``, ``loss_fn(model(*inputs), target)``,
    ``loss.backward()``, ``optimizer.step()``, in ``model.train()`` mode. The recorded
    training loss of an epoch is the mean over its samples (each batch's loss weighted by its
    size), computed during the epoch while the weights change, as in Keras. After each
    epoch, ``val_loader`` (if given) is evaluated with `evaluate`: under ``tg.no_grad()``
    and in ``model.eval()`` mode. The model is left in the mode it was in before ``fit``.

    ``metrics``: a list of built-in names (``["accuracy"]``) or a dict of name to
    ``fn(output, target) -> float``. ``progress``: one tqdm bar over the epochs, showing the
    latest epoch's losses and metrics, if tqdm is installed; else one printed line per epoch;
    ``False`` prints nothing.

    ``scheduler``: a learning-rate scheduler of ``optimizer`` (``tg.optim.lr_scheduler``),
    stepped once at the end of every epoch (``scheduler_step="epoch"``, the default), after
    validation: ``ReduceLROnPlateau`` with the epoch's validation loss (its training loss
    without ``val_loader``), the others with ``scheduler.step()``. With
    ``scheduler_step="batch"`` it is stepped after every ``optimizer.step()`` instead (for
    ``OneCycleLR``, created with ``epochs`` and ``steps_per_epoch=len(train_loader)``).
    The history then also has ``"lr"``: the lr of the first parameter group at the start of
    each epoch, the one its first batch trained with.

    ``callbacks``: an object or a list of objects called at every training batch, each
    through the methods it has: ``on_backward(loss)`` runs the backward pass in place of
    ``loss.backward()`` (at most one callback may have it; `tg.debug.TrainingRecorder` traces
    it), ``on_step_end(loss)`` runs after ``optimizer.step()`` (`tg.debug.HealthMonitor`
    records its statistics there).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"fit: epochs must be an int >= 1, got {epochs!r}")
    metric_fns = _metric_functions(metrics)
    run_backward, step_ends = _callback_hooks(callbacks)
    plateau = _check_scheduler(scheduler, scheduler_step, optimizer)
    step_per_batch = scheduler is not None and scheduler_step == "batch"
    keys = ["loss", *metric_fns]
    if val_loader is not None:
        keys += ["val_loss", *(f"val_{name}" for name in metric_fns)]
    if scheduler is not None:
        keys.append("lr")
    history = History(keys)
    if early_stopping is not None:
        monitor = early_stopping.monitor
        if monitor == "val_loss" and val_loader is None:
            monitor = "loss"
        if monitor not in keys:
            raise ValueError(f"EarlyStopping monitors {monitor!r}, but fit records only {keys}")
        early_stopping._reset(monitor)
    _check_not_empty(train_loader, "train_loader")
    if val_loader is not None:
        _check_not_empty(val_loader, "val_loader")

    tqdm = _tqdm() if progress else None
    bar = tqdm(total=epochs, desc="fit", unit="epoch") if tqdm is not None else None
    was_training = model.training
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            totals = _Totals(metric_fns)
            lr = float(optimizer.param_groups[0]["lr"]) if scheduler is not None else None
            for batch in train_loader:
                *inputs, target = batch
                optimizer.zero_grad()
                output = model(*inputs)
                loss = loss_fn(output, target)
                _check_loss(loss)
                run_backward(loss)
                optimizer.step()
                for on_step_end in step_ends:
                    on_step_end(loss)
                if step_per_batch:
                    scheduler.step()
                totals.add(loss, output, target)
            results = totals.mean("train_loader")
            if val_loader is not None:
                val = evaluate(model, loss_fn, val_loader, metric_fns)
                results.update({f"val_{k}": v for k, v in val.items()})
            if scheduler is not None:
                results["lr"] = lr
                if plateau:
                    scheduler.step(results["val_loss" if val_loader is not None else "loss"])
                elif not step_per_batch:
                    scheduler.step()
            for key, value in results.items():
                history.history[key].append(value)
            if bar is not None:
                bar.set_postfix({k: f"{v:.4g}" for k, v in results.items()}, refresh=False)
                bar.update()
            elif progress:
                line = " - ".join(f"{k}: {v:.4g}" for k, v in results.items())
                print(f"Epoch {epoch}/{epochs}: {line}", flush=True)
            if early_stopping is not None and early_stopping._update(
                epoch, results[early_stopping.monitored], model
            ):
                break
    finally:
        if bar is not None:
            bar.close()
        model.train(was_training)
    if early_stopping is not None and early_stopping.best_state is not None:
        model.load_state_dict(early_stopping.best_state)
    return history


def evaluate(
    model: Any,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    loader: Iterable,
    metrics: Sequence[str] | Mapping[str, Metric] | None = None,
) -> dict[str, float]:
    """The mean loss (and metrics) of ``model`` over ``loader``, each batch weighted by its
    size, computed under ``tg.no_grad()`` in ``model.eval()`` mode. The model's previous
    mode is restored afterwards. Returns ``{"loss": ..., "accuracy": ...}``."""
    metric_fns = _metric_functions(metrics)
    _check_not_empty(loader, "loader")
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            totals = _Totals(metric_fns)
            for batch in loader:
                *inputs, target = batch
                output = model(*inputs)
                loss = loss_fn(output, target)
                _check_loss(loss)
                totals.add(loss, output, target)
    finally:
        model.train(was_training)
    return totals.mean("loader")


# ---- helpers ---------------------------------------------------------------------------------


class _Totals:
    """Running sums of loss and metrics, weighted by batch size."""

    def __init__(self, metric_fns: dict[str, Metric]) -> None:
        self.metric_fns = metric_fns
        self.sums = dict.fromkeys(["loss", *metric_fns], 0.0)
        self.count = 0

    def add(self, loss: Tensor, output: Tensor, target: Tensor) -> None:
        n = _batch_size(target)
        self.count += n
        self.sums["loss"] += float(loss.item()) * n
        if self.metric_fns:
            with no_grad():
                for name, fn in self.metric_fns.items():
                    self.sums[name] += float(fn(output, target)) * n

    def mean(self, what: str = "loader") -> dict[str, float]:
        if self.count == 0:
            raise ValueError(f"{what} yielded no batches")
        return {k: v / self.count for k, v in self.sums.items()}


def _batch_size(target: Any) -> int:
    shape = np.shape(target.data if isinstance(target, Tensor) else target)
    return shape[0] if shape else 1


def _metric_functions(metrics: Sequence[str] | Mapping[str, Metric] | None) -> dict[str, Metric]:
    if metrics is None:
        return {}
    if isinstance(metrics, Mapping):
        return dict(metrics)
    if isinstance(metrics, str):
        metrics = [metrics]
    result = {}
    for name in metrics:
        if name not in BUILTIN_METRICS:
            raise ValueError(
                f"unknown metric {name!r}: built-in metrics are {list(BUILTIN_METRICS)}; pass a "
                "dict {name: fn(output, target) -> float} for your own"
            )
        result[name] = BUILTIN_METRICS[name]
    return result


def _callback_hooks(callbacks: Any) -> tuple[Callable[[Tensor], Any], list[Callable]]:
    """The backward to run on each batch's loss, and the callbacks' ``on_step_end`` methods."""
    if callbacks is None:
        callbacks = []
    elif not isinstance(callbacks, (list, tuple)):
        callbacks = [callbacks]
    backwards = [cb.on_backward for cb in callbacks if callable(getattr(cb, "on_backward", None))]
    step_ends = [cb.on_step_end for cb in callbacks if callable(getattr(cb, "on_step_end", None))]
    for cb in callbacks:
        if not callable(getattr(cb, "on_backward", None)) and not callable(
            getattr(cb, "on_step_end", None)
        ):
            raise TypeError(
                f"fit: the callback {type(cb).__name__} has neither on_backward(loss) nor "
                "on_step_end(loss)"
            )
    if len(backwards) > 1:
        raise ValueError(
            "fit: more than one callback runs the backward pass (on_backward); give only one "
            "of them (e.g. one TrainingRecorder)"
        )
    if backwards:
        return backwards[0], step_ends
    return (lambda loss: loss.backward()), step_ends


def _check_scheduler(scheduler: Any, scheduler_step: str, optimizer: Any) -> bool:
    """Check fit's scheduler arguments; True for a ReduceLROnPlateau (stepped with a loss)."""
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f'fit: scheduler_step must be "epoch" or "batch", got {scheduler_step!r}')
    if scheduler is None:
        return False
    if not callable(getattr(scheduler, "step", None)):
        raise TypeError(
            f"fit: scheduler must be a learning-rate scheduler (tg.optim.lr_scheduler), got "
            f"{type(scheduler).__name__}"
        )
    if getattr(scheduler, "optimizer", optimizer) is not optimizer:
        raise ValueError(
            "fit: the scheduler adjusts another optimizer than the one fit trains with; create "
            "it with this optimizer"
        )
    plateau = isinstance(scheduler, ReduceLROnPlateau)
    if plateau and scheduler_step == "batch":
        raise ValueError(
            'fit: ReduceLROnPlateau is stepped with an epoch\'s loss; use scheduler_step="epoch"'
        )
    return plateau


def _length(loader: Any) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None


def _check_not_empty(loader: Any, what: str) -> None:
    if _length(loader) == 0:  # an iterable without len() is checked once it has been iterated
        raise ValueError(f"{what} yields no batches (is the dataset smaller than batch_size?)")


def _check_loss(loss: Any) -> None:
    if not isinstance(loss, Tensor):
        raise TypeError(f"loss_fn must return a Tensor, got {type(loss).__name__}")
    if loss.data.size != 1:
        raise ValueError(
            f"loss_fn must return a single-element Tensor, got shape {loss.shape}; reduce it "
            '(reduction="mean" or .mean())'
        )


def _tqdm() -> Any:
    """tqdm's progress bar class, or None when tqdm is not installed."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm
