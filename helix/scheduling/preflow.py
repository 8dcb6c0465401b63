"""networkx's highest-label preflow-push, step for step, on flat lists (the served estimate's routing).

Why: the helix scheduler splits requests by the flows of networkx's preflow-push on its flow graph
(:func:`helix.scheduling.flowgraph.solve`), and max flows are not unique, so an estimate that routes
as the simulator routes needs that very flow (docs/served.md). networkx spends most of a solve in
dict-of-dict lookups and attribute dicts; this module takes the same steps (the residual network
built in the same order, the same active-vertex sets, the same discharge, relabel, gap and global
relabel heuristics with ``global_relabel_freq=1``) on lists indexed by vertex and arc, so it finds
the same flow, bit for bit, at about half the cost. Python ``set`` objects keep the levels' active
and inactive vertices, with the same additions and removals in the same order, so the vertex that
``next(iter(...))`` picks is the one networkx's ``arbitrary_element`` picks.

Follows networkx 3.x's ``preflow_push_impl`` and ``build_residual_network``
(tests/test_served_routing.py compares the two on random graphs, exactly); only :func:`solve` is
called from outside. The simulator keeps networkx (:func:`helix.scheduling.flowgraph.solve`).
"""

from __future__ import annotations

from collections import deque

from helix.scheduling.base import SINK_ID, SOURCE_ID, Topology


def preflow_push(n: int, edges, s: int, t: int) -> tuple[float, list[float]]:
    """Max flow from ``s`` to ``t`` on vertices ``0..n-1`` and ``edges`` ``(u, v, capacity)``, given
    in the order networkx's ``G.edges`` lists them (by tail in vertex order, then by insertion).

    Returns (value, flow per edge, 0.0 where none), as ``nx.maximum_flow`` with its default
    preflow-push gives them on that graph (the value as networkx has it: an int 0 when nothing
    flows)."""
    # the residual network as build_residual_network makes it: per vertex its out-arcs in insertion
    # order, an arc and its reverse added together, the reverse with capacity 0
    succ: list[dict[int, int]] = [{} for _ in range(n)]
    pred: list[dict[int, int]] = [{} for _ in range(n)]
    cap: list = []
    head: list[int] = []
    rev: list[int] = []
    gid: list[int] = []
    for u, v, c in edges:
        if u == v or not c > 0:
            gid.append(-1)
            continue
        e = succ[u].get(v)
        if e is None:
            e = len(cap)
            cap += (c, 0)
            head += (v, u)
            rev += (e + 1, e)
            succ[u][v] = e
            pred[v][u] = e
            succ[v][u] = e + 1
            pred[u][v] = e + 1
        else:
            cap[e] = c
        gid.append(e)
    flow = [0] * len(cap)
    adj = [list(d.values()) for d in succ]
    padj = [list(d.items()) for d in pred]
    excess = [0] * n

    def reverse_bfs(src: int) -> dict[int, int]:
        heights = {src: 0}
        q = deque([(src, 0)])
        while q:
            u, h = q.popleft()
            h += 1
            for v, e in padj[u]:
                if v not in heights and flow[e] < cap[e]:
                    heights[v] = h
                    q.append((v, h))
        return heights

    heights = reverse_bfs(t)
    if s not in heights:
        return 0, [0.0] * len(edges)
    max_height = max(heights[u] for u in heights if u != s)
    heights[s] = n
    threshold = n + len(cap)  # GlobalRelabelThreshold(n, R.size(), 1)
    work = 0
    height = [heights.get(u, n + 1) for u in range(n)]
    curr = [0] * n

    def push(u: int, e: int, f) -> None:
        flow[e] += f
        flow[rev[e]] -= f
        excess[u] -= f
        excess[head[e]] += f

    for e in adj[s]:
        if cap[e] > 0:
            push(s, e, cap[e])
    act = [set() for _ in range(2 * n)]
    ina = [set() for _ in range(2 * n)]
    for u in range(n):
        if u != s and u != t:
            (act if excess[u] > 0 else ina)[height[u]].add(u)

    def discharge(u: int, phase1: bool) -> int:
        nonlocal work
        h = height[u]
        ce = curr[u]
        au = adj[u]
        next_h = h
        act[h].remove(u)
        while True:
            e = au[ce]
            v = head[e]
            if h == height[v] + 1 and flow[e] < cap[e]:
                push(u, e, min(excess[u], cap[e] - flow[e]))
                if v != s and v != t and v in ina[height[v]]:  # activate(v)
                    ina[height[v]].remove(v)
                    act[height[v]].add(v)
                if excess[u] == 0:
                    ina[h].add(u)
                    break
            ce += 1
            if ce == len(au):  # off the end of the arcs: rewind and relabel
                ce = 0
                work += len(au)
                h = min(height[head[x]] for x in au if flow[x] < cap[x]) + 1
                if phase1 and h >= n - 1:
                    act[h].add(u)
                    break
                next_h = h
        curr[u] = ce
        height[u] = h
        return next_h

    def gap(h0: int) -> None:
        for lv in range(h0 + 1, max_height + 1):
            a, b = act[lv], ina[lv]
            for u in a:
                height[u] = n + 1
            for u in b:
                height[u] = n + 1
            act[n + 1].update(a)
            a.clear()
            ina[n + 1].update(b)
            b.clear()

    def global_relabel(from_sink: bool) -> int:
        src = t if from_sink else s
        hs = reverse_bfs(src)
        if not from_sink:
            del hs[t]
        mh = max(hs.values())
        if from_sink:
            for u in range(n):
                if u not in hs and height[u] < n:
                    hs[u] = n + 1
        else:
            for u in hs:
                hs[u] += n
            mh += n
        del hs[src]
        for u, nh in hs.items():
            oh = height[u]
            if nh != oh:
                if u in act[oh]:
                    act[oh].remove(u)
                    act[nh].add(u)
                else:
                    ina[oh].remove(u)
                    ina[nh].add(u)
                height[u] = nh
        return mh

    # phase 1: a maximum preflow
    h = max_height
    while h > 0:
        while True:
            a = act[h]
            if not a:
                h -= 1
                break
            old_h = h
            h = discharge(next(iter(a)), True)
            if work >= threshold:
                h = max_height = global_relabel(True)
                work = 0
            elif not act[old_h] and not ina[old_h]:
                gap(old_h)
                h = max_height = old_h - 1
            else:
                max_height = max(max_height, h)
    # phase 2: the excess back to the source
    h = global_relabel(False)
    work = 0
    while h > n:
        while True:
            a = act[h]
            if not a:
                h -= 1
                break
            h = discharge(next(iter(a)), False)
            if work >= threshold:
                h = global_relabel(False)
                work = 0
    return excess[t], [float(flow[e]) if e >= 0 and flow[e] > 0 else 0.0 for e in gid]


