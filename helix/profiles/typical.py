"""Typical token throughput tau_T(k) of a GPU type holding k layers, inside a given machine mix.

This is the per-node capacity c(k) of the placement MILP (docs/design/placement.md s1) and the flow-graph node
capacity of the Helix scheduler (docs/design/simulator.md s2.6). It is an estimate, not a measurement: a
typical request (750 prompt + 240 decode tokens) fills 30 % of the node's KV cache, scaled by the share of a
request's round trip spent on this node ("workload ratio"); tau is the tokens in such a batch over the
time k layers need for it. The ratio depends on the average per-layer speed of the *whole mix*, so the
same GPU type gets a different table in a different cluster, and tau(k) need not be monotone in k.

Everything here follows the reference's arithmetic operation by operation (integer truncation,
Python's half-to-even ``round``), because the paper's LP coefficients are the test vectors.
"""

from __future__ import annotations

from typing import Mapping

from helix.errors import HelixInputError
from helix.profiles.entry import ModelProfiles
from helix.profiles.limits import VLLM_BLOCK_SIZE

AVG_INPUT_LEN = 750  # prompt tokens of the typical request
AVG_OUTPUT_LEN = 240  # decode tokens of the typical request
KV_CACHE_HWM = 0.3  # share of the KV cache the typical batch may fill
ITERATIONS = 10  # fixed-point updates of the normalised performance
TABLE_B_FACTOR = 1.2  # use table B when the mix's table-A layers cannot hold the model 1.2 times


def _mix(mix: Mapping[str, int]) -> dict[str, int]:
    present = {gpu: int(n) for gpu, n in mix.items() if int(n) > 0}
    if any(int(n) < 0 for n in mix.values()):
        raise HelixInputError(None, "mix", "machine counts must be >= 0", dict(mix))
    if not present:
        raise HelixInputError(None, "mix", "the machine mix is empty", dict(mix))
    return present


def typical_layers(profiles: ModelProfiles, mix: Mapping[str, int]) -> dict[str, int]:
    """Step 1 of s2.6: table A, or table B when the mix holds fewer than 1.2 L table-A layers."""
    present = _mix(mix)
    seeds = profiles.seeds(present)
    total = sum(n * seeds.layers_a[g] for g, n in present.items())
    table = seeds.layers_b if total < TABLE_B_FACTOR * profiles.num_layers else seeds.layers_a
    return {g: int(table[g]) for g in present}


class TypicalThroughput:
    """tau_T(k) for every type of one (model, mix): the normalised performance is iterated once."""

    def __init__(self, profiles: ModelProfiles, mix: Mapping[str, int]) -> None:
        self.model = profiles.model
        self.mix = _mix(mix)
        self.num_layers = int(profiles.num_layers)
        self.typ = typical_layers(profiles, self.mix)
        self._limits = {g: profiles.limits(g) for g in self.mix}
        self._profiles = {g: profiles.profile(g) for g in self.mix}
        seeds = profiles.seeds(self.mix)
        perf = {g: seeds.performance_seed[g] for g in self.mix}
        for _ in range(ITERATIONS):  # simultaneous updates: each from the previous vector
            perf = {g: self._tau(g, self.typ[g], perf) * self.typ[g] for g in self.mix}
        self.performance = perf

    def _tau(self, gpu: str, k: int, perf: Mapping[str, float]) -> float:
        L = self.num_layers
        if not 1 <= k < L + 1:
            raise HelixInputError(None, "k", f"layer count must be in 1..{L}", k)
        layer_time = {g: 1 / p for g, p in perf.items()}
        weight = sum(self.mix[g] * self.typ[g] for g in self.mix)
        avg = sum(self.mix[g] * self.typ[g] * layer_time[g] for g in self.mix) / weight
        lt = layer_time[gpu]
        ratio = k * lt / ((L - k) * avg + k * lt)

        cap = VLLM_BLOCK_SIZE * self._limits[gpu].block_count(k) * k
        entries = int(KV_CACHE_HWM * cap / k)
        per_req = AVG_INPUT_LEN + AVG_OUTPUT_LEN
        req = entries / per_req * ratio / AVG_OUTPUT_LEN
        ptok = round(req * AVG_INPUT_LEN)
        dtok = round(entries / per_req * ratio)
        if req > 1:
            req, ptok, dtok = 1, AVG_INPUT_LEN, AVG_OUTPUT_LEN

        prof = self._profiles[gpu]
        if req >= 1:
            return (ptok + dtok) / (k * (prof.prompt_time(ptok) + prof.decode_time(dtok)))
        r = 1 / req
        return r * (ptok + dtok) / (k * (prof.prompt_time(int(ptok * r)) + r * prof.decode_time(dtok)))

    def tau(self, gpu: str, k: int) -> float:
        """Tokens/s of ``gpu`` holding ``k`` layers (1 <= k <= K)."""
        if gpu not in self.mix:
            raise HelixInputError(None, "gpu", f"GPU type not in the mix {sorted(self.mix)}", gpu)
        self._limits[gpu].block_count(k)  # range check against K
        return self._tau(gpu, k, self.performance)

    def table(self, gpu: str, nic_cap: float | None = None) -> list[float]:
        """c(k) for k = 1..K: tau(k), capped at ``nic_cap`` tokens/s when given."""
        if gpu not in self._limits:
            raise HelixInputError(None, "gpu", f"GPU type not in the mix {sorted(self.mix)}", gpu)
        K = self._limits[gpu].K
        values = [self.tau(gpu, k) for k in range(1, K + 1)]
        if nic_cap is not None:
            values = [min(v, float(nic_cap)) for v in values]
        return values


def nic_token_cap(nic_in: float, nic_out: float, activation_bytes: float) -> float:
    """The NIC term of docs/design/placement.md s1: min(nic_in, nic_out) / activation_size, in tokens/s."""
    return min(nic_in, nic_out) / activation_bytes


def node_capacity_table(
    profiles: ModelProfiles, gpu: str, mix: Mapping[str, int], nic_cap: float | None = None
) -> list[float]:
    """c(k), index k-1 = tokens/s of ``gpu`` holding k layers inside cluster ``mix``.

    ``nic_cap`` is in tokens/s (see ``nic_token_cap``); None means uncapped (= tau).
    """
    return TypicalThroughput(profiles, mix).table(gpu, nic_cap)


def capacity_tables(
    profiles: ModelProfiles, mix: Mapping[str, int], nic_cap: float | None = None
) -> dict[str, list[float]]:
    """c(k) tables of every GPU type in ``mix`` (the performance fixed point is computed once)."""
    tt = TypicalThroughput(profiles, mix)
    return {gpu: tt.table(gpu, nic_cap) for gpu in tt.mix}
