"""The decode replay's event loop (helix.placement.decode_replay): plain Python, the reference.

``setup.py`` compiles a copy of this module typed by ``decode_loop.pxd`` (Cython) as
``helix.placement._decode_c``; :func:`helix.placement.decode_replay.decode_core` uses that copy when
it was built from this very source, else this module. Both take the same steps on the same numbers
(the .pxd declares C doubles where Python has floats and C integers where it has small ints), so
they give the same result, bit for bit (tests/test_served_decode.py).

Written for the compiler, as the admission replay's loop (helix.placement.replay_loop): no closures,
state in flat arrays (``array.array``: typed memoryviews in the compiled copy), the event heap in
arrays, a slot per request (its route, hop, phase and tokens left) and the machines' queues and
walking batches as lists linked through the slots, so no Python object is made per event. Only
:func:`run` is called from outside.
"""

from __future__ import annotations

import math
from array import array

INF = math.inf
SINK = -2
# event kinds; an event is 8 * its slot (LAND, LAUNCH, DECODE) or machine (START, END) + its kind
LAND = 0  # an item (a decode token or a prompt's activations) lands at the end of its link
START = 1  # a machine takes what has landed and starts a walk
END = 2  # a machine's walk ends: its batch leaves on the next links of their routes
LAUNCH = 3  # a new request's prompt leaves the source
DECODE = 4  # a request of the starting state sends its next token


def _zeros(code: str, n: int) -> array:
    return array(code, bytes(8 * n))


# ---- the event heap: parallel arrays of (time, sequence number, event), a min-heap on (time, seq).
# Sequence numbers are unique, so events pop in the order of their keys whatever the heap's layout
# (as heapq on (time, seq, ...) tuples).


def heap_push(ht, hs, he, n, t, s, e):
    """Add (t, s, e) to the heap of ``n`` events (the arrays have room for one more)."""
    i = n
    while i > 0:
        p = (i - 1) >> 1
        if ht[p] < t or (ht[p] == t and hs[p] < s):
            break
        ht[i] = ht[p]
        hs[i] = hs[p]
        he[i] = he[p]
        i = p
    ht[i] = t
    hs[i] = s
    he[i] = e


def heap_drop(ht, hs, he, n):
    """Remove the first event of the heap of ``n`` events."""
    n -= 1
    if n == 0:
        return
    t = ht[n]
    s = hs[n]
    e = he[n]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and (ht[c + 1] < ht[c] or (ht[c + 1] == ht[c] and hs[c + 1] < hs[c])):
            c += 1
        if t < ht[c] or (t == ht[c] and s < hs[c]):
            break
        ht[i] = ht[c]
        hs[i] = hs[c]
        he[i] = he[c]
        i = c
    ht[i] = t
    hs[i] = s
    he[i] = e


def route(c_start, c_idx, dst, share, load, rt, r0, w):
    """The helix scheduler's IWRR route of a request of input ``w`` (from the source, per hop the
    candidate link minimising ``load + w / share``, the first on a tie, which then takes ``w / share``
    of load), stored at ``rt[r0:]``; its number of links. Candidates of sender ``u`` (the source is
    -1) are ``c_idx[c_start[u + 1]:c_start[u + 2]]``."""
    h = 0
    u = -1
    while u != SINK:
        best = -1
        low = INF
        for c in range(c_start[u + 1], c_start[u + 2]):
            a = c_idx[c]
            v = load[a] + w / share[a]
            if v < low:
                best = a
                low = v
        load[best] += w / share[best]
        rt[r0 + h] = best
        h += 1
        u = dst[best]
    return h


