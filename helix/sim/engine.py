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

Unlike the paper's simulator, nothing is logged per event: the run keeps only what the metrics
need (finish time and latency per iteration, per-query summaries, congestion accumulators), which
is what keeps a 70B single24 run within seconds and well under 1 GB (s10).
"""

from __future__ import annotations

import heapq
import sys
from operator import attrgetter
from collections import deque
from array import array
from dataclasses import dataclass

from helix.errors import HelixInputError, HelixRunError
from helix.scheduling.base import SINK_ID, SOURCE_ID, Scheduler, Topology

# event kinds (WAKE: a landing on a node that was idle, see Simulator.run)
NEW_REQ, START_TX, FINISH_SEND, FINISH_TX, GATHER, START_EXEC, FINISH_EXEC, WAKE = range(8)
CPU_BUFFER_COST = 1 / 4e9 + 1 / 5e9  # s per activation byte: GPU->CPU copy + CPU->GPU copy


class SimulationError(HelixRunError):
    """The simulated system broke a hard limit while running (a KV-cache overflow): the run's
    settings (rate, concurrency, KV capacities) do not fit the placement. Not bad input (the files
    were valid), but reported the same way: one line, non-zero exit."""

    def __init__(self, message: str):
        super().__init__("simulation", message)


class Query:
    """A user request: one prompt iteration, then ``output`` decode iterations on the same route."""

    __slots__ = ("qid", "input", "output", "arrival", "route", "done", "kv_expect", "prompt_lat", "prompt_fin", "dec_sum", "dec_max", "finish", "rejected")

    def __init__(self, qid: int, inp: int, out: int, arrival: float):
        self.qid = qid
        self.input = inp
        self.output = out
        self.arrival = arrival
        self.route: list = []
        self.done = 0  # decodes gathered
        self.kv_expect = None
        self.prompt_lat = float("nan")
        self.prompt_fin = float("nan")
        self.dec_sum = 0.0
        self.dec_max = 0.0
        self.finish = float("nan")
        self.rejected = False


class Req:
    """One iteration (the paper's "request"): the prompt or one decode token of a query."""

    __slots__ = ("query", "prompt", "ntok", "ctx", "created", "hop", "route", "sent_at", "arrived_at", "ready_at", "stays", "oseq")

    def __init__(self, query: Query, prompt: bool, ntok: int, ctx: int, created: float):
        self.query = query
        self.prompt = prompt
        self.ntok = ntok  # tokens carried and computed: input (prompt) or 1 (decode)
        self.ctx = ctx  # context tokens already in the KV cache (decode: prev_tokens)
        self.created = created
        self.hop = 0  # index of the next route stage
        self.route = query.route  # the query's route (set again once the scheduler planned it)
        self.sent_at = 0.0  # start of its latest transmission (swarm's hop time runs from here)
        self.arrived_at = 0.0
        self.ready_at = 0.0
        self.stays = None
        self.oseq = -1  # swarm: hop at which the current sender queued it


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

    def __init__(self, topo: Topology, execs: dict[int, NodeExec], scheduler: Scheduler, t0: float, window: tuple[float, float], progress: bool = False):
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
        q = Query(len(self.queries), inp, out, t)
        self.queries.append(q)
        return Req(q, True, inp, 0, t)

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
        # -- phase 1: state as locals (the loop runs millions of times; attribute loads cost) ------
        heap = self.heap
        pop = heapq.heappop
        push = heapq.heappush
        nowq = deque()
        qpop = nowq.popleft
        qpush = nowq.append
        sched = self.sched
        topo = self.topo
        n_ids = len(self.start)
        queues, cur, busy, batches, cpu_buf = self.queues, self.cur, self.busy, self.batch, self.cpu_buf
        kvu, kvc, kv_peak = self.kv_used, self.kv_cap, self.kv_peak
        start, kk, outbound = self.start, self.k, self.outbound
        busy_until = [0.0] * n_ids
        parked = [[] for _ in range(n_ids)]  # per node: (land, k1, k2, seq, request), unsorted
        wake_at = [float("inf")] * n_ids  # per node: time of a pending WAKE (inf: none)
        park = not getattr(sched, "reads_queues", False)  # shortest-queue reads queue lengths
        fuse = [True] * n_ids
        for l in topo.links:
            if l.dst in topo.nodes and l.src != SOURCE_ID and topo.nodes[l.src].end != topo.nodes[l.dst].start:
                fuse[l.dst] = False
        l_src, l_dst, l_lat, l_bpt = self.l_src, self.l_dst, self.l_lat, self.l_bpt
        sending, link_free, nic_out, nic_in = self.sending, self.link_free, self.nic_out_free_, self.nic_in_free_
        sink_list = self.sink_list
        prompt_rec, decode_rec = self.prompt_rec, self.decode_rec
        node_busy, node_stay, node_stay_n = self.node_busy, self.node_stay, self.node_stay_n
        link_busy, link_wait, link_sends = self.link_busy, self.link_wait, self.link_sends
        ex_list = list(map(self._execs.get, range(n_ids)))
        act_cost = topo.activation_size * CPU_BUFFER_COST
        w0, w1 = self.window
        feeder = self.feeder
        feed_on_prompt = feeder is not None and feeder.on_prompt
        launch_end = feeder.end_time if feeder is not None else 0.0
        sampler = self.sampler
        pick = sched.pick_transmissions
        on_new = sched.on_new_request
        # planned routes with fixed per-link bandwidth (helix, chains): per-link FIFO servers
        fixed_bw = getattr(sched, "bandwidth", None) if sched.plans_routes else None
        planned = fixed_bw is not None
        park = park or planned
        link_free_at = [0.0] * len(topo.links)
        # sending time of one token per link, computed as the paper does: (bytes / bw + lat) - lat
        d1 = [0.0] * len(topo.links)
        for j in range(len(d1) if planned else 0):
            if fixed_bw[j] > 0:
                d1[j] = (l_bpt[j] / fixed_bw[j] + l_lat[j]) - l_lat[j]
        get_prompt = attrgetter("prompt")
        get_ctx = attrgetter("ctx")
        ptcache = [dict() for _ in range(n_ids)]
        dtcache = [dict() for _ in range(n_ids)]
        arrivals = arrivals or []
        ai = 0
        n_arr = len(arrivals)
        inf = float("inf")
        next_arr = arrivals[0][0] if n_arr else inf
        stop = inf if until is None else until
        events = self.events
        seq = self.seq
        progress = self.progress
        next_progress = 1 << 20
        t = self.now

        # -- phase 2: helpers for the less frequent steps ---------------------------------------
        # (helpers take run()'s state as default arguments: locals there, and no closure cells here)
        def send_planned(r, j: int, t: float, seq: int, fixed_bw=fixed_bw, l_lat=l_lat, l_bpt=l_bpt, l_src=l_src, l_dst=l_dst, link_free_at=link_free_at,
                         link_busy=link_busy, link_wait=link_wait, link_sends=link_sends, parked=parked, wake_at=wake_at, busy=busy, heap=heap, push=push, w0=w0, w1=w1) -> None:
            """Queue ``r`` on fixed-bandwidth link ``j`` at ``t``: it starts when the link's previous
            send ends; its landing is parked on the receiver (or an event at the sink)."""
            bw = fixed_bw[j]
            lat = l_lat[j]
            st = link_free_at[j]
            if st < t:
                st = t
            if r.prompt and r.hop:
                if r.stays is None:
                    r.stays = []
                r.stays.append((l_src[j], st - r.arrived_at))
            dur = l_bpt[j] * r.ntok / bw + lat
            fs = st + (dur - lat)
            link_free_at[j] = fs
            if w0 <= st <= w1:
                link_busy[j] += dur - lat
                link_wait[j] += st - t
                link_sends[j] += 1
            land = fs + lat
            dst = l_dst[j]
            if dst == SINK_ID:
                push(heap, (land, fs, st, seq, FINISH_TX, r, j))
                return
            if land < wake_at[dst] and not busy[dst]:
                wake_at[dst] = land
                push(heap, (land, fs, st, seq, WAKE, r, dst))
            else:
                parked[dst].append((land, fs, st, seq, r))

        def unpark(u: int, key: tuple, parked=parked, queues=queues, start=start, cpu_buf=cpu_buf, fuse=fuse) -> None:
            """Put the landings parked on ``u`` that are keyed before ``key`` into its queues."""
            p = parked[u]
            if len(p) > 1:
                p.sort()
            qs = queues[u]
            ntok = 0
            if p[-1][0] < key[0] and fuse[u]:
                # the common case at a batch's end: all of them, all into the first layer's queue
                q0 = qs[0]
                for land, _, _, _, r in p:
                    q0.append(r)
                    r.hop += 1
                    ntok += r.ntok
                    r.arrived_at = land
                cpu_buf[u] += ntok
                p.clear()
                return
            s0 = start[u]
            land_max = key[0]
            i = 0
            for item in p:
                land = item[0]
                if land >= land_max and (land > land_max or item[:4] >= key):
                    break
                r = item[4]
                qs[r.route[r.hop][2] - s0].append(r)
                r.hop += 1
                ntok += r.ntok
                r.arrived_at = land
                i += 1
            cpu_buf[u] += ntok
            if i:
                del p[:i]

        def wake_if_idle(u: int, parked=parked, wake_at=wake_at, heap=heap, push=push) -> None:
            """``u`` stays idle: the earliest landing parked on it becomes a WAKE event."""
            p = parked[u]
            if p:
                first = min(p)
                if first[0] < wake_at[u]:
                    p.remove(first)
                    wake_at[u] = first[0]
                    push(heap, (first[0], first[1], first[2], first[3], WAKE, first[4], u))

        def advance(u: int, kk=kk, queues=queues, cur=cur) -> None:
            """Move the layer pointer cyclically to the next layer with a non-empty queue."""
            k = kk[u]
            qs = queues[u]
            c = cur[u]
            for i in range(1, k + 1):
                c2 = (c + i) % k
                if qs[c2]:
                    cur[u] = c2
                    return

        def launched(t: float, sampler=sampler, new_query=self.new_query) -> Req:
            """Offline closed loop: the next query, arriving ``t``."""
            inp, out = sampler.sample()
            return new_query(t, inp, out)

        # -- phase 3: the event loop --------------------------------------------------------------
        while True:
            # next event: the current instant's FIFO once the heap has nothing left at this time
            if nowq and not (heap and heap[0][0] <= t):
                kind, a, b = qpop()
            else:
                ht = heap[0][0] if heap else inf
                if next_arr <= ht and next_arr < stop:
                    # lazy injection: created after every event already queued
                    at, a_in, a_out = arrivals[ai]
                    ai += 1
                    next_arr = arrivals[ai][0] if ai < n_arr else inf
                    seq += 1
                    push(heap, (at, t, t, seq, NEW_REQ, self.new_query(at, a_in, a_out), None))
                    continue
                if not heap or ht >= stop:
                    break
                t, k1, k2, k3, kind, a, b = pop(heap)
            events += 1
            if progress and events >= next_progress:
                next_progress += 1 << 20
                print(f"[sim] t={t - self.t0:9.1f}s after t0, {events} events, {len(decode_rec) // 2} decodes", file=sys.stderr, flush=True)

            if kind == FINISH_EXEC:
                # a node's walk ends: landings parked before it join the queues, the batch moves on
                p = parked[a]
                if p:
                    unpark(a, (t, k1, k2, k3))
                batch = batches[a]
                batches[a] = None
                busy[a] = False
                c = cur[a]
                kvu[a] += b
                if kvu[a] > kv_peak[a]:
                    kv_peak[a] = kvu[a]
                    if kvu[a] > kvc[a]:
                        raise SimulationError(f"KV cache overflow on node {topo.nodes[a].name}: {kvu[a]} > kv_cache_capacity {kvc[a]} at t={t:.3f}")
                if c == kk[a] - 1:
                    if planned:
                        advance(a)
                        inwin = w0 <= t <= w1
                        for r in batch:
                            seq += 1
                            if r.prompt:
                                send_planned(r, r.route[r.hop][0], t, seq)
                                continue
                            # a decode: send_planned inlined (one token, precomputed send time)
                            j = r.route[r.hop][0]
                            st = link_free_at[j]
                            if st < t:
                                st = t
                            fs = st + d1[j]
                            link_free_at[j] = fs
                            if inwin:
                                link_busy[j] += d1[j]
                                link_wait[j] += st - t
                                link_sends[j] += 1
                            land = fs + l_lat[j]
                            dst = l_dst[j]
                            if dst == SINK_ID:
                                push(heap, (land, fs, st, seq, FINISH_TX, r, j))
                            else:
                                if land < wake_at[dst] and not busy[dst]:
                                    wake_at[dst] = land
                                    push(heap, (land, fs, st, seq, WAKE, r, dst))
                                else:
                                    parked[dst].append((land, fs, st, seq, r))
                    else:
                        ob = outbound[a]
                        for r in batch:
                            r.ready_at = t
                            ob[r] = r
                        advance(a)
                        qpush((START_TX, a, None))
                else:
                    queues[a][c + 1].extend(batch)
                    advance(a)
                if p and p[0][0] == t:  # landings of this same instant keyed after it
                    unpark(a, (t, inf, inf, inf))
                qpush((START_EXEC, a, None))
            elif kind == START_EXEC:
                # an idle node takes a batch from its current layer's queue and walks its layers
                if busy[a]:
                    continue
                qs = queues[a]
                c = cur[a]
                q = qs[c]
                if not q:
                    advance(a)
                    c = cur[a]
                    q = qs[c]
                    if not q:
                        if parked[a]:
                            wake_if_idle(a)
                        continue
                ex = ex_list[a]
                maxp, maxpt, maxd, maxc = ex.max_prompts, ex.max_prompt_tokens, ex.max_decodes, ex.max_context
                pc = ptcache[a]
                dc = dtcache[a]
                last = kk[a] - 1
                walk = fuse[a]
                tend = t
                kv_add = 0
                while True:
                    # execution policy (s4.4): FIFO scan, a misfit is skipped and the scan goes on;
                    # a queue of decodes within both decode limits is taken whole (same batch)
                    ptok = 0
                    nd = len(q)
                    if 3 < nd <= maxd and not any(map(get_prompt, q)) and sum(map(get_ctx, q)) <= maxc:
                        batch = q
                        qs[c] = []
                    else:
                        np_ = nd = ctx = 0
                        batch = []
                        rest = None
                        for r in q:
                            if r.prompt:
                                if np_ < maxp and ptok + r.ntok <= maxpt:
                                    np_ += 1
                                    ptok += r.ntok
                                    batch.append(r)
                                    continue
                            elif nd < maxd and ctx + r.ctx <= maxc:
                                nd += 1
                                ctx += r.ctx
                                batch.append(r)
                                continue
                            if rest is None:
                                rest = []
                            rest.append(r)
                        qs[c] = [] if rest is None else rest
                    pt = pc.get(ptok)
                    if pt is None:
                        pt = pc[ptok] = ex.prompt_time(ptok)
                    dt = dc.get(nd)
                    if dt is None:
                        dt = dc[nd] = ex.decode_time(nd) * (2 if nd == 1 else 1)
                    base = pt + dt
                    dur = base
                    if c == 0:
                        dur += cpu_buf[a] * act_cost
                        cpu_buf[a] = 0
                    step = ptok + nd
                    rescan = False
                    while True:
                        if w0 <= tend <= w1:
                            node_busy[a] += dur
                        tlast = tend
                        tend = tend + dur
                        kv_add += step
                        if c == last or not walk:
                            break
                        # the batch moves on to the next layer, which the round robin visits next;
                        # with nothing left over there it is the same batch again (no re-scan)
                        c += 1
                        q = qs[c]
                        if q:
                            q.extend(batch)
                            rescan = True
                            break
                        dur = base
                    if not rescan:
                        break
                cur[a] = c
                busy[a] = True
                batches[a] = batch
                busy_until[a] = tend
                seq += 1
                push(heap, (tend, tlast, tlast, seq, FINISH_EXEC, a, kv_add))
            elif kind == WAKE:
                # the earliest landing on a node that was idle when it was sent (request a, node b)
                if wake_at[b] == t:
                    wake_at[b] = inf
                if busy[b]:
                    parked[b].append((t, k1, k2, k3, a))  # its batch's end merges it
                    continue
                if parked[b]:  # with the landings parked for this same instant, in key order
                    parked[b].append((t, k1, k2, k3, a))
                    unpark(b, (t, inf, inf, inf))
                else:
                    r = a
                    queues[b][r.route[r.hop][2] - start[b]].append(r)
                    r.hop += 1
                    cpu_buf[b] += r.ntok
                    r.arrived_at = t
                qpush((START_EXEC, b, None))
            elif kind == START_TX:
                # hop-by-hop schedulers: the sender's scheduler picks transmissions
                ob = outbound[a]
                if not ob:
                    continue
                self.now = t  # schedulers read the clock (swarm's hop times)
                picks, repoll = pick(a, ob, self)
                for j, bw, r in picks:
                    del ob[r]
                    dst = l_dst[j]
                    nic_out[a] -= bw
                    link_free[j] -= bw
                    nic_in[dst] -= bw
                    sending[j] += 1
                    if r.prompt and a > SINK_ID:
                        if r.stays is None:
                            r.stays = []
                        r.stays.append((a, t - r.arrived_at))
                    r.sent_at = t
                    lat = l_lat[j]
                    dur = l_bpt[j] * r.ntok / bw + lat
                    if w0 <= t <= w1:
                        link_busy[j] += dur - lat
                        link_wait[j] += t - r.ready_at
                        link_sends[j] += 1
                    seq += 1
                    push(heap, (t + (dur - lat), t, t, seq, FINISH_SEND, r, (j, bw)))
                for u in repoll:
                    qpush((START_TX, u, None))
            elif kind == FINISH_SEND:
                # a transmission's bandwidth is released; the payload lands ``latency`` later
                j, bw = b
                src = l_src[j]
                dst = l_dst[j]
                nic_out[src] += bw
                link_free[j] += bw
                nic_in[dst] += bw
                sending[j] -= 1
                if outbound[src] or nowq or (heap and heap[0][0] <= t):
                    qpush((START_TX, src, None))
                seq += 1
                land = t + l_lat[j]
                if park and busy_until[dst] > land:  # lands during the receiver's batch
                    parked[dst].append((land, t, t, seq, a))
                else:
                    push(heap, (land, t, t, seq, FINISH_TX, a, j))
            elif kind == GATHER:
                # requests at the sink are finished: record them, issue the next iteration
                if not sink_list:
                    continue
                done = sink_list[:]
                sink_list.clear()
                for r in done:
                    q = r.query
                    lat = t - r.created
                    if r.prompt:
                        prompt_rec.append(t)
                        prompt_rec.append(lat)
                        q.prompt_lat = lat
                        q.prompt_fin = t
                        if r.stays is not None and w0 <= t <= w1:
                            for u, s_ in r.stays:
                                node_stay[u] += s_
                                node_stay_n[u] += 1
                        qpush((NEW_REQ, Req(q, False, 1, q.input, t), None))
                        if feed_on_prompt and t + 0.1 < launch_end and sched.may_launch():
                            seq += 1
                            push(heap, (t + 0.1, t, t, seq, NEW_REQ, launched(t + 0.1), None))
                        continue
                    decode_rec.append(t)
                    decode_rec.append(lat)
                    q.done += 1
                    q.dec_sum += lat
                    if lat > q.dec_max:
                        q.dec_max = lat
                    if q.done < q.output:
                        qpush((NEW_REQ, Req(q, False, 1, q.input + q.done, t), None))
                        continue
                    # the query is done: its KV slots are freed on every node of its route
                    q.finish = t
                    tokens = q.input + q.output
                    for stage in q.route:
                        u = stage[1]
                        if u != SINK_ID:
                            kvu[u] -= tokens * (stage[3] - stage[2])
                    sched.on_query_finished(q, t)
                    if feeder is not None and t + 0.1 < launch_end and sched.may_launch():
                        seq += 1
                        push(heap, (t + 0.1, t, t, seq, NEW_REQ, launched(t + 0.1), None))
            elif kind == NEW_REQ:
                # an iteration enters at the source: the scheduler routes (or rejects) it
                r = a
                if not on_new(r, t):
                    r.query.rejected = True
                    self.rejected += 1
                    continue
                r.route = r.query.route
                if planned:
                    seq += 1
                    send_planned(r, r.route[0][0], t, seq)
                else:
                    r.ready_at = t
                    outbound[SOURCE_ID][r] = r
                    qpush((START_TX, SOURCE_ID, None))
            elif kind == FINISH_TX:
                # a landing that is an event: at the sink, or a hop-by-hop landing on a node
                r = a
                dst = l_dst[b]
                if dst == SINK_ID:
                    sink_list.append(r)
                    qpush((GATHER, None, None))
                    continue
                if parked[dst]:  # landings parked on it that come before this one go first
                    unpark(dst, (t, k1, k2, k3))
                queues[dst][r.route[r.hop][2] - start[dst]].append(r)
                r.hop += 1
                cpu_buf[dst] += r.ntok
                r.arrived_at = t
                if not busy[dst] or busy_until[dst] <= t:
                    qpush((START_EXEC, dst, None))
            else:  # pragma: no cover - kinds are closed
                raise AssertionError(kind)

        # -- phase 4: hand back -----------------------------------------------------------------
        self.events = events
        self.seq = seq
        self.now = t if until is None else until
        return RunResult(prompt=prompt_rec, decode=decode_rec, queries=self.queries, t0=self.t0, end_time=self.now, events=events, rejected=self.rejected)


def check_capacity(topo: Topology, min_tokens: int, source: str) -> None:
    """Every node must hold at least one (smallest) request on all its layers."""
    for u, nd in topo.nodes.items():
        need = min_tokens * (nd.end - nd.start)
        if nd.kv_capacity < need:
            raise HelixInputError(source, f"{nd.name}.kv_cache_capacity", f"too small for one request of {min_tokens} tokens on {nd.end - nd.start} layers (needs {need})", nd.kv_capacity)
