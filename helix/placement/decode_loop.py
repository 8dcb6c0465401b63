"""The decode replay's event loop (helix.placement.decode_replay): plain Python, the reference.

``setup.py`` compiles a copy of this module typed by ``decode_loop.pxd`` (Cython) as
``helix.placement._decode_c``; :func:`helix.placement.decode_replay.decode_core` uses that copy when
it was built from this very source, else this module. Both take the same steps on the same numbers
(the .pxd declares C doubles where Python has floats and C integers where it has small ints), so
they give the same result, bit for bit (tests/test_served_decode.py).

Written for the compiler, as the admission replay's loop (helix.placement.replay_loop): no closures,
state in flat arrays (``array.array``: typed memoryviews in the compiled copy), the event heap in
arrays, a slot per request (its route, hop, phase and tokens left), a group per set of slots sent
together on one link (one event for all of them: a walk's decode tokens leave together), the
machines' queues as lists of groups and their walking batches as lists linked through the slots, so
no Python object is made per event. Only :func:`run` is called from outside.
"""

from __future__ import annotations

import math
from array import array

from helix.placement import event_heap

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


# ---- the arrays the helpers below work on, set by :func:`run` (module state, so that the compiled
# copy hands them no array: a typed memoryview is a struct passed by value). Not reentrant.
_ht = _hs = _he = None  # the event heap
_lat = _tok = _prs = _link_free = None  # per link: latency, token and prompt send times, free at
_g_cnt = _g_t = _g_sp = None  # per group: size, first landing, spacing
_r_len = _rt = _inv = _load = None  # per slot: route length, links; per link: 1 / share, IWRR load
_r_next = _r_pr = _g_head = None  # per slot: the next in its group, prompt (1) or decode; per group: first
_p_head = _p_tail = _p_cnt = _p_t = _p_tl = _touched = None  # per link: the group gathering (see run)


# ---- the event heap (helix.placement.event_heap) on this module's ``_ht``, ``_hs``, ``_he``; the
# compiled copy has its code here instead (pasted by setup.py)
heap_push, heap_drop = event_heap.bound_to(globals())


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


def send(a, g, pr, t, sp_in, hn, seq):
    """Group ``g`` (``g_cnt[g]`` items, prompt activations if ``pr``, the first ready at ``t``, the others
    ``sp_in`` apart) leaves on link ``a``: queued behind what the link is sending, one item after the
    other, the first lands one send time and the latency later and the others one send time (or
    ``sp_in``, if longer) apart (the group's landing pushed as the heap's ``hn``-th event, sequence
    ``seq``)."""
    f = _link_free[a] if _link_free[a] > t else t
    item = _prs[a] if pr else _tok[a]
    sp = item if item > sp_in else sp_in
    f = f + item
    _g_t[g] = f + _lat[a]
    _g_sp[g] = sp
    _link_free[a] = f + (_g_cnt[g] - 1) * sp
    heap_push(hn, _g_t[g], seq, 8 * g + LAND)


def gather(x, s, t, nt):
    """Slot ``s``'s item, ready at ``t``, joins the group gathering on link ``x`` (it leaves after the
    event, :func:`leave`); ``nt`` links have a group, one more if ``x`` had none (returned)."""
    if _p_cnt[x] > 0:
        _r_next[_p_tail[x]] = s
    else:
        _p_head[x] = s
        _p_t[x] = t
        _touched[nt] = x
        nt += 1
    _p_tail[x] = s
    _p_tl[x] = t
    _p_cnt[x] += 1
    return nt


def leave(x, g, hn, seq):
    """The group gathered on link ``x`` leaves as group ``g`` (:func:`send`): its items were ready one by
    one, evenly spaced from its first's time to its last's (at the sink, one of its link's send times
    apart; within one walk's end, all at once)."""
    _g_head[g] = _p_head[x]
    _g_cnt[g] = _p_cnt[x]
    _r_next[_p_tail[x]] = -1
    _p_cnt[x] = 0
    sp = (_p_tl[x] - _p_t[x]) / (_g_cnt[g] - 1) if _g_cnt[g] > 1 else 0.0
    send(x, g, _r_pr[_p_head[x]], _p_t[x], sp, hn, seq)


def load_route(s, r0):
    """A decode token of slot ``s`` (route at ``rt[r0:]``) leaves the source: ``1 / share`` of IWRR load
    on every link of its route."""
    for c in range(r0, r0 + _r_len[s]):
        b = _rt[c]
        _load[b] += _inv[b]


