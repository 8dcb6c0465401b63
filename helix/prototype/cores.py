"""Work-conserving torch threads: a co-located worker uses a second core only while the others idle.

Why: two whole-model replicas on the 2-core development machine run one torch thread each, and each
is idle a fifth of the time or more (all its requests between their finish and their relaunch), so
one core often sits idle while the other replica steps alone; two threads per replica all the time
lose on a quiet machine, because while both replicas are busy each one's helper thread takes the core
the other needs (docs/prototype-performance.md). So the workers that ``helix.prototype.forkserver``
forks share a small board in shared memory (an anonymous shared mapping made before the fork), one
byte per worker: 1 while it is serving (from the moment its poll returns until it blocks again), 0
while it waits for messages. Before each layer (``TorchEngine.on_layer``) a worker picks its torch
intra-op threads: ``lent`` while every other worker on the board is idle, ``base`` otherwise, so a
step takes the idle core from its next layer on and gives it back one layer after the other worker
wakes. ``torch.set_num_threads`` costs ~0.15 us, reading the board less; a helper thread that is no
longer used spins for ``GOMP_SPINCOUNT`` (``ProtoRunSpec.omp_spin_count``) and then sleeps.

Workers not forked from one server (Ray, GPUs, ``share_weights: false``) have no board and keep
``threads`` (``board()`` is None there).
"""

from __future__ import annotations

import mmap

_BOARD: "CoreBoard | None" = None


class CoreBoard:
    """One byte per co-located worker in a shared anonymous mapping (made before ``fork``: the
    children's writes are seen by each other). ``slot`` is this process's byte (None in the server)."""

    def __init__(self, n: int):
        if n < 1:
            raise ValueError("a core board needs at least one slot")
        self.n = n
        self.buf = mmap.mmap(-1, n)  # MAP_SHARED | MAP_ANONYMOUS: shared with the forked children
        self.slot: int | None = None

    def bind(self, slot: int) -> "CoreBoard":
        if not 0 <= slot < self.n:
            raise ValueError(f"slot {slot} not on a board of {self.n}")
        self.slot = slot
        self._others = [i for i in range(self.n) if i != slot]
        return self

    def set_busy(self, busy: bool) -> None:
        self.buf[self.slot] = 1 if busy else 0

    def others_busy(self) -> int:
        """How many of the other workers are serving now."""
        buf = self.buf
        return sum(buf[i] for i in self._others)

    def states(self) -> list[int]:
        return list(self.buf[: self.n])


def install(board: CoreBoard | None) -> None:
    """Make ``board`` (bound to this process's slot) the one ``board()`` returns (the fork server
    does this in each child before it becomes a worker)."""
    global _BOARD
    _BOARD = board


def board() -> CoreBoard | None:
    """This worker's board, or None where it was not forked from a server with one."""
    return _BOARD if _BOARD is not None and _BOARD.slot is not None else None


class ThreadLender:
    """Picks the torch threads of the next layer from the board (``__call__``, the engine's
    ``on_layer`` hook) and marks this worker busy or idle (``set_busy``). Counts the layers run
    with the lent threads, for the worker's reports."""

    def __init__(self, board: CoreBoard, base: int, lent: int):
        import torch

        self.board, self.base, self.lent = board, int(base), int(lent)
        self._set = torch.set_num_threads
        self.current = torch.get_num_threads()
        self.layers = 0
        self.lent_layers = 0
        self.switches = 0

    def set_busy(self, busy: bool) -> None:
        self.board.set_busy(busy)

    def __call__(self) -> None:
        n = self.base if self.board.others_busy() else self.lent
        self.layers += 1
        if n == self.lent:
            self.lent_layers += 1
        if n != self.current:
            self._set(n)
            self.current = n
            self.switches += 1

    def perf(self) -> dict:
        return {
            "lent_threads": self.lent,
            "lent_layer_share": round(self.lent_layers / self.layers, 3) if self.layers else 0.0,
            "thread_switches": self.switches,
        }
