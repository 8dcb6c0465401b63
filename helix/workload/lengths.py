"""Prompt/output lengths: index pairs drawn uniformly from the Azure Conversation trace (s3.1)."""

from __future__ import annotations

import random
from typing import Sequence

from helix.errors import HelixInputError


class LengthSampler:
    """Draw ``(input, output)`` with one ``rng.randint(0, n-1)`` per sample, as the paper does."""

    def __init__(
        self, inputs: Sequence[int], outputs: Sequence[int], rng: random.Random, source: str = "lengths"
    ):
        if len(inputs) != len(outputs) or not len(inputs):
            raise HelixInputError(
                source,
                "input/output",
                "length lists must be non-empty and paired",
                (len(inputs), len(outputs)),
            )
        self.pairs = [(int(a), int(b)) for a, b in zip(inputs, outputs)]
        if any(a <= 0 or b <= 0 for a, b in self.pairs):
            raise HelixInputError(source, "input/output", "lengths must be positive")
        self.rng = rng
        self._hi = len(self.pairs) - 1

    @property
    def mean_total(self) -> float:
        """Mean input + mean output tokens of the trace (995.53 for Azure Conversation)."""
        n = len(self.pairs)
        return sum(a for a, _ in self.pairs) / n + sum(b for _, b in self.pairs) / n

    def sample(self) -> tuple[int, int]:
        return self.pairs[self.rng.randint(0, self._hi)]
