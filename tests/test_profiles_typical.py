"""Typical throughput c(k): the docs/design/placement.md s1 test vectors
(coefficients of the paper's LP files).

The vectors below were extracted from the ``node_throughput_constraint_*`` rows of the authors'
committed LP files (docs/design/placement.md s1); the second group of tests re-reads those LP files from the
artifact and compares every node's row at full precision.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from helix.errors import HelixInputError
from helix.profiles.entry import paper_profiles
from helix.profiles.store import ProfileStore
from helix.profiles.typical import (
    TypicalThroughput,
    capacity_tables,
    nic_token_cap,
    node_capacity_table,
    typical_layers,
)

MIX24 = {"A100": 4, "L4": 8, "T4": 12}
MIX42 = {"A100": 4, "V100": 6, "L4": 8, "L4x2": 4, "T4": 10, "T4x2": 6, "T4x4": 4}
MIX10 = {"T4": 6, "L4": 4}


def _v(text: str) -> list[float]:
    return [float(x) for x in text.split()]


EXPECTED_70B_24 = {
    "A100": _v(
        "23833.87 11384.25 7201.41 5264.62 4096.65 3124.14 2595.68 2045.64 1754.38 1392.63 1212.18 952.11"
    ),
    "L4": _v("7557.86  3625.71 2171.88 1476.08 1017.57  747.79  531.70"),
    "T4": _v("5709.21  2434.37 1347.87  757.85"),
}
EXPECTED_70B_42 = {
    "A100": _v(
        "31327.49 15363.28 9918.07 7039.20 5430.02 4251.28 3405.79 2847.02 2339.85 1931.11 1652.86 1363.71"
    ),
    "V100": _v("14014.13 5890.15 3342.48 1982.19"),
    "L4": _v("9111.48 4239.10 2563.31 1812.26 1285.17 916.81 655.73"),
    "L4x2": _v(
        "17269.02 8426.92 5441.14 3929.42 3061.02 2461.63 2030.42 1712.86 1450.18 1290.53 1107.22 "
        "964.26 838.51 727.69"
    ),
    "T4": _v("6179.85 2911.52 1622.37 927.62"),
    "T4x2": _v("12194.22 5813.74 3663.69 2706.10 2121.35 1626.96 1271.80 1021.91 783.45"),
    "T4x4": _v(
        "20503.53 10085.51 6640.71 4892.24 3841.24 3136.81 2651.22 2268.51 1981.14 1738.63 1548.73 "
        "1388.97 1281.52 1180.02 1071.19 973.64 872.89 781.27"
    ),
}
EXPECTED_30B_10 = {
    "T4": _v("1987.97 901.94 539.04 404.26 285.34 331.34 231.06"),
    "L4": _v("2485.54 1145.04 763.52 480.99 384.90 286.59 245.73 189.11 168.17 212.64 193.50"),
}


@pytest.fixture(scope="module")
def store(artifact_dir) -> ProfileStore:
    return ProfileStore.from_artifact(artifact_dir)


def _assert_tables(got: dict[str, list[float]], expected: dict[str, list[float]]) -> None:
    assert set(got) == set(expected)
    for gpu, want in expected.items():
        assert len(got[gpu]) == len(want), gpu
        for k, (g, w) in enumerate(zip(got[gpu], want), start=1):
            assert abs(g - w) <= 0.005 + 1e-9, f"{gpu} k={k}: {g:.4f} != {w}"


@pytest.mark.parametrize(
    "model,layers,mix,expected",
    [
        ("llama70b", 80, MIX24, EXPECTED_70B_24),
        ("llama70b", 80, MIX42, EXPECTED_70B_42),
        ("llama30b", 60, MIX10, EXPECTED_30B_10),
    ],
    ids=["70b-mix24", "70b-mix42", "30b-cluster10"],
)
def test_capacity_tables_match_lp_vectors(store, model, layers, mix, expected):
    _assert_tables(capacity_tables(paper_profiles(model, store), mix), expected)


@pytest.mark.parametrize(
    "gpu,count,k,want",
    [("A100", 4, 15, 1044.53), ("L4", 8, 7, 275.02), ("L4", 8, 8, 214.98), ("T4", 12, 5, 397.69)],
)
def test_30b_single_type_values(store, gpu, count, k, want):
    table = node_capacity_table(paper_profiles("llama30b", store), gpu, {gpu: count})
    assert abs(table[k - 1] - want) <= 0.005 + 1e-9


def test_node_capacity_table_equals_capacity_tables(store):
    tables = capacity_tables(paper_profiles("llama70b", store), MIX24)
    for gpu in MIX24:
        assert node_capacity_table(paper_profiles("llama70b", store), gpu, MIX24) == tables[gpu]


def test_tau_depends_on_mix_and_is_not_monotone_for_30b(store):
    a = node_capacity_table(paper_profiles("llama70b", store), "A100", MIX24)
    b = node_capacity_table(paper_profiles("llama70b", store), "A100", MIX42)
    assert a != b
    t4 = node_capacity_table(paper_profiles("llama30b", store), "T4", {"T4": 12})
    assert t4[4] > t4[3]  # tau(5) > tau(4), docs/design/placement.md s1


def test_typical_layers_switch_to_table_b(store):
    # 24 machines hold 4*8 + 8*4 + 12*3 = 100 table-A layers >= 1.2 * 80: table A
    assert typical_layers(paper_profiles("llama70b", store), MIX24) == {"A100": 8, "L4": 4, "T4": 3}
    # one L4 type-A layer count 4 < 96: table B (= K)
    assert typical_layers(paper_profiles("llama70b", store), {"L4": 1}) == {"L4": 7}


def test_nic_cap(store):
    cap = nic_token_cap(10e9, 10e9, 16384)
    assert cap == pytest.approx(610351.5625)
    capped = node_capacity_table(paper_profiles("llama70b", store), "A100", MIX24, nic_cap=5000.0)
    raw = node_capacity_table(paper_profiles("llama70b", store), "A100", MIX24)
    assert capped == [min(v, 5000.0) for v in raw]
    assert node_capacity_table(paper_profiles("llama70b", store), "A100", MIX24, nic_cap=cap) == raw


def test_bad_inputs(store):
    with pytest.raises(HelixInputError, match="Z9000"):
        node_capacity_table(paper_profiles("llama70b", store), "Z9000", {"Z9000": 2})
    with pytest.raises(HelixInputError, match="empty"):
        capacity_tables(paper_profiles("llama70b", store), {"A100": 0})
    tt = TypicalThroughput(paper_profiles("llama70b", store), MIX24)
    with pytest.raises(HelixInputError, match="K=4"):
        tt.tau("T4", 5)
    with pytest.raises(HelixInputError, match="not in the mix"):
        tt.tau("V100", 1)


# ---- full-precision check against every node row of the authors' LP files -----------------------

_ROW = re.compile(r"node_throughput_constraint_(\d+):(.*?)<=", re.S)
_TERM = re.compile(r"-\s*([0-9.eE+-]+)\s+hold_(\d+)_(\d+)")

LP_FILES = [
    ("single_cluster/layout_llama70b/ilp/ilp_model.lp", "llama70b", 80, MIX24),
    ("distributed_clusters/layout_llama70b/ilp/ilp_model.lp", "llama70b", 80, MIX24),
    ("high_heterogeneity/layout_llama70b/ilp/ilp_model.lp", "llama70b", 80, MIX42),
    ("ablation/layouts/quality/ilp_model.lp", "llama30b", 60, MIX10),
    ("single_cluster/layout_llama30b/ilp/a100/ilp_model.lp", "llama30b", 60, {"A100": 4}),
    ("single_cluster/layout_llama30b/ilp/l4/ilp_model.lp", "llama30b", 60, {"L4": 8}),
    ("single_cluster/layout_llama30b/ilp/t4/ilp_model.lp", "llama30b", 60, {"T4": 12}),
]


def _lp_node_rows(path) -> dict[int, list[float]]:
    rows = {}
    for m in _ROW.finditer(path.read_text()):
        node = int(m.group(1))
        terms = sorted((int(k), float(c)) for c, i, k in _TERM.findall(m.group(2)) if int(i) == node)
        assert [k for k, _ in terms] == list(range(1, len(terms) + 1))
        rows[node] = [c for _, c in terms]
    return rows


@pytest.mark.parametrize(
    "rel,model,layers,mix", LP_FILES, ids=[p[0].rsplit("/ilp_model", 1)[0] for p in LP_FILES]
)
def test_every_lp_row_is_our_table(artifact_dir, store, rel, model, layers, mix):
    rows = _lp_node_rows(artifact_dir / "artifact_evaluation" / rel)
    assert len(rows) == sum(mix.values())
    tables = capacity_tables(paper_profiles(model, store), mix)
    matched = Counter()
    for node, coeffs in rows.items():
        hits = [
            g
            for g, t in tables.items()
            if len(t) == len(coeffs) and all(abs(a - b) <= 1e-9 * b for a, b in zip(t, coeffs))
        ]
        assert len(hits) == 1, f"node {node}: no table of {sorted(tables)} equals its LP row"
        matched[hits[0]] += 1
    assert dict(matched) == mix
