"""Tools to watch and debug backpropagation.

* `trace_backward` runs a backward pass and records every step of the chain rule: the
  operation, its inputs, the gradient arriving from above and the gradients it sends on. It
  prints as a table and draws the graph once per step.
* `gradcheck_graph` checks every operation of a graph against finite differences of its own
  forward and names the first one whose backward is wrong, with its module and (inside
  `record_origins`) the line of your code that created it.
* `detect_anomaly` raises `AnomalyError` at the first NaN or infinity in forward or backward,
  naming the operation and the line that created it.
* ``trace.to_html(path)`` writes a page that steps through the forward and backward pass of a
  trace in the browser; `TrainingRecorder` does it over several optimisation steps.
* `HealthMonitor` watches a model train: activation, gradient and update statistics per
  layer and per step, Karpathy's four diagnostic plots, and warnings naming the layer.

Each tool watches the engine through ``autograd.set_observer`` only while it runs; outside
them the engine does no extra work.
"""

from ._core import Origin, Summary, record_origins
from .anomaly import AnomalyError, detect_anomaly
from .health import HealthMonitor, HealthWarning, LayerStats, ParamStats
from .opcheck import GraphCheck, OpResult, gradcheck_graph
from .trace import ForwardStep, Trace, TracedInput, TraceStep, TrainingRecorder, trace_backward

__all__ = [
    "AnomalyError",
    "ForwardStep",
    "GraphCheck",
    "HealthMonitor",
    "HealthWarning",
    "LayerStats",
    "OpResult",
    "Origin",
    "ParamStats",
    "Summary",
    "Trace",
    "TraceStep",
    "TracedInput",
    "TrainingRecorder",
    "detect_anomaly",
    "gradcheck_graph",
    "record_origins",
    "trace_backward",
]