def solve(topo: Topology, node_capacity: dict[int, float]) -> tuple[float, list[float]]:
    """What :func:`helix.scheduling.flowgraph.solve` returns (max flow value and flow per link, in
    link order), from the same graph, built in the same order, without networkx."""
    ids: dict = {}
    adj: list[dict[int, float]] = []

    def vid(name) -> int:
        i = ids.get(name)
        if i is None:
            i = ids[name] = len(adj)
            adj.append({})
        return i

    def add(a, b, c) -> None:
        u = vid(a)
        adj[u][vid(b)] = c

    vid("source")
    vid("sink")
    bpt = topo.token_size
    bpa = topo.token_size + topo.activation_size
    add("source", ("out", SOURCE_ID), topo.coord_out / bpt)
    add(("in", SINK_ID), "sink", topo.coord_in / bpt)
    for uid in sorted(topo.nodes):
        node = topo.nodes[uid]
        ins = [topo.links[i].src for i in topo.in_links[uid]]
        outs = [topo.links[i].dst for i in topo.out_links[uid]]
        s_in = bpt if ins and all(x == SOURCE_ID for x in ins) else bpa
        s_out = bpt if outs and all(d == SINK_ID for d in outs) else bpa
        add(("in", uid), ("start", uid), node.nic_in / s_in)
        add(("start", uid), ("end", uid), node_capacity[uid])
        add(("end", uid), ("out", uid), node.nic_out / s_out)
    for link in topo.links:
        add(("out", link.src), ("in", link.dst), link.bandwidth / topo.bytes_per_token(link))
    edges, pos = [], {}
    for u, d in enumerate(adj):
        for v, c in d.items():
            pos[(u, v)] = len(edges)
            edges.append((u, v, c))
    value, flows = preflow_push(len(adj), edges, ids["source"], ids["sink"])
    per_link = [flows[pos[(ids[("out", l.src)], ids[("in", l.dst)])]] for l in topo.links]
    return float(value), per_link
