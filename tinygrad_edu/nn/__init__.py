"""tg.nn: building networks from layers, as in PyTorch's ``torch.nn``.

    from tinygrad_edu import nn
    import tinygrad_edu.nn.functional as F

    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 1))
    loss = F.mse_loss(model(x), y)

``modules.py`` holds `Module` and `Parameter` (how a network finds its weights) and the
containers; ``layers.py`` the layers; ``functional.py`` the activations and losses as
functions; ``init.py`` the weight initialisations.
"""

from . import functional, init
from .layers import (
    ELU,
    MLP,
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    MSELoss,
    NLLLoss,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .modules import IncompatibleKeys, Module, ModuleList, Parameter, Sequential

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Dropout",
    "ELU",
    "Flatten",
    "Identity",
    "IncompatibleKeys",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MLP",
    "MSELoss",
    "Module",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "functional",
    "init",
]
