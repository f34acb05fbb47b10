"""What the demos share: their command line, and writing pictures and graph drawings.

Every demo is a script with ``main(argv)`` that returns its results (so the tests can check
them), ``--quick`` for a short run and ``--out DIR`` for the folder its pictures go to.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

import matplotlib

# Agg draws into files without a window, so the demos also run on machines without a display.
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from tinygrad_edu.graph import GraphvizNotFoundError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"


def parser(doc: str, default_out: Path) -> argparse.ArgumentParser:
    """The demos' common command line: --quick and --out DIR."""
    p = argparse.ArgumentParser(
        description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="a short run (used by the tests)")
    p.add_argument(
        "--out",
        type=Path,
        default=default_out,
        help=f"folder for the pictures (default {default_out})",
    )
    return p


def one_blas_thread() -> contextlib.AbstractContextManager:
    """Run matrix products on one thread inside the ``with`` block.

    The networks of the demos are narrow (64 columns). A BLAS library that splits each of
    their products over several threads spends more time coordinating the threads than
    multiplying, and far more when the cores are busy with something else: one thread was up
    to ten times faster here. (``threadpoolctl`` comes with scikit-learn.)
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # without it, NumPy's default threading: slower, same results
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Write a matplotlib figure to ``path`` (PNG) and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    print("wrote", path)
    return path


def save_diagram(diagram, stem: Path, formats: tuple[str, ...] = ("svg", "png")) -> list[Path]:
    """Render a ``tg.draw_graph`` diagram to ``stem.svg`` and ``stem.png``. Rendering needs
    Graphviz's ``dot`` program; without it the demo still finishes: it writes the diagram's
    DOT source (``stem.gv``, renderable later) and says how to install Graphviz."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        try:
            path.write_bytes(diagram.pipe(format=fmt))
        except GraphvizNotFoundError as missing:
            source = stem.with_suffix(".gv")
            source.write_text(diagram.source)
            print(f"wrote {source} (the diagram's DOT source; it was not rendered)\n{missing}")
            return written + [source]
        print("wrote", path)
        written.append(path)
    return written
