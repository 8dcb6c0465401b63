"""The admission replay's event loop (helix.placement.admission): plain Python, the reference.

``setup.py`` compiles a copy of this module typed by ``replay_loop.pxd`` (Cython) as
``helix.placement._replay_c``; :func:`helix.placement.admission.replay_core` uses that copy when it
was built from this very source, else this module. Both take the same steps on the same numbers
(the .pxd declares C doubles where Python has floats and C integers where it has small ints), so
they give the same result, bit for bit (tests/test_served_admission.py).

Written for the compiler: no closures, state in flat arrays (``array.array``: typed memoryviews in
the compiled copy, ordinary sequences here), the event heap and the per-request routes in arrays
too, so no Python object is made per event. Only :func:`run` is called from outside.
"""

from __future__ import annotations

import math
from array import array

from helix.placement import event_heap

INF = math.inf
LAUNCH = -1  # event codes: a launch, else 2 r (the prompt in slot r finishes) or 2 r + 1 (its request)


def _zeros(code: str, n: int) -> array:
    return array(code, bytes(8 * n))


# ---- the arrays the helpers below work on, set by :func:`run` (module state, so that the compiled
# copy hands them no array: a typed memoryview is a struct passed by value). Not reentrant.
_ht = _hs = _he = None  # the event heap
_k = _avail = _floor = None  # per node: layers, free KV slots, mask floor
_c_start = _c_idx = None  # candidate links per sender (CSR)
_l_dst = _inv = _loads = _d_rate = _d_last = None  # per link
_route = None  # per slot: its links


# ---- the event heap (helix.placement.event_heap) on this module's ``_ht``, ``_hs``, ``_he``; the
# compiled copy has its code here instead (pasted by setup.py)
heap_push, heap_drop = event_heap.bound_to(globals())


# ---- the scheduler's IWRR routing and KV expectation. Per node its layer count ``k``, free KV slots
# ``avail`` and mask floor; per link its receiver, 1 / flow and IWRR load, settled lazily from the
# decode tokens per second crossing it (``d_rate`` since ``d_last``); candidate links per sender
# (``c_start``/``c_idx``, sender ``s`` at ``s + 1``: the source is -1) in CSR.


def plan(rn, w, x, t):
    """IWRR route of a request of input ``w`` and KV expectation ``x`` launched at ``t``: its number
    of links, stored at ``route[rn:]``, or -1 when some hop has no candidate with room (the loads it
    added are taken back)."""
    h = 0
    cur = -1
    while cur != -2:
        best = -1
        best_v = INF
        for c in range(_c_start[cur + 1], _c_start[cur + 2]):
            j = _c_idx[c]
            dst = _l_dst[j]
            if dst >= 0 and _avail[dst] - x * _k[dst] < _floor[dst]:
                continue
            # settle the link's load to t (decode tokens accrued at their rate since d_last)
            v = _loads[j] + _inv[j] * _d_rate[j] * (t - _d_last[j])
            _loads[j] = v
            _d_last[j] = t
            v = v + w * _inv[j]
            if v < best_v:
                best_v = v
                best = j
        if best < 0:
            for c in range(rn, rn + h):
                j = _route[c]
                _loads[j] -= w * _inv[j]
            return -1
        _loads[best] += w * _inv[best]
        _route[rn + h] = best
        h += 1
        cur = _l_dst[best]
    return h


def take(r0, h, x, sign):
    """Add ``sign * x`` tokens per layer on every node of the route at ``route[r0:r0 + h]``."""
    for c in range(r0, r0 + h):
        u = _l_dst[_route[c]]
        if u >= 0:
            _avail[u] += sign * x * _k[u]


def decode(r0, h, t, step):
    """The route's decode tokens per second change by ``step`` at ``t`` (loads settled first)."""
    for c in range(r0, r0 + h):
        j = _route[c]
        _loads[j] = _loads[j] + _inv[j] * _d_rate[j] * (t - _d_last[j])
        _d_last[j] = t
        _d_rate[j] += step


