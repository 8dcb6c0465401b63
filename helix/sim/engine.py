"""The discrete-event core: requests travel routes of machines that batch one layer at a time.

Rules and constants are docs/design/simulator.md s4 (event model), kept operation for operation because the
reference is deterministic and we aim at its exact numbers:

* events are ordered by time, then creation (s4.2). The heap holds ``(time, k1, k2, seq, kind, a,
  b)``: ``k1``/``k2`` are the creation times of the paper's event chain that the engine collapses
  (see :meth:`Simulator.run`), ``seq`` grows in creation order. Online arrivals are injected
  lazily, just before the first event at or after their time, as the paper's driver does with
  ``run(until=next arrival)``;
* a node runs one layer per batch, walking its layers round-robin (s4.4); the batch takes the
  profiled per-layer prompt + decode time (decode doubled for a single token), plus a CPU-buffer
  copy cost at the first held layer for every token received since the previous such batch;
* a link carries one request per transmission; bandwidth is reserved on the sender NIC, the link
  and the receiver NIC for ``bytes / bw`` and the payload lands ``latency`` later (s4.6);
* KV slots (token x layer) are taken as layers run and freed when the query's last decode is
  gathered; an overflow is an error, as in the paper (s4.5).

The loop itself is :func:`helix.sim.loop.run_loop` (plain Python, the reference), or its compiled
copy ``helix.sim._loop_c`` when ``setup.py`` built one from the same source (same steps, same
numbers; :func:`default_core`). Unlike the paper's simulator, nothing is logged per event: the run
keeps only what the metrics need (finish time and latency per iteration, per-query summaries,
congestion accumulators), which is what keeps a 70B single24 run within seconds and well under
1 GB (s10).
"""

from __future__ import annotations

import gc
import heapq
from array import array
from dataclasses import dataclass

from helix.compiled import choose, current_copy, source_hash
from helix.errors import HelixInputError, HelixRunError
from helix.scheduling.base import SINK_ID, SOURCE_ID, Scheduler, Topology
from helix.sim import loop as py_loop
from helix.sim.loop import Query, Req  # noqa: F401 - the objects the loop moves, part of this API

CPU_BUFFER_COST = 1 / 4e9 + 1 / 5e9  # s per activation byte: GPU->CPU copy + CPU->GPU copy


def core_source_hash() -> str | None:
    """sha256 of the loop's source and its Cython declarations (what a compiled copy is built from)."""
    return source_hash(py_loop, ("loop.py", "loop.pxd"))


def compiled_core():
    """The compiled copy of :mod:`helix.sim.loop` if one was built from this very source, else None."""
    return current_copy("helix.sim._loop_c", core_source_hash())


def default_core():
    """The loop a Simulator runs: ``HELIX_SIM_CORE`` = ``auto`` (default: the compiled copy when it
    is current, else the Python one), ``python`` or ``compiled`` (an error if there is none)."""
    return choose("HELIX_SIM_CORE", "simulation", py_loop, compiled_core, "helix.sim._loop_c")


class SimulationError(HelixRunError):
    """The simulated system broke a hard limit while running (a KV-cache overflow): the run's
    settings (rate, concurrency, KV capacities) do not fit the placement. Not bad input (the files
    were valid), but reported the same way: one line, non-zero exit."""

    def __init__(self, message: str):
        super().__init__("simulation", message)


@dataclass
class NodeExec:
    """Per-node execution parameters (from the GPU profile and engine limits, s2.4-2.5)."""

    prompt_time: object  # callable tokens -> s, one layer
    decode_time: object
    max_prompts: int  # R
    max_prompt_tokens: int  # R * 2048
    max_decodes: int  # Dm(k) (K-layer entry under the force flag)
    max_context: int  # 1000 * Dm


@dataclass
class RunResult:
    prompt: array  # interleaved (finish, latency)
    decode: array
    queries: list
    t0: float
    end_time: float
    events: int
    rejected: int = 0


