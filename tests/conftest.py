"""Shared fixtures of the test suite."""

import pytest

import tinygrad_edu as tg


@pytest.fixture
def grad_mode_restored():
    """Fail a test that leaves grad mode switched off (and switch it back on for the next)."""
    assert tg.is_grad_enabled(), "grad mode was already off when the test started"
    yield
    enabled = tg.is_grad_enabled()
    tg.set_grad_enabled(True)
    assert enabled, "the test left grad mode switched off"
