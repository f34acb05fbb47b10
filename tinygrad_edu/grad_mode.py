"""Grad mode: whether operations are recorded into the graph. Read this file first.

Every operation asks ``is_grad_enabled()`` before it records a node of the graph. The mode is
per thread (two threads do not switch each other's), nestable, and put back when a block
exits, also through an exception::

    with tg.no_grad():        # evaluation, or updating weights by hand
        y = model(x)          # y.requires_grad is False: no graph, no saved inputs

    @tg.no_grad()             # the same for a whole function (or generator)
    def evaluate(model, x): ...

``ContextDecorator`` is the one helper behind every "context manager that is also a
decorator" of the library (grad mode here, the debugging tools in ``debug/``).
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Generator
from typing import Any


class _GradState(threading.local):
    """The switch, one per thread; every new thread starts with grad enabled."""

    enabled = True


state = _GradState()


def is_grad_enabled() -> bool:
    """Whether operations are currently recorded for backward."""
    return state.enabled


class ContextDecorator:
    """A context manager that is also a decorator.

    A subclass says what entering does (``_enter``, returning what ``_exit`` needs to undo it)
    and what leaving does (``_exit``). Each ``with`` block, and each call of a decorated
    function, enters afresh, so nested and recursive uses and threads stay independent. A
    decorated generator function runs each of its steps inside the context, as PyTorch does,
    and never the code of whoever consumes it.
    """

    def _enter(self) -> Any:
        raise NotImplementedError

    def _exit(self, token: Any) -> None:
        raise NotImplementedError

    def __enter__(self) -> None:
        self.__dict__.setdefault("_tokens", []).append(self._enter())

    def __exit__(self, *exc: object) -> None:
        self._exit(self._tokens.pop())

    def __call__(self, func: Callable) -> Callable:
        if not callable(func):
            raise TypeError(f"{type(self).__name__}() used as a decorator needs a function")
        if inspect.isgeneratorfunction(func):
            return self._wrap_generator(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = self._enter()
            try:
                return func(*args, **kwargs)
            finally:
                self._exit(token)

        return wrapper

    def _wrap_generator(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Generator:
            generator = self._step(func, *args, **kwargs)  # creating it runs none of its code
            resume, value = generator.send, None
            while True:
                try:
                    item = self._step(resume, value)
                except StopIteration as stop:
                    return stop.value
                try:
                    resume, value = generator.send, (yield item)
                except GeneratorExit:
                    self._step(generator.close)
                    raise
                except BaseException as error:  # thrown into us: pass it on, inside the context
                    resume, value = generator.throw, error

        return wrapper

    def _step(self, function: Callable, *args: Any, **kwargs: Any) -> Any:
        token = self._enter()
        try:
            return function(*args, **kwargs)
        finally:
            self._exit(token)


class _GradMode(ContextDecorator):
    """Sets grad mode to ``self.mode`` on entering, puts back the previous mode on leaving."""

    mode = True

    def _enter(self) -> bool:
        previous = state.enabled
        state.enabled = self.mode
        return previous

    def _exit(self, previous: bool) -> None:
        state.enabled = previous


class no_grad(_GradMode):
    """Context manager and decorator: operations inside record no graph and keep no reference
    to their inputs. Use it for evaluation and for updating parameters by hand.

    >>> with tg.no_grad():
    ...     y = model(x)          # y.requires_grad is False
    """

    mode = False


class enable_grad(_GradMode):
    """Context manager and decorator: record operations again inside a ``no_grad`` block."""

    mode = True


class inference_mode(_GradMode):
    """PyTorch's ``torch.inference_mode(mode=True)``: here the same as ``no_grad`` (with
    ``mode=False`` it changes nothing)."""

    def __init__(self, mode: bool = True) -> None:
        self._turn_off = bool(mode)

    def _enter(self) -> bool:
        previous = state.enabled
        if self._turn_off:
            state.enabled = False
        return previous


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(False)`` acts as ``no_grad()``, ``set_grad_enabled(True)`` as
    ``enable_grad()``. As in PyTorch, calling it also switches the mode at once, for the rest
    of the thread (or, used with ``with``, until the block ends)."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._before_call: bool | None = state.enabled
        state.enabled = self.mode

    def __enter__(self) -> None:
        if self._before_call is None:  # a later ``with`` of the same object
            super().__enter__()
            return
        # ``with set_grad_enabled(m):`` the call already switched; leaving restores the mode
        # from before the call.
        self.__dict__.setdefault("_tokens", []).append(self._before_call)
        self._before_call = None
        state.enabled = self.mode

    def __call__(self, func: Callable) -> Callable:
        # As a decorator the mode applies only inside ``func``: undo the switch of the call.
        if self._before_call is not None:
            state.enabled = self._before_call
            self._before_call = None
        return super().__call__(func)
