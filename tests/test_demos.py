"""Each demo runs as a new user would run it, and its results hold."""

import importlib.util
from pathlib import Path

import numpy as np

DEMOS = Path(__file__).resolve().parent.parent / "demos"


def load_demo(name: str):
    spec = importlib.util.spec_from_file_location(name, DEMOS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_perceptron_reproduces_the_article_output(capsys):
    perceptron = load_demo("perceptron")
    output = perceptron.main(["--quick"])
    np.testing.assert_array_equal(np.round(output, 8), perceptron.ARTICLE_OUTPUT)
    assert "matches the article's printed output to 8 decimals: True" in capsys.readouterr().out