def run(
    k,
    avail,
    floor,
    g_tot,
    g_thr,
    c_start,
    c_idx,
    l_dst,
    inv,
    n_pc,
    n_dc,
    l_pc,
    l_dc,
    inputs,
    outputs,
    rng,
    kv_extra,
    n_init,
    delay,
    settle_l,
    span_l,
    max_launches,
):
    """The closed loop: ``n_init`` launches ``delay`` apart, then one ``delay`` after every finished
    prompt and request while the feeder allows (and fewer than ``max_launches`` so far). A request
    is drawn from (``inputs``, ``outputs``) by ``rng``, routed by :func:`plan`, stays its route's
    prompt seconds (``n_pc`` per node, ``l_pc`` per link), then ``output`` times its round trip
    (``n_dc``, ``l_dc``). The feeder launches while every holder group keeps a free KV share of at
    least ``g_thr / g_tot``: a route passes exactly one holder of each layer, so every group's free
    KV is its total ``g_tot`` less the KV expectations ``x`` of the requests in flight (sums of
    whole numbers of tokens: exact). The window opens ``settle_l`` mean lifetimes after the first
    launch the loop turns down (feeder or router) and lasts ``span_l``. Returns the window's time
    averages: (in flight, in prompt, decode rate, rejected share, input in flight, KV in flight,
    admitted)."""
    global _ht, _hs, _he, _k, _avail, _floor, _c_start, _c_idx
    global _l_dst, _inv, _loads, _d_rate, _d_last, _route
    n_tr = len(inputs)
    n_g = len(g_tot)
    blk = rng.integers(0, n_tr, 4096).tolist()  # the trace's pairs, drawn in blocks
    bi = 0
    nl = len(inv)
    _loads = _zeros("d", nl)
    _d_rate = _zeros("d", nl)
    _d_last = _zeros("d", nl)
    hops = len(k) + 1  # the longest route
    # growable arrays: the array object (*_a), doubled when full, and its views (the same object here,
    # typed memoryviews in the compiled copy): the one used here and, where the helpers use it, theirs
    cap = 64 + 2 * n_init
    ht = _ht = ht_a = _zeros("d", cap)
    _hs = hs_a = _zeros("q", cap)
    he = _he = he_a = _zeros("q", cap)
    _k = k
    _avail = avail
    _floor = floor
    _c_start = c_start
    _c_idx = c_idx
    _l_dst = l_dst
    _inv = inv
    hn = 0
    for q in range(n_init):
        heap_push(hn, delay * q, q, LAUNCH)
        hn += 1
    seq = n_init
    # a slot per request in flight (freed when it finishes): its input, KV expectation, round trip,
    # number of links and the links themselves (route[slot * hops:])
    r_w = r_w_a = _zeros("d", cap)
    r_x = r_x_a = _zeros("d", cap)
    r_rtt = r_rtt_a = _zeros("d", cap)
    r_h = r_h_a = _zeros("q", cap)
    route = _route = route_a = _zeros("q", cap * hops)
    free = free_a = _zeros("q", cap)  # free slots below n_slots (a stack)
    n_slots = 0
    n_free = 0
    nr = 0  # requests admitted
    t_open = INF
    t_end = INF
    area_f = 0.0  # time integrals over the window
    area_p = 0.0
    area_in = 0.0
    area_x = 0.0
    area_d = 0.0
    n_flight = 0
    n_prompt = 0
    s_in = 0.0  # sums over requests in flight (input, x) and decoding (1 / round trip)
    s_x = 0.0
    s_rate = 0.0
    last = 0.0
    launches = 0
    rejected = 0
    admitted = 0
    total = 0
    life_sum = 0.0

    while hn > 0:
        t = ht[0]
        ev = he[0]
        heap_drop(hn)
        hn -= 1
        if hn + 2 > len(ht):  # room for the (at most two) events this one adds: double the arrays
            ht = _ht = ht_a = ht_a + ht_a
            _hs = hs_a = hs_a + hs_a
            he = _he = he_a = he_a + he_a
        dt = min(t, t_end) - max(last, t_open)
        if dt > 0:
            area_f += n_flight * dt
            area_p += n_prompt * dt
            area_in += s_in * dt
            area_x += s_x * dt
            area_d += s_rate * dt
        if t >= t_end:
            last = t_end
            break
        last = t
        limited = False
        if ev == LAUNCH:
            total += 1
            in_win = t >= t_open
            if in_win:
                launches += 1
            if bi == len(blk):
                blk = rng.integers(0, n_tr, 4096).tolist()
                bi = 0
            q = blk[bi]
            bi += 1
            w = float(inputs[q])
            out = float(outputs[q])
            x = w + kv_extra
            if n_free > 0:
                r = free[n_free - 1]
            else:
                if n_slots == len(r_w):  # double the slots
                    r_w = r_w_a = r_w_a + r_w_a
                    r_x = r_x_a = r_x_a + r_x_a
                    r_rtt = r_rtt_a = r_rtt_a + r_rtt_a
                    r_h = r_h_a = r_h_a + r_h_a
                    route = _route = route_a = route_a + route_a
                    free = free_a = free_a + free_a
                r = n_slots
            r0 = r * hops
            h = plan(r0, w, x, t)
            if h < 0:
                if in_win:
                    rejected += 1
                limited = True
            else:
                if n_free > 0:
                    n_free -= 1
                else:
                    n_slots += 1
                take(r0, h, x, -1.0)
                pl = 0.0
                rtt = 0.0
                for c in range(r0, r0 + h):
                    j = route[c]
                    pl += l_pc[j]
                    rtt += l_dc[j]
                    u = l_dst[j]
                    if u >= 0:
                        pl += n_pc[u]
                        rtt += n_dc[u]
                rtt = max(rtt, 1e-9)
                r_w[r] = w
                r_x[r] = x
                r_rtt[r] = rtt
                r_h[r] = h
                if in_win:
                    admitted += 1
                n_flight += 1
                n_prompt += 1
                s_in += w
                s_x += x
                life_sum += pl + out * rtt
                heap_push(hn, t + pl, seq, 2 * r)
                heap_push(hn + 1, t + pl + out * rtt, seq + 1, 2 * r + 1)
                hn += 2
                seq += 2
                nr += 1
        else:
            r = ev >> 1
            rtt = r_rtt[r]
            if ev & 1:  # finished
                step = -1.0 / rtt
                n_flight -= 1
                s_in -= r_w[r]
                s_x -= r_x[r]
                take(r * hops, r_h[r], r_x[r], 1.0)
                free[n_free] = r
                n_free += 1
            else:  # prompt finished: decoding from now
                step = 1.0 / rtt
                n_prompt -= 1
            s_rate += step
            decode(r * hops, r_h[r], t, step)
            feed = total < max_launches
            for g in range(n_g):
                if g_tot[g] - s_x < g_thr[g]:  # the feeder's check
                    feed = False
                    break
            if feed:
                heap_push(hn, t + delay, seq, LAUNCH)
                hn += 1
                seq += 1
            else:
                limited = True
        if limited and t_open == INF:
            life = life_sum / max(nr, 1)
            t_open = t + settle_l * life
            t_end = t_open + span_l * life
    span = last - t_open
    if not span > 0:  # no window (no request, or the loop ran dry): the state at the end
        span = 1.0
        area_f = float(n_flight)
        area_p = float(n_prompt)
        area_in = s_in
        area_x = s_x
        area_d = s_rate
    return (
        area_f / span,
        area_p / span,
        area_d / span,
        rejected / launches if launches else 0.0,
        area_in / area_f if area_f > 0 else 0.0,
        area_x / area_f if area_f > 0 else 0.0,
        admitted,
    )
