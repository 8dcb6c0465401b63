"""Discrete-event simulator of one placement on one cluster (docs/design/simulator.md).

Public API:
* :func:`helix.sim.run.simulate` - placement graph + layout + profiles + scheduler + workload -> metrics;
* :func:`helix.sim.run.prepare` - the scheduler's :class:`~helix.scheduling.base.Topology` of a layout;
* :class:`helix.sim.engine.Simulator` - the event loop (:mod:`helix.sim.loop`, compiled by setup.py
  into ``helix.sim._loop_c`` where a C compiler is available: same numbers, faster);
* :func:`helix.sim.pipeline.run_entry` / :mod:`helix.sim.outputs` - a simulation-table entry to result files;
* :mod:`helix.sim.experiments` - the table of configured runs (config ``experiments.*.simulations``);
* :mod:`helix.sim.paper` - where the paper's layouts live in the artifact (``paper-<method>``).

Deviations from the paper's simulator (all documented where they are implemented): no per-event
log (metrics only), same-instant events in a FIFO, layer walks and fixed-bandwidth links computed
without intermediate events (tie order preserved through the heap key), KV overflow checked at the
end of a node's layer walk rather than after every layer.
"""
