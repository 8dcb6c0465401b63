"""The event loop of :class:`helix.sim.engine.Simulator` and the objects it moves (queries, requests).

This module is the reference: plain Python, run as is wherever no compiled copy is available. The
build (``setup.py``) also compiles a copy of it with Cython as ``helix.sim._loop_c``, typed by
``loop.pxd`` (C integers and doubles for the loop's scalars, C structs for :class:`Query` and
:class:`Req`); the same source, so the compiled copy takes the same steps on the same numbers
(``tests/test_sim_compiled.py`` compares both). :mod:`helix.sim.engine` picks the compiled copy
only when it was built from this very file (a source hash, so a stale build is never used).

Kept free of what Cython cannot type (closures, starred lists): the helpers are module functions
that take the loop's state as arguments.
"""

from __future__ import annotations

import heapq
import sys
from collections import deque

from helix.sim.signals import let_signals_in as _let_signals_in

SOURCE_ID, SINK_ID = 0, 1  # helix.scheduling.base's ids (not imported: the compiled copy stands alone)
# event kinds (WAKE: a landing on a node that was idle, see run_loop)
NEW_REQ, START_TX, FINISH_SEND, FINISH_TX, GATHER, START_EXEC, FINISH_EXEC, WAKE = range(8)


class Query:
    """A user request: one prompt iteration, then ``output`` decode iterations on the same route."""

    __slots__ = (
        "qid",
        "input",
        "output",
        "arrival",
        "route",
        "done",
        "kv_expect",
        "prompt_lat",
        "prompt_fin",
        "dec_sum",
        "dec_max",
        "finish",
        "rejected",
    )

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

    __slots__ = (
        "query",
        "prompt",
        "ntok",
        "ctx",
        "created",
        "hop",
        "route",
        "sent_at",
        "arrived_at",
        "ready_at",
        "stays",
        "oseq",
    )

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


def new_query(queries: list, t: float, inp: int, out: int) -> Req:
    """A query arriving at ``t`` (appended to ``queries``) and its prompt iteration."""
    q = Query(len(queries), inp, out, t)
    queries.append(q)
    return Req(q, True, inp, 0, t)


# ---- helpers for the less frequent steps (the loop's state passed in) ---------------------------
class PlannedLinks:
    """What :func:`send_planned` works on, gathered once per run (the very lists the loop uses):
    the links' fixed bandwidths, latencies, bytes per token and ends, when each is free next and its
    window accumulators, the landings parked per node, the nodes' pending wakes and busy flags, the
    event heap and the measurement window [w0, w1]."""

    __slots__ = (
        "fixed_bw",
        "l_lat",
        "l_bpt",
        "l_src",
        "l_dst",
        "link_free_at",
        "link_busy",
        "link_wait",
        "link_sends",
        "parked",
        "wake_at",
        "busy",
        "heap",
        "w0",
        "w1",
    )

    def __init__(self, sim, fixed_bw: list, link_free_at: list, parked: list, wake_at: list):
        self.fixed_bw, self.link_free_at, self.parked, self.wake_at = fixed_bw, link_free_at, parked, wake_at
        self.l_lat, self.l_bpt, self.l_src, self.l_dst = sim.l_lat, sim.l_bpt, sim.l_src, sim.l_dst
        self.link_busy, self.link_wait, self.link_sends = sim.link_busy, sim.link_wait, sim.link_sends
        self.busy, self.heap = sim.busy, sim.heap
        self.w0, self.w1 = sim.window


def send_planned(r: Req, j: int, t: float, seq: int, pl: PlannedLinks) -> None:
    """Queue ``r`` on fixed-bandwidth link ``j`` at ``t``: it starts when the link's previous send
    ends; its landing is parked on the receiver (or an event at the sink)."""
    bw = pl.fixed_bw[j]
    lat = pl.l_lat[j]
    link_free_at = pl.link_free_at
    st = link_free_at[j]
    if st < t:
        st = t
    if r.prompt and r.hop:
        if r.stays is None:
            r.stays = []
        r.stays.append((pl.l_src[j], st - r.arrived_at))
    dur = pl.l_bpt[j] * r.ntok / bw + lat
    fs = st + (dur - lat)
    link_free_at[j] = fs
    if pl.w0 <= st <= pl.w1:
        pl.link_busy[j] += dur - lat
        pl.link_wait[j] += st - t
        pl.link_sends[j] += 1
    land = fs + lat
    dst = pl.l_dst[j]
    if dst == SINK_ID:
        heapq.heappush(pl.heap, (land, fs, st, seq, FINISH_TX, r, j))
        return
    wake_at = pl.wake_at
    if land < wake_at[dst] and not pl.busy[dst]:
        wake_at[dst] = land
        heapq.heappush(pl.heap, (land, fs, st, seq, WAKE, r, dst))
    else:
        pl.parked[dst].append((land, fs, st, seq, r))


