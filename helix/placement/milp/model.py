"""The placement MILP of docs/design/placement.md s2 as a backend-neutral sparse model.

Why backend-neutral: the same rows go to HiGHS, CP-SAT and Gurobi, and the same object reports the
model size for Table 8 and writes ``model.lp``/``model.mps``. Variables per machine i: start s_i
(integer), hold b_ik (binary, k = 1..K_i); per directed arc a: flow f_a >= 0 and switch d_a (binary).
Rows (the authors' "remove_redundant" variant, docs/design/placement.md trap 4): one size per machine;
e_i <= L; conservation; inflow <= sum_k c_i(k) b_ik; source arc only if s_i = 0; sink arc only if e_i = L;
compute arc (i, j) only if e_i = s_j (two big-M rows); f_a <= u_a d_a. Objective: max flow out of the
source.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from helix.cluster import SINK, SOURCE, Cluster

INF = float("inf")


@dataclass
class Milp:
    """max c.x  s.t.  row_lo <= A x <= row_hi, col_lo <= x <= col_hi, x_j integer where integrality."""

    c: np.ndarray
    A: sp.csr_matrix
    row_lo: np.ndarray
    row_hi: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray
    integrality: np.ndarray  # 0 continuous, 1 integer
    col_names: list[str]
    row_names: list[str]
    # decoding helpers (per-node formulation)
    start_col: list[int] = field(default_factory=list)
    hold_cols: list[list[int]] = field(default_factory=list)  # [i][k-1]
    arcs: list[tuple[int, int]] = field(default_factory=list)  # (-1 source | i, -2 sink | j)
    flow_col: list[int] = field(default_factory=list)
    switch_col: list[int] = field(default_factory=list)

    def size(self) -> dict:
        return {
            "rows": int(self.A.shape[0]),
            "cols": int(self.A.shape[1]),
            "nonzeros": int(self.A.nnz),
            "integer_cols": int(self.integrality.sum()),
        }


class _Builder:
    def __init__(self):
        self.c, self.lo, self.hi, self.integ, self.names = [], [], [], [], []
        self.rows, self.cols, self.vals = [], [], []
        self.rlo, self.rhi, self.rnames = [], [], []

    def var(self, name, lo=0.0, hi=INF, integer=False, obj=0.0) -> int:
        self.names.append(name)
        self.lo.append(lo)
        self.hi.append(hi)
        self.integ.append(1 if integer else 0)
        self.c.append(obj)
        return len(self.names) - 1

    def row(self, name, terms, lo=-INF, hi=INF) -> None:
        r = len(self.rnames)
        for j, v in terms:
            if v != 0:
                self.rows.append(r)
                self.cols.append(j)
                self.vals.append(float(v))
        self.rnames.append(name)
        self.rlo.append(lo)
        self.rhi.append(hi)

    def build(self, **extra) -> Milp:
        A = sp.csr_matrix((self.vals, (self.rows, self.cols)), shape=(len(self.rnames), len(self.names)))
        A.sum_duplicates()
        return Milp(
            c=np.array(self.c),
            A=A,
            row_lo=np.array(self.rlo),
            row_hi=np.array(self.rhi),
            col_lo=np.array(self.lo),
            col_hi=np.array(self.hi),
            integrality=np.array(self.integ, dtype=np.int8),
            col_names=self.names,
            row_names=self.rnames,
            **extra,
        )


def directed_arcs(cluster: Cluster) -> list[tuple[int, int]]:
    """Arcs of the MILP: (source, i), (i, sink), both directions of each compute link."""
    idx = cluster.index()
    arcs = []
    for l in cluster.links:
        if SOURCE in (l.a, l.b):
            arcs.append((-1, idx[l.b if l.a == SOURCE else l.a]))
        elif SINK in (l.a, l.b):
            arcs.append((idx[l.b if l.a == SINK else l.a], -2))
        else:
            i, j = idx[l.a], idx[l.b]
            arcs.extend([(i, j), (j, i)])
    return sorted(arcs, key=lambda a: (a[0] if a[0] >= 0 else -1, a[1] if a[1] >= 0 else 10**9))


def build_per_node(cluster: Cluster, tables: list[list[float]], L: int, arc_capacity) -> Milp:
    """The per-machine model of s2; ``arc_capacity(i, j)`` gives u_a in tokens/s (-1 source, -2 sink)."""
    b = _Builder()
    n = cluster.n
    start = [b.var(f"start_{i}", 0.0, INF, integer=True) for i in range(n)]
    hold = [
        [b.var(f"hold_{i}_{k}", 0.0, 1.0, integer=True) for k in range(1, len(tables[i]) + 1)]
        for i in range(n)
    ]
    arcs = directed_arcs(cluster)

    def nm(x):
        return "source" if x == -1 else "sink" if x == -2 else str(x)

    flow = [b.var(f"flow_{nm(u)}_{nm(v)}", 0.0, INF, obj=1.0 if u == -1 else 0.0) for u, v in arcs]
    switch = [b.var(f"switch_{nm(u)}_{nm(v)}", 0.0, 1.0, integer=True) for u, v in arcs]
    into: list[list[int]] = [[] for _ in range(n)]
    out: list[list[int]] = [[] for _ in range(n)]
    for a, (u, v) in enumerate(arcs):
        if v >= 0:
            into[v].append(a)
        if u >= 0:
            out[u].append(a)
    for i in range(n):
        ks = list(enumerate(hold[i], start=1))
        b.row(f"hold_constraint_{i}", [(h, 1.0) for _, h in ks], 1.0, 1.0)
        b.row(f"end_constraint_{i}", [(start[i], 1.0)] + [(h, k) for k, h in ks], hi=float(L))
        b.row(
            f"node_flow_constraint_{i}",
            [(flow[a], 1.0) for a in into[i]] + [(flow[a], -1.0) for a in out[i]],
            0.0,
            0.0,
        )
        b.row(
            f"node_throughput_constraint_{i}",
            [(flow[a], 1.0) for a in into[i]] + [(h, -tables[i][k - 1]) for k, h in ks],
            hi=0.0,
        )
    for a, (u, v) in enumerate(arcs):
        name = f"{nm(u)}_{nm(v)}"
        if u == -1:  # s_v <= L (1 - d)
            b.row(f"edge_disable_constr_{name}", [(start[v], 1.0), (switch[a], float(L))], hi=float(L))
        elif v == -2:  # L d <= e_u
            b.row(
                f"edge_disable_constr_{name}",
                [(switch[a], float(L)), (start[u], -1.0)] + [(h, -k) for k, h in enumerate(hold[u], 1)],
                hi=0.0,
            )
        else:  # L d <= L + (s_v - e_u) and L d <= L - (s_v - e_u)
            e_u = [(start[u], 1.0)] + [(h, float(k)) for k, h in enumerate(hold[u], 1)]
            b.row(
                f"edge_disable_constr1_{name}", [(switch[a], float(L)), (start[v], -1.0)] + e_u, hi=float(L)
            )
            b.row(
                f"edge_disable_constr2_{name}",
                [(switch[a], float(L)), (start[v], 1.0)] + [(j, -x) for j, x in e_u],
                hi=float(L),
            )
        b.row(f"edge_flow_constr_{name}", [(flow[a], 1.0), (switch[a], -arc_capacity(u, v))], hi=0.0)
    return b.build(start_col=start, hold_cols=hold, arcs=arcs, flow_col=flow, switch_col=switch)


def start_vector(
    milp: Milp, starts: list[int], sizes: list[int], arc_flows: dict[tuple[int, int], float], L: int
) -> np.ndarray:
    """A complete MIP start: layout, the max-flow's arc flows, and every switch the layout allows.

    Machines the layout leaves unused get a 1-layer range at layer 0 with no flow (the MILP has no
    "unused" state).
    """
    x = np.zeros(len(milp.col_names))
    st, sz = list(starts), list(sizes)
    for i in range(len(st)):
        if sz[i] <= 0:
            st[i], sz[i] = 0, 1
        x[milp.start_col[i]] = st[i]
        x[milp.hold_cols[i][sz[i] - 1]] = 1.0
    for a, (u, v) in enumerate(milp.arcs):
        f = arc_flows.get((u, v), 0.0)
        if u == -1:
            ok = st[v] == 0
        elif v == -2:
            ok = st[u] + sz[u] == L
        else:
            ok = st[u] + sz[u] == st[v]
        x[milp.switch_col[a]] = 1.0 if ok else 0.0
        x[milp.flow_col[a]] = f if ok else 0.0
    return x


def decode(milp: Milp, x: np.ndarray) -> tuple[list[int], list[int]]:
    """(starts, sizes) of a per-node solution vector."""
    starts, sizes = [], []
    for i, s in enumerate(milp.start_col):
        starts.append(int(round(x[s])))
        ks = [k for k, h in enumerate(milp.hold_cols[i], start=1) if x[h] > 0.5]
        sizes.append(ks[0] if ks else 0)
    return starts, sizes
