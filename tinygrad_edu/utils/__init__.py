"""``tg.utils``: where PyTorch's code finds ``torch.utils.data``."""

from . import data

__all__ = ["data"]
