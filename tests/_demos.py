"""What the demos' tests share: loading a demo script as a module."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

DEMOS = Path(__file__).resolve().parent.parent / "demos"


def load_demo(name: str) -> ModuleType:
    """demos/<name>.py, run afresh as the module ``name``. It is registered in
    ``sys.modules`` (a demo's dataclasses look their module up there), and demos/ is put on
    ``sys.path``, from where a demo imports its shared helpers (demos/_common.py,
    demos/lectures/_pick.py) as a script run from demos/ does."""
    if str(DEMOS) not in sys.path:
        sys.path.insert(0, str(DEMOS))
    spec = importlib.util.spec_from_file_location(name, DEMOS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
