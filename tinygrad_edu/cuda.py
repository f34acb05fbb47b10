"""``tg.cuda``: there is no GPU here. PyTorch code that asks (``'cuda' if
tg.cuda.is_available() else 'cpu'``) picks the CPU, and seeding the GPU does nothing, as
PyTorch's does on a machine without one."""

from __future__ import annotations


def is_available() -> bool:
    """False: tinygrad_edu computes with NumPy, on the CPU."""
    return False


def device_count() -> int:
    """0 GPUs."""
    return 0


def is_bf16_supported() -> bool:
    """False (no GPU, and no bfloat16 in NumPy)."""
    return False


def manual_seed(seed: int) -> None:
    """Nothing to seed without a GPU (PyTorch ignores it too); seed with ``tg.manual_seed``."""


def manual_seed_all(seed: int) -> None:
    """Nothing to seed without a GPU (PyTorch ignores it too); seed with ``tg.manual_seed``."""