def upto(t, w0, last, n_dec, n_pr, area_dec, area_pr):
    """The time integrals of the requests decoding (``n_dec``) and in their prompt (``n_pr``) over the
    window from ``w0``, ``area_dec`` and ``area_pr`` up to ``last``, brought up to ``t`` (where a count
    changes): (t, the integrals); before the window, (``last``, the integrals) unchanged."""
    if t > w0:
        a = last if last > w0 else w0
        return t, area_dec + n_dec * (t - a), area_pr + n_pr * (t - a)
    return last, area_dec, area_pr


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
    [``w0``, ``w1``), the time integrals over it of the requests decoding and in their prompt).

    Items move in groups: the decode tokens a walk (or the sink) sends on one link leave together,
    one send time apart, as one event (their first landing); a prompt's activations are a group of
    one. A machine's queue holds the groups that have begun to land; a walk takes of each what has
    landed by its start (decode tokens up to ``Dm``), and the rest of a group lands again as a group
    when its next item does (so a token that lands on an idle machine walks alone, as the simulator's
    lone heads do)."""
    global _ht, _hs, _he, _lat, _tok, _prs, _link_free, _g_cnt, _g_t, _g_sp, _r_len, _rt, _inv, _load
    global _r_next, _r_pr, _g_head, _p_head, _p_tail, _p_cnt, _p_t, _p_tl, _touched
    n = len(k)
    nl = len(dst)
    hops = n + 1  # the longest route (layers only grow along a route)
    n_tr = len(outs)
    total = cum[n_tr - 1]
    # an array: the view used here and, where the helpers use it, theirs (_*): the same object (typed
    # memoryviews in the compiled copy); a growable one also as the array object (*_a), doubled when full
    load = _load = _zeros("d", nl)
    _link_free = _zeros("d", nl)
    busy = _zeros("q", n)
    q_head = _zeros("q", n)  # per machine: the groups that have begun to land (linked by g_next), the last
    q_tail = _zeros("q", n)
    w_head = _zeros("q", n)  # and the items it walks (slots linked by r_next)
    for u in range(n):
        q_head[u] = -1
        q_tail[u] = -1
        w_head[u] = -1
    # per link, the group being gathered (its first and last slot, size, when its first is ready)
    _p_head = _zeros("q", nl)
    _p_tail = _zeros("q", nl)
    p_cnt = _p_cnt = _zeros("q", nl)
    _p_t = _zeros("d", nl)
    _p_tl = _zeros("d", nl)  # when its last is ready
    # growable arrays (doubled together when the slots run out). A slot per item (a request, or a
    # surplus prompt): its hop, prompt (1) or decode (0), decode tokens left (-1: a surplus prompt),
    # number of links, the next slot in its group or batch, and its links. A group per set of slots
    # travelling together (at most one per slot): its first slot, size, when its first lands, the
    # spacing of the others, the next group in its machine's queue; free groups.
    cap = n_req + 16
    r_hop = r_hop_a = _zeros("q", cap)
    r_pr = _r_pr = r_pr_a = _zeros("q", cap)
    r_left = r_left_a = _zeros("q", cap)
    r_len = _r_len = r_len_a = _zeros("q", cap)
    r_next = _r_next = r_next_a = _zeros("q", cap)
    rt = _rt = rt_a = _zeros("q", cap * hops)
    free = free_a = _zeros("q", cap)  # free slots below n_slots (a stack)
    g_head = _g_head = g_head_a = _zeros("q", cap)
    g_cnt = _g_cnt = g_cnt_a = _zeros("q", cap)
    g_t = _g_t = g_t_a = _zeros("d", cap)
    g_sp = _g_sp = g_sp_a = _zeros("d", cap)
    g_next = g_next_a = _zeros("q", cap)
    g_free = g_free_a = _zeros("q", cap)
    # the links that have a group gathered by this event: each link, and a link again after each
    # prompt of a walk that sends the group gathered before it (at most one per slot)
    touched = _touched = touched_a = _zeros("q", nl + cap)
    # at most one event per slot (its group's, its launch or first decode) and one START or END per
    # machine
    ht = _ht = ht_a = _zeros("d", cap + n + 1)
    _hs = hs_a = _zeros("q", cap + n + 1)
    he = _he = he_a = _zeros("q", cap + n + 1)
    _lat = lat
    _tok = tok
    _prs = prs
    _inv = inv
    n_gfree = 0
    for x in range(cap - 1, -1, -1):
        g_free[n_gfree] = x
        n_gfree += 1
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
    # a steady state: requests in flight drawn in proportion to their output, part-way through it;
    # both draws stratified (request x draws from the x-th of n_req equal slices of the trace's
    # output-weighted order, and from a shuffled slice of its output), so the run starts with the
    # trace's mix and an even spread of finishing times, not a draw's clusters of them
    order = list(range(n_req))
    rng.shuffle(order)
    for x in range(n_req):
        y = bisect_right(cum, n_tr, (x + rng.random()) / n_req * total)
        if y > n_tr - 1:
            y = n_tr - 1
        s = n_slots
        n_slots += 1
        r_len[s] = route(c_start, c_idx, dst, share, load, rt, s * hops, ins[y])
        r_hop[s] = 0
        r_pr[s] = 0
        z = order[x]
        c = int((z + rng.random()) / n_req * outs[y])
        r_left[s] = 1 + (c if c < outs[y] else outs[y] - 1)
        n_dec += 1
        seq += 1
        heap_push(hn, float(x) / (n_req if n_req > 1 else 1), seq, 8 * s + DECODE)
        hn += 1
    nxt = rng.random() / extra if extra > 0 else INF  # surplus prompts: evenly spaced, a random phase
    t = 0.0
    pend = -1  # a machine whose walk starts at this instant with nothing else due first (or -1)
    while hn > 0 or pend >= 0:
        nt = 0  # links with a group gathered by this event
        if pend < 0 and nxt < ht[0]:  # a surplus prompt of a run still filling
            t = nxt
            if t >= w1:
                break
            nxt = t + 1.0 / extra
            z = rng.randrange(n_tr)
            if n_free > 0:
                n_free -= 1
                s = free[n_free]
            else:
                if n_slots == len(r_hop):  # double the slots, the groups and the heap
                    r_hop = r_hop_a = r_hop_a + r_hop_a
                    r_pr = _r_pr = r_pr_a = r_pr_a + r_pr_a
                    r_left = r_left_a = r_left_a + r_left_a
                    r_len = _r_len = r_len_a = r_len_a + r_len_a
                    r_next = _r_next = r_next_a = r_next_a + r_next_a
                    rt = _rt = rt_a = rt_a + rt_a
                    free = free_a = free_a + free_a
                    g_head = _g_head = g_head_a = g_head_a + g_head_a
                    g_cnt = _g_cnt = g_cnt_a = g_cnt_a + g_cnt_a
                    g_t = _g_t = g_t_a = g_t_a + g_t_a
                    g_sp = _g_sp = g_sp_a = g_sp_a + g_sp_a
                    g_next = g_next_a = g_next_a + g_next_a
                    g_free = g_free_a = g_free_a + g_free_a
                    touched = _touched = touched_a = touched_a + touched_a
                    ht = _ht = ht_a = ht_a + ht_a
                    _hs = hs_a = hs_a + hs_a
                    he = _he = he_a = he_a + he_a
                    for x in range(2 * n_slots - 1, n_slots - 1, -1):
                        g_free[n_gfree] = x
                        n_gfree += 1
                s = n_slots
                n_slots += 1
            r_len[s] = route(c_start, c_idx, dst, share, load, rt, s * hops, ins[z])
            r_hop[s] = 0
            r_pr[s] = 1
            r_left[s] = -1
            x = rt[s * hops]
            nt = gather(x, s, t, nt)
        else:
            if pend >= 0:  # that walk starts now, as its START event would have, next, at this instant
                kind = START
                p = pend
                pend = -1
            else:
                t = ht[0]
                ev = he[0]
                heap_drop(hn)
                hn -= 1
                if t >= w1:
                    break
                kind = ev & 7
                p = ev >> 3
            if kind == LAND:
                g = p
                s = g_head[g]
                u = dst[rt[s * hops + r_hop[s]]]
                if u != SINK:
                    g_next[g] = -1
                    if q_tail[u] >= 0:
                        g_next[q_tail[u]] = g
                    else:
                        q_head[u] = g
                    q_tail[u] = g
                    if busy[u] == 0:  # it wakes the machine, after what lands at this same instant
                        busy[u] = 1
                        if hn == 0 or ht[0] > t:
                            pend = u
                        else:
                            seq += 1
                            heap_push(hn, t, seq, 8 * u + START)
                            hn += 1
                    continue
                # at the sink: the items land one by one, ``sp`` apart
                sp = g_sp[g]
                ti = t
                y = g_cnt[g]
                g_free[n_gfree] = g
                n_gfree += 1
                for z in range(y):
                    nx = r_next[s]
                    r0 = s * hops
                    r_hop[s] = 0
                    x = -1  # the link it leaves on again (-1: none)
                    if r_pr[s]:  # a prompt done: its request decodes (a surplus prompt ends here)
                        if r_left[s] < 0:
                            free[n_free] = s
                            n_free += 1
                        else:
                            last, area_dec, area_pr = upto(t, w0, last, n_dec, n_pr, area_dec, area_pr)
                            n_pr -= 1
                            n_dec += 1
                            r_pr[s] = 0
                            x = rt[r0]
                    else:
                        if ti >= w0 and ti < w1:
                            done += 1
                        r_left[s] -= 1
                        if r_left[s] > 0:
                            x = rt[r0]
                        else:
                            last, area_dec, area_pr = upto(t, w0, last, n_dec, n_pr, area_dec, area_pr)
                            n_dec -= 1
                            # the request is done; the next one (its slot) is routed now and launched
                            # after the delay
                            c = rng.randrange(n_tr)
                            r_len[s] = route(c_start, c_idx, dst, share, load, rt, r0, ins[c])
                            r_pr[s] = 1
                            r_left[s] = outs[c]
                            seq += 1
                            heap_push(hn, ti + delay, seq, 8 * s + LAUNCH)
                            hn += 1
                    if x >= 0:  # its next token leaves the source
                        load_route(s, r0)
                        nt = gather(x, s, ti, nt)
                    ti += sp
                    s = nx
            elif kind == START:
                u = p
                nd = 0
                prompts = 0
                bh = -1  # the batch (head, tail) and the groups that stay queued
                bt = -1
                qh = -1
                qt = -1
                g = q_head[u]
                while g >= 0:
                    gn = g_next[g]
                    s = g_head[g]
                    keep = 0
                    if r_pr[s]:  # a prompt (a group of one) always walks
                        prompts += 1
                        z = s
                        y = 1
                        ti = t
                    elif nd < dm[u]:  # what has landed of the group, up to the decode limit
                        y = 1
                        z = s
                        ti = g_t[g] + g_sp[g]
                        while y < g_cnt[g] and nd + y < dm[u] and ti <= t:
                            z = r_next[z]
                            y += 1
                            ti += g_sp[g]
                        nd += y
                    else:
                        y = 0
                        z = -1
                        ti = t
                        keep = 1
                    if y > 0:
                        if bt >= 0:
                            r_next[bt] = s
                        else:
                            bh = s
                        bt = z
                        if y == g_cnt[g]:
                            g_free[n_gfree] = g
                            n_gfree += 1
                        else:
                            g_head[g] = r_next[z]
                            g_cnt[g] -= y
                            g_t[g] = ti
                            if ti <= t:  # landed, held back by the decode limit
                                keep = 1
                            else:  # the rest lands later
                                seq += 1
                                heap_push(hn, ti, seq, 8 * g + LAND)
                                hn += 1
                    if keep:
                        g_next[g] = -1
                        if qt >= 0:
                            g_next[qt] = g
                        else:
                            qh = g
                        qt = g
                    g = gn
                if bt >= 0:
                    r_next[bt] = -1
                q_head[u] = qh
                q_tail[u] = qt
                w_head[u] = bh
                dv = 0.0
                if nd > 0:
                    dv = dec[d_off[u] + (nd if nd < d_n[u] else d_n[u] - 1)]
                walk = k[u] * dv + prompts * prompt[u] + nd * copy[u]
                seq += 1
                heap_push(hn, t + walk, seq, 8 * u + END)
                hn += 1
                continue
            elif kind == END:  # the batch leaves: per next link, its decode tokens as a group
                u = p
                s = w_head[u]
                w_head[u] = -1
                while s >= 0:
                    nx = r_next[s]
                    r_hop[s] += 1
                    x = rt[s * hops + r_hop[s]]
                    if r_pr[s]:  # prompt activations: after the tokens gathered before them
                        if p_cnt[x] > 0:
                            g = g_free[n_gfree - 1]
                            n_gfree -= 1
                            seq += 1
                            leave(x, g, hn, seq)
                            hn += 1
                        g = g_free[n_gfree - 1]
                        n_gfree -= 1
                        g_head[g] = s
                        g_cnt[g] = 1
                        r_next[s] = -1
                        seq += 1
                        send(x, g, 1, t, 0.0, hn, seq)
                        hn += 1
                    else:
                        nt = gather(x, s, t, nt)
                    s = nx
                if q_head[u] < 0:
                    busy[u] = 0
                elif hn == 0 or ht[0] > t:  # (what it sends below lands after that START)
                    pend = u
                else:
                    seq += 1
                    heap_push(hn, t, seq, 8 * u + START)
                    hn += 1
            elif kind == LAUNCH:  # a new request's prompt leaves the source
                s = p
                last, area_dec, area_pr = upto(t, w0, last, n_dec, n_pr, area_dec, area_pr)
                n_pr += 1
                x = rt[s * hops]
                nt = gather(x, s, t, nt)
            else:  # DECODE: a request of the starting state sends its next token
                s = p
                load_route(s, s * hops)
                x = rt[s * hops]
                nt = gather(x, s, t, nt)
        # the groups gathered leave on their links
        for z in range(nt):
            x = touched[z]
            if p_cnt[x] > 0:
                g = g_free[n_gfree - 1]
                n_gfree -= 1
                seq += 1
                leave(x, g, hn, seq)
                hn += 1
    last, area_dec, area_pr = upto(w1, w0, last, n_dec, n_pr, area_dec, area_pr)
    return done, area_dec, area_pr
