"""Capacity tables c_i(k) read from the coefficients of the authors' committed ``ilp_model.lp``.

Why: the paper's objectives (1289.56, 1212.18, 4137.55, 286.59) are max-flows under the exact
tables the authors' model-manager computed. Our own tables come from
``helix.profiles.typical``; these are the ground truth that ``paper-<method>`` checks and tests
compare against (docs/design/placement.md section 1). Rows ``node_throughput_constraint_i`` read
``flow_in - sum_k c_i(k) hold_i_k <= 0``.
"""

from __future__ import annotations

import re
from pathlib import Path

from helix.errors import HelixInputError

_TERM = re.compile(r"([+-])\s*([0-9.eE+-]+)?\s*hold_(\d+)_(\d+)")


def lp_capacity_tables(path: str | Path) -> dict[int, list[float]]:
    """Node index -> [c(1), ..., c(K)] (tokens/s) from a Gurobi-written LP file."""
    path = Path(path)
    if not path.is_file():
        raise HelixInputError(path, None, "LP file not found")
    text = path.read_text()
    tables: dict[int, dict[int, float]] = {}
    for block in re.finditer(r"node_throughput_constraint_(\d+):(.*?)(?:<=|>=|=)", text, re.S):
        node = int(block.group(1))
        for sign, coef, i, k in _TERM.findall(block.group(2)):
            value = float(coef) if coef else 1.0
            tables.setdefault(node, {})[int(k)] = value if sign == "-" else -value
    if not tables:
        raise HelixInputError(path, "node_throughput_constraint_*", "no node capacity rows found")
    return {i: [t[k] for k in sorted(t)] for i, t in sorted(tables.items())}


def lp_tables_by_machine(path: str | Path, prefix: str = "n") -> dict[str, list[float]]:
    """Same tables keyed by the project's machine names (``n{i}``)."""
    return {f"{prefix}{i}": t for i, t in lp_capacity_tables(path).items()}
