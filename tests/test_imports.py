"""Every module of the package imports cleanly whichever is imported first (the import graph
itself is checked in test_engine_core.py)."""

import subprocess
import sys

import pytest

IMPORT_FIRST = """
import importlib, importlib.util, sys, types
spec = importlib.util.find_spec("tinygrad_edu")
package = types.ModuleType("tinygrad_edu")  # an empty package: its __init__ order cannot help
package.__path__ = spec.submodule_search_locations
sys.modules["tinygrad_edu"] = package
module = importlib.import_module("tinygrad_edu." + sys.argv[1])
print(module.__name__)
"""

MODULES = [
    "grad_mode", "autograd", "ops", "tensor", "dtypes", "creation", "functions", "gradcheck",
    "walk", "graph", "nn", "optim", "optim.lr_scheduler", "data", "utils.data", "train",
    "serialization", "interop", "cuda", "debug",
]


@pytest.mark.parametrize("name", MODULES)
def test_module_imports_first(name):
    result = subprocess.run([sys.executable, "-c", IMPORT_FIRST, name], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"tinygrad_edu.{name}"


def test_package_exposes_the_api_modules():
    import tinygrad_edu as tg

    assert tg.nn.Linear and tg.optim.Adam and tg.data.DataLoader and tg.train.fit
    assert tg.save and tg.load and tg.draw_graph and tg.gradcheck
