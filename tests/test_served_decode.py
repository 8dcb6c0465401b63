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
from test_served import MODEL, WL, chain, gpu

from helix.errors import HelixInputError
from helix.placement.admission import LAUNCH_DELAY
from helix.placement.decode_replay import ReplayArc, ReplayNode, iwrr_route, replay_decode
from helix.placement.served import GpuServing, ServedModel, WorkloadStats

TD = 0.05  # s per layer of a decode walk, any batch
NEVER = ([100], [10**9])  # outputs that never finish inside the window: a fixed population decoding
WINDOW = (10.0, 110.0)
RUN = (20, 10.0, 40.0)  # a short offline run for the estimate: its window is the replay's


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


def test_the_replay_is_deterministic():
    nodes = [node(k=2, prompt=0.2), node(k=1)]
    args = (
        nodes,
        line(nodes, lat=0.01, send=1e-3, prompt_send=0.05),
        25,
        ([10, 500, 90], [10, 30, 90]),
        WINDOW,
        0.5,
    )
    assert replay_decode(*args) == replay_decode(*args)


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