def unpark(u: int, key: tuple, parked: list, queues: list, start: list, cpu_buf: list, fuse: list) -> None:
    """Put the landings parked on ``u`` that are keyed before ``key`` into its queues."""
    p = parked[u]
    if len(p) > 1:
        p.sort()
    qs = queues[u]
    ntok = 0
    if p[len(p) - 1][0] < key[0] and fuse[u]:
        # the common case at a batch's end: all of them, all into the first layer's queue
        q0 = qs[0]
        for item in p:
            r = item[4]
            q0.append(r)
            r.hop += 1
            ntok += r.ntok
            r.arrived_at = item[0]
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
        stage = r.route[r.hop]
        qs[stage[2] - s0].append(r)
        r.hop += 1
        ntok += r.ntok
        r.arrived_at = land
        i += 1
    cpu_buf[u] += ntok
    if i:
        del p[:i]


def wake_if_idle(u: int, parked: list, wake_at: list, heap: list) -> None:
    """``u`` stays idle: the earliest landing parked on it becomes a WAKE event."""
    p = parked[u]
    if p:
        first = min(p)
        if first[0] < wake_at[u]:
            p.remove(first)
            wake_at[u] = first[0]
            heapq.heappush(heap, (first[0], first[1], first[2], first[3], WAKE, first[4], u))


def advance(u: int, kk: list, queues: list, cur: list) -> None:
    """Move the layer pointer cyclically to the next layer with a non-empty queue."""
    k = kk[u]
    qs = queues[u]
    c = cur[u]
    for c2 in range(c + 1, k):
        q = qs[c2]
        if q:
            cur[u] = c2
            return
    for c2 in range(c + 1):
        q = qs[c2]
        if q:
            cur[u] = c2
            return


def launched(t: float, sampler, queries: list) -> Req:
    """Offline closed loop: the next query, arriving ``t``."""
    inp, out = sampler.sample()
    return new_query(queries, t, inp, out)


