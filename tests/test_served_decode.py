"""The decode replay of the served estimate (helix/placement/decode_replay.py) on hand-made cases whose
answer is known in closed form.

With links of no latency and no send time and one machine, the tokens it walks are back the instant
the walk ends, together with whatever waited, so they merge into one platoon and the closed loop of N
decoding requests runs at T = N / (one walk of N tokens); above the machine's decode limit Dm a walk
takes Dm tokens and the rest waits for the next. On a chain of equal machines whose walk does not
depend on the batch, a token's round trip is one walk per machine however the platoons split. With
latencies and prompts no closed form, but a request decodes one token per round trip (Little).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_served import MODEL, WL, chain, gpu

from helix.errors import HelixInputError, HelixRunError
from helix.placement import decode_replay
from helix.placement.admission import LAUNCH_DELAY
from helix.placement.decode_replay import ReplayArc, ReplayNode, iwrr_route, replay_decode
from helix.placement.served import GpuServing, ServedModel, WorkloadStats

TD = 0.05  # s per layer of a decode walk, any batch
NEVER = ([100], [10**9])  # outputs that never finish inside the window: a fixed population decoding
WINDOW = (10.0, 110.0)
RUN = (20, 10.0, 40.0)  # a short offline run for the estimate (the replay keeps its own window)


def node(k=2, dm=1000, copy=0.0, prompt=0.0, td=TD):
    return ReplayNode(float(k), tuple([td] * (dm + 1)), dm, copy, prompt)


def line(nodes, lat=0.0, send=0.0, prompt_send=0.0):
    """A chain source -> 0 -> 1 -> ... -> sink."""
    n = len(nodes)
    ends = [-1, *range(n), -2]
    return [ReplayArc(a, b, 1.0, lat, send, prompt_send) for a, b in zip(ends, ends[1:])]


def test_a_lone_head_and_the_rest_take_turns():
    """The requests start 1/N s apart; walks of at least a second (k * TD) mean that the first token
    walks alone and every other lands during that walk: two platoons, a lone head and the rest, that
    take turns for ever (each lands while the other walks)."""
    n, k, td, copy = 12, 4, 0.3, 1e-3
    one = [node(k=k, copy=copy, td=td)]
    res = replay_decode(one, line(one), n, NEVER, (20.0, 220.0))
    turn = (k * td + copy) + (k * td + (n - 1) * copy)  # the head's walk and the rest's
    assert res.throughput == pytest.approx(n / turn, rel=0.01)
    assert res.in_decode == pytest.approx(n) and res.in_prompt == 0
    assert res.rtt == pytest.approx(turn, rel=0.01)
    # two equal machines: the head walks the second while the rest walks the first, so a token's
    # round trip is still two walks
    two = [node(k=k, td=td), node(k=k, td=td)]
    res = replay_decode(two, line(two), n, NEVER, (20.0, 220.0))
    assert res.throughput == pytest.approx(n / (2 * k * td), rel=0.01)


def test_a_platoon_over_the_decode_limit_walks_in_parts():
    dm = 5
    nodes = [node(k=1, dm=dm)]
    res = replay_decode(nodes, line(nodes), 4 * dm, NEVER, WINDOW)
    # each walk takes Dm tokens (the rest waits), so the machine serves Dm tokens per walk
    assert res.throughput == pytest.approx(dm / TD, rel=0.01)


def test_little_holds_and_turnover_launches_prompts():
    nodes = [node(k=2, prompt=0.2), node(k=2, prompt=0.1)]
    n, out = 30, [20, 40, 60]
    res = replay_decode(nodes, line(nodes, lat=0.01, send=1e-4, prompt_send=0.05), n, ([50] * 3, out), WINDOW)
    assert res.throughput > 0 and res.in_prompt > 0
    # every request is decoding, in its prompt, or waiting out the launch delay after it finished
    finishing = res.throughput / (sum(out) / len(out))
    assert res.in_decode + res.in_prompt == pytest.approx(n - finishing * LAUNCH_DELAY, rel=0.05)
    # a round trip is at least the walks and the links of the route
    assert res.rtt >= 4 * TD + 3 * (0.01 + 1e-4)


def two_machine_case() -> tuple:
    """A 2-machine line with prompts, latency and send times, 25 requests, three lengths: the
    arguments of replay_decode up to its window."""
    nodes = [node(k=2, prompt=0.2), node(k=1)]
    lengths = ([10, 500, 90], [10, 30, 90])
    return nodes, line(nodes, lat=0.01, send=1e-3, prompt_send=0.05), 25, lengths, WINDOW


def test_the_replay_is_deterministic():
    args = (*two_machine_case(), 0.5)
    assert replay_decode(*args) == replay_decode(*args)


def test_seeds_average_their_runs():
    """Several seeds: the mean of the runs of each (tokens and time integrals summed over runs)."""
    args = two_machine_case()
    one = [replay_decode(*args, 0.5, (s,)) for s in (1, 2, 3)]
    both = replay_decode(*args, 0.5, (1, 2, 3))
    assert len({r.throughput for r in one}) > 1  # the seeds do differ
    assert both.throughput == pytest.approx(sum(r.throughput for r in one) / 3, rel=1e-12)
    assert both.in_decode == pytest.approx(sum(r.in_decode for r in one) / 3, rel=1e-12)
    assert both.in_prompt == pytest.approx(sum(r.in_prompt for r in one) / 3, rel=1e-12)


def test_iwrr_sends_long_prompts_to_the_link_of_large_flow():
    """The scheduler's rule: a long prompt takes the 3/4 link, the short ones after it fill the 1/4
    link until its load catches up."""
    arcs = [ReplayArc(-1, 0, 0.75, 0, 0, 0), ReplayArc(-1, 1, 0.25, 0, 0, 0)]
    arcs += [ReplayArc(0, -2, 1.0, 0, 0, 0), ReplayArc(1, -2, 1.0, 0, 0, 0)]
    out = {-1: [(0, 0.75), (1, 0.25)], 0: [(2, 1.0)], 1: [(3, 1.0)]}
    load = [0.0] * 4
    firsts = [iwrr_route(out, arcs, load, w)[0] for w in (1500, 100, 100, 100, 100, 100, 100)]
    assert firsts == [0, 1, 1, 1, 1, 1, 0]
    assert load[0] == pytest.approx(1500 / 0.75 + 100 / 0.75) and load[1] == pytest.approx(5 * 100 / 0.25)


def test_no_complete_route_decodes_nothing():
    nodes = [node(), node()]
    arcs = [ReplayArc(-1, 0, 1.0, 0.0, 0.0, 0.0), ReplayArc(0, 1, 1.0, 0.0, 0.0, 0.0)]  # 1 leads nowhere
    res = replay_decode(nodes, arcs, 10, NEVER, WINDOW)
    assert (res.throughput, res.rtt) == (0.0, 0.0)


def test_a_link_of_no_share_is_never_taken():
    """A second first stage that the routing chain gives no share is never walked: the replay is the
    one without it, token for token (the slow machine would otherwise change the throughput)."""
    nodes = [node(k=1), node(k=9), node(k=2)]
    arcs = [
        ReplayArc(-1, 0, 1.0, 0.01, 1e-3, 0.0),
        ReplayArc(-1, 1, 0.0, 0.01, 1e-3, 0.0),
        ReplayArc(0, 2, 1.0, 0.02, 1e-3, 0.0),
        ReplayArc(1, 2, 1.0, 0.02, 1e-3, 0.0),
        ReplayArc(2, -2, 1.0, 0.01, 1e-3, 0.0),
    ]
    alone = [arcs[0], arcs[2], arcs[4]]
    assert replay_decode(nodes, arcs, 30, NEVER, WINDOW) == replay_decode(nodes, alone, 30, NEVER, WINDOW)


def token_by_token(nodes, arcs, n, window):
    """An independent oracle for the grouped loop: the decode loop of ``n`` requests that never finish
    (no prompts), one event per token and hop (heapq): a token lands at the end of its link, an idle
    machine wakes and walks what has landed (up to Dm), a walk's tokens leave one by one in batch
    order, each queued behind what its link is sending; at the sink a token leaves the source again
    at once. Routes by the scheduler's IWRR rule, as the replay's (every request of one input)."""
    import heapq

    out = {}
    for a, arc in enumerate(arcs):
        if arc.share > 0:
            out.setdefault(arc.src, []).append((a, arc.share))
    load = [0.0] * len(arcs)
    routes = [iwrr_route(out, arcs, load, 100.0) for _ in range(n)]
    hop, free, queue, busy, walking = [0] * n, [0.0] * len(arcs), {}, set(), {}
    ev, seq, done = [], 0, 0

    def push(t, kind, who):
        nonlocal seq
        seq += 1
        heapq.heappush(ev, (t, seq, kind, who))

    def send(x, t):
        a = routes[x][hop[x]]
        f = max(free[a], t) + arcs[a].token_send
        free[a] = f
        push(f + arcs[a].latency, "land", x)

    for x in range(n):
        push(x / n, "send", x)
    while ev:
        t, _, kind, who = heapq.heappop(ev)
        if t >= window[1]:
            break
        if kind == "send":
            send(who, t)
        elif kind == "land":
            u = arcs[routes[who][hop[who]]].dst
            if u == -2:
                done += t >= window[0]
                hop[who] = 0
                send(who, t)
            else:
                queue.setdefault(u, []).append(who)
                if u not in busy:
                    busy.add(u)
                    push(t, "start", u)
        elif kind == "start":
            nd = nodes[who]
            batch, queue[who] = queue[who][: nd.dm], queue[who][nd.dm :]
            walking[who] = batch
            walk = nd.k * nd.dec[min(len(batch), len(nd.dec) - 1)] + len(batch) * nd.copy
            push(t + walk, "end", who)
        else:
            for x in walking.pop(who):
                hop[x] += 1
                send(x, t)
            if queue[who]:
                push(t, "start", who)
            else:
                busy.discard(who)
    return done / (window[1] - window[0])


def test_groups_take_the_steps_of_single_tokens():
    """The replay moves the tokens a walk sends on one link as one group and a walk takes of a group
    what has landed; with requests that never finish and no send time to the sink (where a group
    leaves the source again as a whole) that is exact: the same throughput as a loop of single
    tokens, on a chain with slow links (a platoon lands over several walks: lone heads, partial
    takes) and on routes that split and merge over machines of different speeds, under Dm."""
    dec = tuple(0.004 + 0.0007 * b for b in range(9))
    chain3 = [
        ReplayNode(3.0, dec, 8, 1e-4, 0.0),
        ReplayNode(2.0, dec, 8, 2e-4, 0.0),
        ReplayNode(4.0, dec, 8, 0.0, 0.0),
    ]
    links = [
        ReplayArc(-1, 0, 1.0, 0.013, 0.0031, 0.0),
        ReplayArc(0, 1, 1.0, 0.007, 0.0047, 0.0),
        ReplayArc(1, 2, 1.0, 0.011, 0.0023, 0.0),
        ReplayArc(2, -2, 1.0, 0.017, 0.0, 0.0),
    ]
    split = [ReplayNode(2.0, dec, 8, 1e-4, 0.0), ReplayNode(5.0, dec[:5], 4, 0.0, 0.0), *chain3[1:]]
    fork = [
        ReplayArc(-1, 0, 0.7, 0.013, 0.0031, 0.0),
        ReplayArc(-1, 1, 0.3, 0.019, 0.0013, 0.0),
        ReplayArc(0, 2, 1.0, 0.007, 0.0047, 0.0),
        ReplayArc(1, 2, 1.0, 0.009, 0.0029, 0.0),
        ReplayArc(2, 3, 1.0, 0.011, 0.0023, 0.0),
        ReplayArc(3, -2, 1.0, 0.017, 0.0, 0.0),
    ]
    for nodes, arcs, n in ((chain3, links, 40), (split, fork, 57)):
        res = replay_decode(nodes, arcs, n, ([100], [10**9]), (5.0, 25.0))
        assert res.throughput == pytest.approx(token_by_token(nodes, arcs, n, (5.0, 25.0)), rel=1e-9)
        assert res.throughput > 0 and res.in_decode == pytest.approx(n)


def test_served_estimate_with_the_decode_replay():
    cl = chain()
    lengths = ([100] * 8, [20, 40, 60, 80] * 2)
    wl = WorkloadStats.from_lengths(*lengths)
    tables = [[1e6] * 4 for _ in cl.machines]
    g = gpu(prompt=1e-3)
    gms = {"G": GpuServing(g.K, g.kv, g.dm, np.full(len(g.dec), 0.01), g.prompt)}  # 10 ms per layer

    def model(**kw):
        return ServedModel(
            cl, MODEL, tables, None, "toy", workload=wl, gpu_models=gms, flow_cap=False, run=RUN, **kw
        )

    e = model(decode="replay").estimate([0, 2], [2, 2])
    res = e.detail["decode_replay"]
    assert e.throughput == res.throughput > 0 and e.rtt == pytest.approx(res.in_decode / res.throughput)
    assert model(decode="replay").estimate([0, 2], [2, 2]) == e  # deterministic
    plain = model().estimate([0, 2], [2, 2])
    assert "decode_replay" not in plain.detail and plain.in_flight == e.in_flight


def test_decode_replay_needs_the_lengths_and_a_known_mode():
    cl = chain()
    tables = [[1e6] * 4 for _ in cl.machines]
    gms = {"G": gpu()}
    with pytest.raises(HelixInputError, match="decode replay needs the trace's lengths"):
        ServedModel(cl, MODEL, tables, None, "toy", workload=WL, gpu_models=gms, decode="replay")
    with pytest.raises(HelixInputError, match="decode must be one of"):
        ServedModel(cl, MODEL, tables, None, "toy", workload=WL, gpu_models=gms, decode="sim")


# ---- the compiled decode loop (helix.placement._decode_c, Cython) against the Python one it is built
# from (helix/placement/decode_loop.py, the reference): the same result, bit for bit. The comparisons
# skip where no compiled copy was built (no C compiler); the selection tests run everywhere. The
# validation's layouts are compared in tests/test_served_admission.py (both replays switch together).

needs_compiled = pytest.mark.skipif(
    decode_replay.compiled_core() is None,
    reason="helix.placement._decode_c not built (python setup.py build_ext --inplace)",
)


@st.composite
def staged_decodes(draw):
    """Arguments of :func:`replay_decode` on a random staged layout: 1-4 stages of 1-3 machines (random
    layers, decode tables, batch limits, copy and prompt costs), links from each stage to a random
    subset of the next with random shares (some 0: not on routes), latencies and send times, random
    trace lengths, a random population and, often, surplus prompts (slots beyond the population)."""
    n_st = draw(st.integers(1, 4))
    stages, nodes = [], []
    for _ in range(n_st):
        m = draw(st.integers(1, 3))
        stages.append(list(range(len(nodes), len(nodes) + m)))
        for _ in range(m):
            dm = draw(st.integers(1, 8))
            base = draw(st.floats(1e-3, 0.05))
            grow = draw(st.floats(0.0, 0.02))
            dec = tuple(base + grow * b for b in range(dm + 1))
            nodes.append(
                ReplayNode(
                    float(draw(st.integers(1, 6))),
                    dec,
                    dm,
                    draw(st.floats(0.0, 1e-3)),
                    draw(st.floats(0.0, 0.3)),
                )
            )
    cost = st.tuples(st.floats(0.0, 0.05), st.floats(0.0, 0.01), st.floats(0.0, 0.5))
    share = st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0, 3.0])

    def arc(a, b, first):
        lat, tok, pr = draw(cost)
        return ReplayArc(a, b, 1.0 if first else draw(share), lat, tok, pr)

    arcs = [arc(-1, u, q == 0) for q, u in enumerate(stages[0])]
    for a_st, b_st in zip(stages, stages[1:]):
        for a in a_st:
            dst = draw(st.lists(st.sampled_from(b_st), min_size=1, max_size=len(b_st), unique=True))
            arcs += [arc(a, b, q == 0) for q, b in enumerate(sorted(dst))]
    arcs += [arc(u, -2, True) for u in stages[-1]]
    pairs = draw(st.lists(st.tuples(st.integers(1, 3000), st.integers(1, 200)), min_size=1, max_size=30))
    lengths = ([p[0] for p in pairs], [p[1] for p in pairs])
    extra = draw(st.sampled_from([0.0, 0.0, 2.0, 20.0]))
    seeds = tuple(draw(st.lists(st.integers(0, 3), min_size=1, max_size=2)))
    return nodes, arcs, draw(st.integers(1, 40)), lengths, (2.0, 20.0), extra, seeds


@needs_compiled
@settings(max_examples=40, deadline=None)
@given(args=staged_decodes())
def test_compiled_decode_loop_is_the_python_loop_on_random_layouts(args):
    outs = []
    with pytest.MonkeyPatch.context() as mp:
        for core in ("python", "compiled"):
            mp.setenv("HELIX_REPLAY_CORE", core)
            assert decode_replay.decode_core() is (
                decode_replay.py_loop if core == "python" else decode_replay.compiled_core()
            )
            outs.append(replay_decode(*args))
    assert outs[0] == outs[1]


def test_a_walk_of_many_prompts_regathers_their_link(monkeypatch):
    """One-token requests on one machine: a walk's batch holds several prompts, each sending ahead
    of it the tokens gathered on its link, which then gathers again; the loop keeps room for a link
    once per prompt (it had room for each link once: the Python loop raised IndexError, the compiled
    one wrote past its array). Both loops, the same numbers."""
    nodes = [ReplayNode(1.0, (0.05, 0.065, 0.08, 0.095, 0.11), 4, 0.0, 0.0)]
    arcs = [ReplayArc(-1, 0, 1.0, 0.0, 0.0, 0.0), ReplayArc(0, -2, 1.0, 0.0, 0.0, 0.0)]
    outs = []
    for core in ("python", "compiled") if decode_replay.compiled_core() else ("python",):
        monkeypatch.setenv("HELIX_REPLAY_CORE", core)
        outs.append(replay_decode(nodes, arcs, 16, ([1], [1]), (2.0, 20.0)))
    assert outs[0].throughput > 0 and all(o == outs[0] for o in outs)


def test_a_stale_decode_build_is_never_used(monkeypatch):
    """The compiled copy carries the hash of the sources it was built from; another hash: Python."""
    monkeypatch.setattr(decode_replay, "loop_source_hash", lambda: "0" * 64)
    monkeypatch.delenv("HELIX_REPLAY_CORE", raising=False)
    assert decode_replay.compiled_core() is None
    assert decode_replay.decode_core() is decode_replay.py_loop
    monkeypatch.setenv("HELIX_REPLAY_CORE", "compiled")
    with pytest.raises(HelixRunError, match="missing or stale"):
        decode_replay.decode_core()
    monkeypatch.setenv("HELIX_REPLAY_CORE", "python")
    assert decode_replay.decode_core() is decode_replay.py_loop


@needs_compiled
def test_compiled_decode_loop_is_the_python_loop_when_surplus_prompts_pile_up(monkeypatch):
    """Surplus prompts at 40/s on a link that sends one per 0.1 s: hundreds in flight at once, so the
    loop grows its slots and heap several times; both loops still agree."""
    nodes = [node(k=2, dm=4, prompt=0.01), node(k=3, dm=4, prompt=0.02)]
    arcs = line(nodes, lat=0.01, send=1e-3, prompt_send=0.1)
    outs = []
    for core in ("python", "compiled"):
        monkeypatch.setenv("HELIX_REPLAY_CORE", core)
        outs.append(replay_decode(nodes, arcs, 8, ([100, 900, 300], [1, 2, 3]), (2.0, 30.0), 40.0))
    assert outs[0] == outs[1] and outs[0].throughput > 0 and outs[0].in_prompt > 0
