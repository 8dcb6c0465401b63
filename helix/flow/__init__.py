"""The flow graph of a placement on a cluster and its exact max-flow
(docs/design/placement.md sections 2 and 5).

The max-flow value is Helix's objective: tokens/s the layout can push from the coordinator through
all layers and back. The planner evaluates it thousands of times per second and the simulator's
scheduler turns its per-arc flows into IWRR weights, so the solver here is a small, allocation-light
Dinic on plain Python lists rather than a general graph library.
"""

from helix.flow.graph import FlowGraph, build_flow_graph, capacities_for, layout_max_flow
from helix.flow.maxflow import FlowResult, max_flow

__all__ = ["FlowGraph", "FlowResult", "build_flow_graph", "capacities_for", "layout_max_flow", "max_flow"]
