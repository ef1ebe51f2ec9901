"""④ The pool's notice board: one small actor that replicas and the ingress share (cancels, who
decodes what, batch sizes)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import ray

__all__ = ["BOARD_NAME", "NAMESPACE", "PoolBoard", "board"]

BOARD_NAME = "sidecar-pool-board"
NAMESPACE = "serve"


@ray.remote(num_cpus=0)
class PoolBoard:
    """Cancelled tickets, the replica decoding each ticket, and how big each batch was."""

    def __init__(self) -> None:
        self._cancelled: set[str] = set()
        self._active: dict[str, str] = {}
        self._batch_sizes: Counter[int] = Counter()
        self._decodes = 0
        self._replicas: dict[str, int] = {}

    def joined(self, replica: str, pid: int) -> None:
        """A replica is up (its process id, for operators and the fault tests)."""
        self._replicas[replica] = pid

    def cancel(self, ticket: str) -> None:
        self._cancelled.add(ticket)

    def cancelled_among(self, tickets: list[str]) -> list[str]:
        return [t for t in tickets if t in self._cancelled]

    def started(self, replica: str, tickets: list[str]) -> None:
        """A decode of `tickets` (one batch) began on `replica`."""
        for ticket in tickets:
            self._active[ticket] = replica
        self._batch_sizes[len(tickets)] += 1
        self._decodes += 1

    def finished(self, tickets: list[str]) -> None:
        for ticket in tickets:
            self._active.pop(ticket, None)
            self._cancelled.discard(ticket)

    def status(self) -> dict[str, Any]:
        return {
            "active": dict(self._active),
            "replicas": dict(self._replicas),
            "decodes": self._decodes,
            "batch_sizes": {str(k): v for k, v in sorted(self._batch_sizes.items())},
        }


def board() -> Any:
    """The running pool's board (created by `sidecar pool serve`)."""
    return ray.get_actor(BOARD_NAME, namespace=NAMESPACE)