def bisect_right(cum, n, v):
    """The first index of ``cum[:n]`` (ascending) whose value is above ``v`` (``n`` if none)."""
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) >> 1
        if v < cum[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


def send(s, t, r0, r_hop, r_pr, r_len, rt, dst, inv, lat, tok, prs, load, link_free, ht, hs, he, hn, seq):
    """The item in slot ``s`` (route at ``rt[r0:]``) leaves on its next link at ``t``: queued behind
    what the link is sending, it lands one send time and the latency later (event pushed as the
    heap's ``hn``-th, sequence ``seq``). A decode token leaving the source adds ``1 / share`` of IWRR
    load to every link of its route."""
    h = r_hop[s]
    a = rt[r0 + h]
    if h == 0 and r_pr[s] == 0:
        for c in range(r0, r0 + r_len[s]):
            b = rt[c]
            load[b] += inv[b]
    f = link_free[a] if link_free[a] > t else t
    if r_pr[s]:
        f = f + prs[a]
    else:
        f = f + tok[a]
    link_free[a] = f
    heap_push(ht, hs, he, hn, f + lat[a], seq, 8 * s + LAND)


def run(
    k,
    dec,
    d_off,
    d_n,
    dm,
    copy,
    prompt,
    c_start,
    c_idx,
    dst,
    share,
    inv,
    lat,
    tok,
    prs,
    ins,
    outs,
    cum,
    n_req,
    w0,
    w1,
    extra,
    rng,
    delay,
):
    """The decode loop (helix.placement.decode_replay, module doc there) up to ``w1`` seconds.

    Per machine its layers ``k``, decode seconds per layer by batch ``dec[d_off[u]:d_off[u] + d_n[u]]``,
    batch limit ``dm``, CPU-buffer copy per decode token ``copy`` and one mean prompt's walk
    ``prompt``; per link its receiver ``dst`` (-2: the sink), routing share and ``inv = 1 / share``,
    latency ``lat``, one token's send time ``tok`` and one prompt's ``prs``; candidate links per
    sender in CSR (``c_start``, ``c_idx``). The trace's inputs ``ins``, outputs ``outs`` (at least 1)
    and their running sums ``cum``; ``n_req`` requests decoding at the start (drawn by ``rng`` in
    proportion to their output, part-way through it), surplus prompts at rate ``extra`` per second,
    a new request ``delay`` after each finished one. Returns (decode tokens finished in
    [``w0``, ``w1``), the time integrals over it of the requests decoding and in their prompt)."""
    n = len(k)
    nl = len(dst)
    hops = n + 1  # the longest route (layers only grow along a route)
    n_tr = len(outs)
    total = cum[n_tr - 1]
    load = _zeros("d", nl)
    link_free = _zeros("d", nl)
    busy = _zeros("q", n)
    q_head = _zeros("q", n)  # per machine: what has landed (a list linked by r_next), its last one,
    q_tail = _zeros("q", n)
    w_head = _zeros("q", n)  # and the batch it walks
    for u in range(n):
        q_head[u] = -1
        q_tail[u] = -1
        w_head[u] = -1
    # growable arrays: the array objects (*_a) and the views used (the same objects here). A slot per
    # item (a request, or a surplus prompt): its hop, prompt (1) or decode (0), decode tokens left
    # (-1: a surplus prompt), number of links, the next slot in its machine's list, and its links
    cap = n_req + 16
    r_hop_a = _zeros("q", cap)
    r_pr_a = _zeros("q", cap)
    r_left_a = _zeros("q", cap)
    r_len_a = _zeros("q", cap)
    r_next_a = _zeros("q", cap)
    rt_a = _zeros("q", cap * hops)
    free_a = _zeros("q", cap)  # free slots below n_slots (a stack)
    # at most one event per slot and one START or END per machine
    ht_a = _zeros("d", cap + n + 1)
    hs_a = _zeros("q", cap + n + 1)
    he_a = _zeros("q", cap + n + 1)
    r_hop = r_hop_a
    r_pr = r_pr_a
    r_left = r_left_a
    r_len = r_len_a
    r_next = r_next_a
    rt = rt_a
    free = free_a
    ht = ht_a
    hs = hs_a
    he = he_a
    n_slots = 0
    n_free = 0
    hn = 0
    seq = 0
    done = 0
    n_dec = 0
    n_pr = 0
    area_dec = 0.0
    area_pr = 0.0
    last = w0
    for x in range(n_req):
        # a steady state: requests in flight drawn in proportion to their output, part-way through it
        y = bisect_right(cum, n_tr, rng.random() * total)
        if y > n_tr - 1:
            y = n_tr - 1
        s = n_slots
        n_slots += 1
        r_len[s] = route(c_start, c_idx, dst, share, load, rt, s * hops, ins[y])
        r_hop[s] = 0
        r_pr[s] = 0
        r_left[s] = 1 + rng.randrange(outs[y])
        n_dec += 1
        seq += 1
        heap_push(ht, hs, he, hn, float(x) / (n_req if n_req > 1 else 1), seq, 8 * s + DECODE)
        hn += 1
    nxt = rng.expovariate(extra) if extra > 0 else INF
    t = 0.0
    while hn > 0:
        if nxt < ht[0]:  # a surplus prompt of a run still filling
            t = nxt
            if t >= w1:
                break
            nxt = t + rng.expovariate(extra)
            z = rng.randrange(n_tr)
            if n_free > 0:
                n_free -= 1
                s = free[n_free]
            else:
                if n_slots == len(r_hop):  # double the slots and the heap
                    r_hop_a = r_hop_a + r_hop_a
                    r_pr_a = r_pr_a + r_pr_a
                    r_left_a = r_left_a + r_left_a
                    r_len_a = r_len_a + r_len_a
                    r_next_a = r_next_a + r_next_a
                    rt_a = rt_a + rt_a
                    free_a = free_a + free_a
                    ht_a = ht_a + ht_a
                    hs_a = hs_a + hs_a
                    he_a = he_a + he_a
                    r_hop = r_hop_a
                    r_pr = r_pr_a
                    r_left = r_left_a
                    r_len = r_len_a
                    r_next = r_next_a
                    rt = rt_a
                    free = free_a
                    ht = ht_a
                    hs = hs_a
                    he = he_a
                s = n_slots
                n_slots += 1
            r_len[s] = route(c_start, c_idx, dst, share, load, rt, s * hops, ins[z])
            r_hop[s] = 0
            r_pr[s] = 1
            r_left[s] = -1
            seq += 1
            send(
                s,
                t,
                s * hops,
                r_hop,
                r_pr,
                r_len,
                rt,
                dst,
                inv,
                lat,
                tok,
                prs,
                load,
                link_free,
                ht,
                hs,
                he,
                hn,
                seq,
            )
            hn += 1
            continue
        t = ht[0]
        ev = he[0]
        heap_drop(ht, hs, he, hn)
        hn -= 1
        if t >= w1:
            break
        kind = ev & 7
        p = ev >> 3
        if kind == LAND:
            s = p
            r0 = s * hops
            u = dst[rt[r0 + r_hop[s]]]
            if u != SINK:
                r_next[s] = -1
                if q_tail[u] >= 0:
                    r_next[q_tail[u]] = s
                else:
                    q_head[u] = s
                q_tail[u] = s
                if busy[u] == 0:  # it wakes the machine, after what lands at this same instant
                    busy[u] = 1
                    seq += 1
                    heap_push(ht, hs, he, hn, t, seq, 8 * u + START)
                    hn += 1
                continue
            r_hop[s] = 0
            if r_pr[s]:  # a prompt done: its request decodes (a surplus prompt ends here)
                if r_left[s] < 0:
                    free[n_free] = s
                    n_free += 1
                    continue
                if t > w0:
                    a = last if last > w0 else w0
                    area_dec += n_dec * (t - a)
                    area_pr += n_pr * (t - a)
                    last = t
                n_pr -= 1
                n_dec += 1
                r_pr[s] = 0
                seq += 1
                send(
                    s,
                    t,
                    r0,
                    r_hop,
                    r_pr,
                    r_len,
                    rt,
                    dst,
                    inv,
                    lat,
                    tok,
                    prs,
                    load,
                    link_free,
                    ht,
                    hs,
                    he,
                    hn,
                    seq,
                )
                hn += 1
                continue
            if t >= w0:
                done += 1
            r_left[s] -= 1
            if r_left[s] > 0:
                seq += 1
                send(
                    s,
                    t,
                    r0,
                    r_hop,
                    r_pr,
                    r_len,
                    rt,
                    dst,
                    inv,
                    lat,
                    tok,
                    prs,
                    load,
                    link_free,
                    ht,
                    hs,
                    he,
                    hn,
                    seq,
                )
                hn += 1
                continue
            if t > w0:
                a = last if last > w0 else w0
                area_dec += n_dec * (t - a)
                area_pr += n_pr * (t - a)
                last = t
            n_dec -= 1
            # the request is done; the next one (its slot) is routed now and launched after the delay
            y = rng.randrange(n_tr)
            r_len[s] = route(c_start, c_idx, dst, share, load, rt, r0, ins[y])
            r_pr[s] = 1
            r_left[s] = outs[y]
            seq += 1
            heap_push(ht, hs, he, hn, t + delay, seq, 8 * s + LAUNCH)
            hn += 1
        elif kind == START:
            u = p
            nd = 0
            prompts = 0
            bh = -1  # the batch (head, tail) and what stays queued
            bt = -1
            qh = -1
            qt = -1
            s = q_head[u]
            while s >= 0:
                nx = r_next[s]
                r_next[s] = -1
                if r_pr[s] or nd < dm[u]:
                    if r_pr[s]:
                        prompts += 1
                    else:
                        nd += 1
                    if bt >= 0:
                        r_next[bt] = s
                    else:
                        bh = s
                    bt = s
                else:
                    if qt >= 0:
                        r_next[qt] = s
                    else:
                        qh = s
                    qt = s
                s = nx
            q_head[u] = qh
            q_tail[u] = qt
            w_head[u] = bh
            dv = 0.0
            if nd > 0:
                dv = dec[d_off[u] + (nd if nd < d_n[u] else d_n[u] - 1)]
            walk = k[u] * dv + prompts * prompt[u] + nd * copy[u]
            seq += 1
            heap_push(ht, hs, he, hn, t + walk, seq, 8 * u + END)
            hn += 1
        elif kind == END:
            u = p
            s = w_head[u]
            w_head[u] = -1
            while s >= 0:
                nx = r_next[s]
                r_hop[s] += 1
                seq += 1
                send(
                    s,
                    t,
                    s * hops,
                    r_hop,
                    r_pr,
                    r_len,
                    rt,
                    dst,
                    inv,
                    lat,
                    tok,
                    prs,
                    load,
                    link_free,
                    ht,
                    hs,
                    he,
                    hn,
                    seq,
                )
                hn += 1
                s = nx
            if q_head[u] >= 0:
                seq += 1
                heap_push(ht, hs, he, hn, t, seq, 8 * u + START)
                hn += 1
            else:
                busy[u] = 0
        elif kind == LAUNCH:
            s = p
            if t > w0:
                a = last if last > w0 else w0
                area_dec += n_dec * (t - a)
                area_pr += n_pr * (t - a)
                last = t
            n_pr += 1
            seq += 1
            send(
                s,
                t,
                s * hops,
                r_hop,
                r_pr,
                r_len,
                rt,
                dst,
                inv,
                lat,
                tok,
                prs,
                load,
                link_free,
                ht,
                hs,
                he,
                hn,
                seq,
            )
            hn += 1
        else:  # DECODE: a request of the starting state sends its next token
            s = p
            seq += 1
            send(
                s,
                t,
                s * hops,
                r_hop,
                r_pr,
                r_len,
                rt,
                dst,
                inv,
                lat,
                tok,
                prs,
                load,
                link_free,
                ht,
                hs,
                he,
                hn,
                seq,
            )
            hn += 1
    if w1 > w0:
        a = last if last > w0 else w0
        area_dec += n_dec * (w1 - a)
        area_pr += n_pr * (w1 - a)
    return done, area_dec, area_pr
