"""Which library a lecture script runs on: tinygrad_edu, or PyTorch itself with ``--torch``.

The scripts beside this file are written for PyTorch, as the lectures write them; the only
difference is this choice of imports::

    import tinygrad_edu as torch                 # instead of: import torch
    import tinygrad_edu.nn.functional as F       # instead of: import torch.nn.functional as F
"""

from __future__ import annotations

import importlib
from types import ModuleType


def libraries(use_torch: bool) -> tuple[ModuleType, ModuleType]:
    """``(torch, F)``: PyTorch's modules with ``use_torch``, tinygrad_edu's otherwise."""
    name = "torch" if use_torch else "tinygrad_edu"
    return importlib.import_module(name), importlib.import_module(name + ".nn.functional")


def words() -> list[str]:
    """About 5,500 first names, lower case, from the census lists of the ``names`` package
    (``pip install names``; a demos extra): the data of the makemore lectures."""
    import os

    import names

    folder = os.path.dirname(names.__file__)
    found = set()
    for file in ("dist.female.first", "dist.male.first"):
        with open(os.path.join(folder, file)) as lines:
            found.update(line.split()[0].lower() for line in lines if line.strip())
    return sorted(found)


def dataset(torch, names: list[str], block_size: int, stoi: dict | None = None) -> tuple:
    """makemore's examples: every ``block_size`` characters of context (0 is ``.``, the start
    and end of a name) and the index of the character that follows them. ``stoi`` maps each
    character to its index; by default that of every name the ``names`` package has, so that
    a split of them numbers its characters as the whole list does."""
    if stoi is None:
        stoi = {s: i + 1 for i, s in enumerate(sorted(set("".join(words()))))}
        stoi["."] = 0
    X, Y = [], []
    for w in names:
        context = [0] * block_size
        for ch in w + ".":
            X.append(context)
            Y.append(stoi[ch])
            context = context[1:] + [stoi[ch]]
    return torch.tensor(X), torch.tensor(Y)