# ---- the loop ------------------------------------------------------------------------------------
def run_loop(sim, until, arrivals: list, fuse: list, fixed_bw, act_cost: float) -> float:
    """Process ``sim``'s events (before ``until`` if not None); returns the clock at the end.

    ``arrivals`` = [(time, input, output)] (online), ``fuse[u]``: node ``u`` walks its layers back
    to back, ``fixed_bw``: per-link bandwidth of a scheduler that plans routes with fixed
    bandwidths (None otherwise), ``act_cost``: CPU-buffer copy cost per token. The rules are
    :meth:`helix.sim.engine.Simulator.run`'s; the state is ``sim``'s (its counters are updated).
    """
    # -- state as locals (the loop runs millions of times; attribute loads cost) -------------------
    heap = sim.heap
    pop = heapq.heappop
    push = heapq.heappush
    nowq = deque()
    qpop = nowq.popleft
    qpush = nowq.append
    sched = sim.sched
    topo = sim.topo
    n_ids = len(sim.start)
    queues, cur, busy, batches, cpu_buf = sim.queues, sim.cur, sim.busy, sim.batch, sim.cpu_buf
    kvu, kvc, kv_peak = sim.kv_used, sim.kv_cap, sim.kv_peak
    start, kk, outbound = sim.start, sim.k, sim.outbound
    busy_until = [0.0] * n_ids
    parked = [[] for _ in range(n_ids)]  # per node: (land, k1, k2, seq, request), unsorted
    inf = float("inf")
    wake_at = [inf] * n_ids  # per node: time of a pending WAKE (inf: none)
    park = not getattr(sched, "reads_queues", False)  # shortest-queue reads queue lengths
    l_src, l_dst, l_lat, l_bpt = sim.l_src, sim.l_dst, sim.l_lat, sim.l_bpt
    sending, link_free, nic_out, nic_in = sim.sending, sim.link_free, sim.nic_out_free_, sim.nic_in_free_
    sink_list = sim.sink_list
    prompt_rec, decode_rec = sim.prompt_rec, sim.decode_rec
    node_busy, node_stay, node_stay_n = sim.node_busy, sim.node_stay, sim.node_stay_n
    link_busy, link_wait, link_sends = sim.link_busy, sim.link_wait, sim.link_sends
    queries = sim.queries
    ex_list = list(map(sim._execs.get, range(n_ids)))
    ex_maxp = [0 if ex is None else ex.max_prompts for ex in ex_list]
    ex_maxpt = [0 if ex is None else ex.max_prompt_tokens for ex in ex_list]
    ex_maxd = [0 if ex is None else ex.max_decodes for ex in ex_list]
    ex_maxc = [0 if ex is None else ex.max_context for ex in ex_list]
    w0, w1 = sim.window
    feeder = sim.feeder
    feed_on_prompt = feeder is not None and feeder.on_prompt
    has_feeder = feeder is not None
    launch_end = feeder.end_time if feeder is not None else 0.0
    sampler = sim.sampler
    pick = sched.pick_transmissions
    on_new = sched.on_new_request
    dec = getattr(sched, "decode_loads", None)
    dec_loads = None if dec is None else dec[0]
    dec_weights = None if dec is None else dec[1]
    on_finished = sched.on_query_finished
    may_launch = sched.may_launch
    planned = fixed_bw is not None
    park = park or planned
    n_links = len(l_src)
    link_free_at = [0.0] * n_links
    # sending time of one token per link, computed as the paper does: (bytes / bw + lat) - lat
    d1 = [0.0] * n_links
    if planned:
        for j in range(n_links):
            if fixed_bw[j] > 0:
                d1[j] = (l_bpt[j] / fixed_bw[j] + l_lat[j]) - l_lat[j]
    pl = PlannedLinks(sim, fixed_bw, link_free_at, parked, wake_at)
    ptcache = [dict() for _ in range(n_ids)]
    dtcache = [dict() for _ in range(n_ids)]
    ai = 0
    n_arr = len(arrivals)
    next_arr = arrivals[0][0] if n_arr else inf
    stop = inf if until is None else until
    events = sim.events
    seq = sim.seq
    t0 = sim.t0
    progress = sim.progress
    next_progress = 1 << 20
    t = sim.now
    k1 = k2 = t
    k3 = 0

    while True:
        # next event: the current instant's FIFO once the heap has nothing left at this time
        if heap:
            head = heap[0]
            ht = head[0]
        else:
            ht = inf
        if nowq and not ht <= t:
            kind, a, b = qpop()
        else:
            if next_arr <= ht and next_arr < stop:
                # lazy injection: created after every event already queued
                at, a_in, a_out = arrivals[ai]
                ai += 1
                next_arr = arrivals[ai][0] if ai < n_arr else inf
                seq += 1
                push(heap, (at, t, t, seq, NEW_REQ, new_query(queries, at, a_in, a_out), None))
                continue
            if not heap or ht >= stop:
                break
            t, k1, k2, k3, kind, a, b = pop(heap)
        events += 1
        if not events & 0xFFFF:
            # A Python call lets the interpreter run pending signal handlers (Ctrl-C, a scheduler's
            # SIGINT/SIGTERM): the compiled copy of this loop otherwise never gives them a chance.
            _let_signals_in()
        if progress and events >= next_progress:
            next_progress += 1 << 20
            print(
                f"[sim] t={t - t0:9.1f}s after t0, {events} events, {len(decode_rec) // 2} decodes",
                file=sys.stderr,
                flush=True,
            )

        if kind == FINISH_EXEC:
            # a node's walk ends: landings parked before it join the queues, the batch moves on
            u = a
            p = parked[u]
            if p:
                unpark(u, (t, k1, k2, k3), parked, queues, start, cpu_buf, fuse)
            batch = batches[u]
            batches[u] = None
            busy[u] = False
            c = cur[u]
            kv = kvu[u] + b
            kvu[u] = kv
            kvp = kv_peak[u]
            if kv > kvp:
                kv_peak[u] = kv
                if kv > kvc[u]:
                    from helix.sim.engine import SimulationError

                    raise SimulationError(
                        f"KV cache overflow on node {topo.nodes[u].name}: "
                        f"{kv} > kv_cache_capacity {kvc[u]} at t={t:.3f}"
                    )
            if c == kk[u] - 1:
                if planned:
                    advance(u, kk, queues, cur)
                    inwin = w0 <= t <= w1
                    for r in batch:
                        seq += 1
                        if r.prompt:
                            send_planned(r, r.route[r.hop][0], t, seq, pl)
                            continue
                        # a decode: send_planned inlined (one token, precomputed send time); the
                        # list items are read into locals first (C doubles in the compiled copy)
                        stage = r.route[r.hop]
                        j = stage[0]
                        st = link_free_at[j]
                        if st < t:
                            st = t
                        dj = d1[j]
                        fs = st + dj
                        link_free_at[j] = fs
                        if inwin:
                            acc = link_busy[j]
                            link_busy[j] = acc + dj
                            acc = link_wait[j]
                            link_wait[j] = acc + (st - t)
                            link_sends[j] += 1
                        lat = l_lat[j]
                        land = fs + lat
                        dst = l_dst[j]
                        if dst == SINK_ID:
                            push(heap, (land, fs, st, seq, FINISH_TX, r, j))
                        else:
                            wa = wake_at[dst]
                            if land < wa and not busy[dst]:
                                wake_at[dst] = land
                                push(heap, (land, fs, st, seq, WAKE, r, dst))
                            else:
                                parked[dst].append((land, fs, st, seq, r))
                else:
                    ob = outbound[u]
                    for r in batch:
                        r.ready_at = t
                        ob[r] = r
                    advance(u, kk, queues, cur)
                    qpush((START_TX, u, None))
            else:
                queues[u][c + 1].extend(batch)
                advance(u, kk, queues, cur)
            if p and p[0][0] == t:  # landings of this same instant keyed after it (p[0]: a tuple)
                unpark(u, (t, inf, inf, inf), parked, queues, start, cpu_buf, fuse)
            qpush((START_EXEC, u, None))
        elif kind == START_EXEC:
            # an idle node takes a batch from its current layer's queue and walks its layers
            u = a
            if busy[u]:
                continue
            qs = queues[u]
            c = cur[u]
            q = qs[c]
            if not q:
                advance(u, kk, queues, cur)
                c = cur[u]
                q = qs[c]
                if not q:
                    if parked[u]:
                        wake_if_idle(u, parked, wake_at, heap)
                    continue
            ex = ex_list[u]
            maxp = ex_maxp[u]
            maxpt = ex_maxpt[u]
            maxd = ex_maxd[u]
            maxc = ex_maxc[u]
            pc = ptcache[u]
            dc = dtcache[u]
            last = kk[u] - 1
            walk = fuse[u]
            tend = t
            tlast = t
            kv_add = 0
            while True:
                # execution policy (s4.4): FIFO scan, a misfit is skipped and the scan goes on;
                # a queue of decodes within both decode limits is taken whole (same batch)
                ptok = 0
                nd = len(q)
                whole = False
                if 3 < nd <= maxd:  # all decodes, context within the limit? (a C loop when compiled)
                    whole = True
                    ctx = 0
                    for r in q:
                        if r.prompt:
                            whole = False
                            break
                        ctx += r.ctx
                    if ctx > maxc:
                        whole = False
                if whole:
                    batch = q
                    qs[c] = []
                else:
                    np_ = 0
                    nd = 0
                    ctx = 0
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
                    dur += cpu_buf[u] * act_cost
                    cpu_buf[u] = 0
                step = ptok + nd
                rescan = False
                while True:
                    if w0 <= tend <= w1:
                        acc = node_busy[u]
                        node_busy[u] = acc + dur
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
            cur[u] = c
            busy[u] = True
            batches[u] = batch
            busy_until[u] = tend
            seq += 1
            push(heap, (tend, tlast, tlast, seq, FINISH_EXEC, u, kv_add))
        elif kind == WAKE:
            # the earliest landing on a node that was idle when it was sent (request a, node b)
            u = b
            wa = wake_at[u]
            if wa == t:
                wake_at[u] = inf
            if busy[u]:
                parked[u].append((t, k1, k2, k3, a))  # its batch's end merges it
                continue
            if parked[u]:  # with the landings parked for this same instant, in key order
                parked[u].append((t, k1, k2, k3, a))
                unpark(u, (t, inf, inf, inf), parked, queues, start, cpu_buf, fuse)
            else:
                r = a
                stage = r.route[r.hop]
                queues[u][stage[2] - start[u]].append(r)
                r.hop += 1
                cpu_buf[u] += r.ntok
                r.arrived_at = t
            qpush((START_EXEC, u, None))
        elif kind == START_TX:
            # hop-by-hop schedulers: the sender's scheduler picks transmissions
            u = a
            ob = outbound[u]
            if not ob:
                continue
            sim.now = t  # schedulers read the clock (swarm's hop times)
            picks, repoll = pick(u, ob, sim)
            for pk in picks:
                j = pk[0]
                bw = pk[1]
                r = pk[2]
                del ob[r]
                dst = l_dst[j]
                nic_out[u] -= bw
                link_free[j] -= bw
                nic_in[dst] -= bw
                sending[j] += 1
                if r.prompt and u > SINK_ID:
                    if r.stays is None:
                        r.stays = []
                    r.stays.append((u, t - r.arrived_at))
                r.sent_at = t
                lat = l_lat[j]
                dur = l_bpt[j] * r.ntok / bw + lat
                if w0 <= t <= w1:
                    link_busy[j] += dur - lat
                    link_wait[j] += t - r.ready_at
                    link_sends[j] += 1
                seq += 1
                push(heap, (t + (dur - lat), t, t, seq, FINISH_SEND, r, (j, bw)))
            for v in repoll:
                qpush((START_TX, v, None))
        elif kind == FINISH_SEND:
            # a transmission's bandwidth is released; the payload lands ``latency`` later
            jb = b
            j = jb[0]
            bw = jb[1]
            src = l_src[j]
            dst = l_dst[j]
            nic_out[src] += bw
            link_free[j] += bw
            nic_in[dst] += bw
            sending[j] -= 1
            if outbound[src] or nowq or (heap and heap[0][0] <= t):
                qpush((START_TX, src, None))
            seq += 1
            lat = l_lat[j]
            land = t + lat
            bu = busy_until[dst]
            if park and bu > land:  # lands during the receiver's batch
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
                qr = r.query
                lat = t - r.created
                if r.prompt:
                    prompt_rec.append(t)
                    prompt_rec.append(lat)
                    qr.prompt_lat = lat
                    qr.prompt_fin = t
                    if r.stays is not None and w0 <= t <= w1:
                        for stay in r.stays:
                            node_stay[stay[0]] += stay[1]
                            node_stay_n[stay[0]] += 1
                    qpush((NEW_REQ, Req(qr, False, 1, qr.input, t), None))
                    if feed_on_prompt and t + 0.1 < launch_end and may_launch():
                        seq += 1
                        push(heap, (t + 0.1, t, t, seq, NEW_REQ, launched(t + 0.1, sampler, queries), None))
                    continue
                decode_rec.append(t)
                decode_rec.append(lat)
                qr.done += 1
                qr.dec_sum += lat
                if lat > qr.dec_max:
                    qr.dec_max = lat
                if qr.done < qr.output:
                    qpush((NEW_REQ, Req(qr, False, 1, qr.input + qr.done, t), None))
                    continue
                # the query is done: its KV slots are freed on every node of its route
                qr.finish = t
                tokens = qr.input + qr.output
                for stage in qr.route:
                    v = stage[1]
                    if v != SINK_ID:
                        kvu[v] -= tokens * (stage[3] - stage[2])
                on_finished(qr, t)
                if has_feeder and t + 0.1 < launch_end and may_launch():
                    seq += 1
                    push(heap, (t + 0.1, t, t, seq, NEW_REQ, launched(t + 0.1, sampler, queries), None))
        elif kind == NEW_REQ:
            # an iteration enters at the source: the scheduler routes (or rejects) it
            r = a
            if r.prompt or dec_loads is None:
                if not on_new(r, t):
                    r.query.rejected = True
                    sim.rejected += 1
                    continue
            else:  # the scheduler's decode_loads: what its on_new_request would do for a decode
                for stage in r.query.route:
                    j = stage[0]
                    dec_loads[j] += dec_weights[j]
            r.route = r.query.route
            if planned:
                seq += 1
                send_planned(r, r.route[0][0], t, seq, pl)
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
                unpark(dst, (t, k1, k2, k3), parked, queues, start, cpu_buf, fuse)
            stage = r.route[r.hop]
            queues[dst][stage[2] - start[dst]].append(r)
            r.hop += 1
            cpu_buf[dst] += r.ntok
            r.arrived_at = t
            bu = busy_until[dst]
            if not busy[dst] or bu <= t:
                qpush((START_EXEC, dst, None))
        else:  # pragma: no cover - kinds are closed
            raise AssertionError(kind)

    sim.events = events
    sim.seq = seq
    return t
