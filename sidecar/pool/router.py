"""④ Routing for batches: requests that can share a decode go to the replica gathering them."""

from __future__ import annotations

import time
from typing import Any

from ray.serve._private.request_router.pow_2_router import PowerOfTwoChoicesRequestRouter

__all__ = ["BucketRouter", "bucket_of"]


def bucket_of(spec_head: dict[str, Any]) -> str:
    """A request's bucket from its spec's wire form (what `engine.batching.batch_key` keys on:
    length, sampling, text or not, the prompt audio's shape); melody requests get none."""
    if spec_head.get("melody"):
        return ""
    prompt = spec_head.get("audio_prompt") or {}
    has_text = bool(spec_head.get("prompts") or spec_head.get("prompt"))
    parts = [spec_head.get(k) for k in ("duration_seconds", "guidance_scale", "temperature")]
    parts += [spec_head.get("top_k"), spec_head.get("top_p"), has_text, prompt.get("shape")]
    return repr(parts)


class BucketRouter(PowerOfTwoChoicesRequestRouter):
    """Serve's power-of-two-choices routing, except that a request whose bucket had a request
    routed to replica R less than a batch wait ago, with R's batch not yet full, goes to R
    first: so two producers' compatible requests meet in one decode even with idle replicas
    beside it (spread, each would decode alone, and the pool would batch only when every
    replica is busy). Anything else, or R gone or full, is routed as Serve routes it."""

    def initialize_state(
        self, batch_wait_seconds: float = 0.03, max_batch_size: int = 4, **kwargs: Any
    ) -> None:
        super().initialize_state(**kwargs)
        self._wait_seconds = batch_wait_seconds
        self._max_batch_size = max_batch_size
        self._open: dict[str, tuple[Any, float, int]] = {}  # bucket -> (replica, opened, count)

    @staticmethod
    def _bucket(pending_request: Any) -> str:
        args = getattr(pending_request, "args", None) or []
        return str(getattr(args[0], "bucket", "")) if args else ""

    def _gathering(self, bucket: str) -> Any | None:
        entry = self._open.get(bucket)
        if entry is None:
            return None
        replica, opened, count = entry
        if time.monotonic() - opened > self._wait_seconds or count >= self._max_batch_size:
            del self._open[bucket]
            return None
        return replica

    async def choose_replicas(
        self, candidate_replicas: list[Any], pending_request: Any | None = None
    ) -> list[list[Any]]:
        bucket = self._bucket(pending_request)
        replica_id = self._gathering(bucket) if bucket else None
        if replica_id is not None:
            first = [r for r in candidate_replicas if r.replica_id == replica_id]
            if first:
                rest = [r for r in candidate_replicas if r.replica_id != replica_id]
                return [first, rest] if rest else [first]
        return await super().choose_replicas(candidate_replicas, pending_request)

    def on_request_routed(self, pending_request: Any, replica_id: Any, result: Any) -> None:
        bucket = self._bucket(pending_request)
        if bucket:
            entry = self._open.get(bucket)
            if entry is not None and entry[0] == replica_id and self._gathering(bucket):
                self._open[bucket] = (replica_id, entry[1], entry[2] + 1)
            else:
                self._open[bucket] = (replica_id, time.monotonic(), 1)
        super().on_request_routed(pending_request, replica_id, result)
