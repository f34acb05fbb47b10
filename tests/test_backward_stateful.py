"""backward / retain_graph / zero_grad in any order, against a simple model of PyTorch's rules:
leaves accumulate, a graph backpropagated without retain_graph is freed, and a second backward
through it raises without touching .grad."""

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import tinygrad_edu as tg
from tinygrad_edu import Tensor


class BackwardRules(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.w = Tensor([1.0, -2.0, 0.5], requires_grad=True)
        self.expected = None  # the model of w.grad
        self.graphs = []  # [output, d output / d w, freed?]

    @rule(scale=st.sampled_from([1.0, -0.5, 3.0]), square=st.booleans())
    def build(self, scale, square):
        if square:
            out = (self.w * self.w * scale).sum()
            slope = 2 * scale * self.w.data
        else:
            out = (self.w.tanh() * scale).sum()
            slope = scale * (1 - np.tanh(self.w.data) ** 2)
        self.graphs.append([out, slope, False])

    @precondition(lambda self: self.graphs)
    @rule(pick=st.integers(0, 100), retain=st.booleans())
    def backward(self, pick, retain):
        graph = self.graphs[pick % len(self.graphs)]
        out, slope, freed = graph
        if freed:
            with pytest.raises(RuntimeError, match="retain_graph"):
                out.backward()
            return
        out.backward(retain_graph=retain)
        self.expected = slope if self.expected is None else self.expected + slope
        graph[2] = not retain

    @rule()
    def zero_grad(self):
        self.w.grad = None
        self.expected = None

    @rule()
    def update_under_no_grad(self):
        if self.w.grad is None:
            return
        with tg.no_grad():
            self.w -= 0.01 * self.w.grad
        # graphs built before the update saw the old values: drop them, as a training loop does
        self.graphs.clear()

    @invariant()
    def grad_matches_the_model(self):
        if self.expected is None:
            assert self.w.grad is None
        else:
            np.testing.assert_allclose(self.w.grad.data, self.expected, rtol=1e-12)
        assert tg.is_grad_enabled()


BackwardRules.TestCase.settings = settings(
    max_examples=30, stateful_step_count=20, deadline=None, derandomize=True, database=None
)
test_backward_rules = BackwardRules.TestCase