class Simulator:
    """One simulation of one placement under one scheduler and workload."""

    def __init__(
        self,
        topo: Topology,
        execs: dict[int, NodeExec],
        scheduler: Scheduler,
        t0: float,
        window: tuple[float, float],
        progress: bool = False,
        core=None,
    ):
        self.core = core or default_core()  # helix.sim.loop or its compiled copy (same steps, same numbers)
        self.topo = topo
        self.sched = scheduler
        self.t0 = t0
        self.window = window
        self.progress = progress
        self.now = t0
        n = max([SINK_ID, *topo.nodes]) + 1
        self._execs = execs
        nodes = topo.nodes
        self.start = [0] * n
        self.k = [0] * n
        self.queues: list = [None] * n
        for u, nd in nodes.items():
            self.start[u] = nd.start
            self.k[u] = nd.end - nd.start
            self.queues[u] = [[] for _ in range(nd.end - nd.start)]
        self.cur = [0] * n
        self.busy = [False] * n
        self.batch: list = [None] * n
        self.cpu_buf = [0] * n
        self.kv_used = [0] * n
        self.kv_cap = [0] * n
        self.kv_peak = [0] * n
        for u, nd in nodes.items():
            self.kv_cap[u] = nd.kv_capacity
        self.outbound = [dict() for _ in range(n)]
        self.nic_out_free_ = [0.0] * n
        self.nic_in_free_ = [0.0] * n
        for u in [SOURCE_ID, SINK_ID, *nodes]:
            if u != SINK_ID:
                self.nic_out_free_[u] = topo.nic_out(u)
            if u != SOURCE_ID:
                self.nic_in_free_[u] = topo.nic_in(u)
        links = topo.links
        self.l_src = [l.src for l in links]
        self.l_dst = [l.dst for l in links]
        self.l_lat = [l.latency for l in links]
        self.l_bpt = [topo.bytes_per_token(l) for l in links]
        self.sending = [0] * len(links)
        self.link_free = [l.bandwidth for l in links]
        self.sink_list: list = []
        self.heap: list = []
        self.seq = 0
        self.prompt_rec = array("d")
        self.decode_rec = array("d")
        self.queries: list[Query] = []
        self.events = 0
        self.rejected = 0
        # congestion accumulators: per node busy time, prompt stays; per link busy time and waits
        self.node_busy = [0.0] * n
        self.node_stay = [0.0] * n
        self.node_stay_n = [0] * n
        self.link_busy = [0.0] * len(links)
        self.link_wait = [0.0] * len(links)
        self.link_sends = [0] * len(links)
        self.feeder = None
        self.sampler = None

    # ---- NetState protocol (what schedulers may read) ---------------------------------------
    def link_sending(self, j: int) -> bool:
        return self.sending[j] > 0

    def link_free_bw(self, j: int) -> float:
        return self.link_free[j]

    def nic_out_free(self, uid: int) -> float:
        return self.nic_out_free_[uid]

    def nic_in_free(self, uid: int) -> float:
        return self.nic_in_free_[uid]

    def first_queue_len(self, uid: int) -> int:
        return len(self.queues[uid][0])

    # ---- workload --------------------------------------------------------------------------------
    def push(self, t: float, kind: int, a=None, b=None) -> None:
        """Schedule an event created now (before :meth:`run`: the offline initial queries)."""
        self.seq += 1
        heapq.heappush(self.heap, (t, self.now, self.now, self.seq, kind, a, b))

    def new_query(self, t: float, inp: int, out: int) -> Req:
        return self.core.new_query(self.queries, t, inp, out)

    # ---- the loop --------------------------------------------------------------------------------
    def run(self, until: float | None = None, arrivals: list | None = None) -> RunResult:
        """Process events (before ``until`` if given); ``arrivals`` = [(time, input, output)] online.

        The event chain of docs/design/simulator.md s4.2, with shortcuts that change no number:

        * events created for the current instant go to a FIFO (``nowq``), not the heap: they run
          after every heap event of the same instant (created earlier) and in creation order, which
          is the heap's own order. StartExecution on a node whose batch ends later, and
          StartTransmission on a sender with nothing waiting while nothing else is pending now, are
          not created at all (no-ops);
        * a node walks its layers back to back (``fuse``): one StartExecution / FinishExecution pair
          per walk, unless requests can enter it mid-range (Petals' partial arcs);
        * links with a fixed bandwidth (helix, and any scheduler on a chain) are FIFO servers: a
          transmission's start and end are known when it is queued, so only its landing is an
          event, keyed ``(land, end of send, start, seq)`` as the chain StartTransmission ->
          FinishSending -> FinishTransmission would order it;
        * a landing on a compute node is *parked* on that node instead of being an event when nothing
          can read the node's queues before its next StartExecution: on fixed-bandwidth links
          always (the earliest landing on an idle node is an event, WAKE, that also merges the
          landings of its instant), on hop-by-hop links when it lands during the node's batch
          (not at all for schedulers that read queue lengths). Parked landings are merged in key
          order when the node's batch ends (those keyed before its FinishExecution, then the rest
          of that instant) or when a later landing on the node is processed.

        Heap entries are ``(time, k1, k2, seq, kind, a, b)``: ``k1``/``k2`` the creation times of
        the collapsed chain (``now`` for a plain event), ``seq`` the creation counter, and the
        payload NEW_REQ (request), FINISH_SEND (request, (link, bandwidth)), FINISH_TX (request,
        link: a landing at the sink, or a hop-by-hop landing not parked), FINISH_EXEC (node,
        KV slots its walk took) or WAKE (request, node). ``nowq`` entries are ``(kind, a, b)``:
        START_EXEC (node), START_TX (node), GATHER, NEW_REQ (the next decode iteration).
        """
        topo = self.topo
        n_ids = len(self.start)
        fuse = [True] * n_ids
        for l in topo.links:
            if (
                l.dst in topo.nodes
                and l.src != SOURCE_ID
                and topo.nodes[l.src].end != topo.nodes[l.dst].start
            ):
                fuse[l.dst] = False
        # planned routes with fixed per-link bandwidth (helix, chains): per-link FIFO servers
        fixed_bw = getattr(self.sched, "bandwidth", None) if self.sched.plans_routes else None
        if fixed_bw is not None:
            fixed_bw = list(fixed_bw)
        act_cost = topo.activation_size * CPU_BUFFER_COST
        # no reference cycles are made per event: the cyclic collector would only rescan the live
        # queries and requests (about 7 % of the loop's time) and free nothing
        gc_on = gc.isenabled()
        gc.disable()
        try:
            t = self.core.run_loop(self, until, list(arrivals or ()), fuse, fixed_bw, act_cost)
        finally:
            if gc_on:
                gc.enable()
        self.now = t if until is None else until
        return RunResult(
            prompt=self.prompt_rec,
            decode=self.decode_rec,
            queries=self.queries,
            t0=self.t0,
            end_time=self.now,
            events=self.events,
            rejected=self.rejected,
        )


def check_capacity(topo: Topology, min_tokens: int, source: str) -> None:
    """Every node must hold at least one (smallest) request on all its layers."""
    for u, nd in topo.nodes.items():
        need = min_tokens * (nd.end - nd.start)
        if nd.kv_capacity < need:
            raise HelixInputError(
                source,
                f"{nd.name}.kv_cache_capacity",
                f"too small for one request of {min_tokens} tokens "
                f"on {nd.end - nd.start} layers (needs {need})",
                nd.kv_capacity,
            )
