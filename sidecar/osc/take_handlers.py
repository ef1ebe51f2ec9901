"""① Handlers for presets and the take history: list presets, list takes, reroll, recall."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from sidecar.errors import DuplicateRequestError, NotFoundError, RequestError
from sidecar.files.paths import PathPolicy
from sidecar.jobs.queue import JobQueue
from sidecar.musical.presets import PresetLibrary
from sidecar.osc import addresses as A
from sidecar.osc.fields import FieldSpec, check_value, shown
from sidecar.osc.replier import OscReplier
from sidecar.osc.schema import (
    Done,
    GenerateRequest,
    OscArg,
    OscDouble,
    Stem,
    parse_request_id,
)
from sidecar.output.history import Take, TakeHistory

__all__ = ["TakeHandlers"]

_MAX_LISTED = 200

#: `/sidecar/history`'s limit: an OSC int, or a whole float ("Numbers" in the protocol).
_LIMIT = FieldSpec("limit", "int", 1, _MAX_LISTED)
#: The largest take id the history can hold (SQLite's INTEGER is 64-bit).
_MAX_TAKE_ID = 2**63 - 1
#: Request fields a reroll does not copy from the take: its replies go to its own sender.
_NOT_REROLLED = ("variation", "part", "reply_port")


def _take_id(value: object, name: str) -> int:
    """A take id sent as an OSC int or a whole float (5.0); `RequestError` naming `name`."""
    return int(check_value(FieldSpec(name, "int"), value))


class TakeHandlers:
    """Mixed into the receiver; needs its queue, replier, policy, presets and history."""

    queue: JobQueue
    replier: OscReplier
    policy: PathPolicy
    presets: PresetLibrary | None
    history: TakeHistory | None

    def enqueue(self, request: GenerateRequest, sender: tuple[str, int]) -> None:
        """Queue a request as if it had just arrived (the receiver provides this)."""
        raise NotImplementedError

    def on_presets(self, args: tuple[Any, ...], sender: tuple[str, int]) -> None:
        values: list[OscArg] = []
        library = self.presets
        names = library.names() if library is not None else ()
        for name in names:
            values.extend([name, library.get(name).description if library else ""])
        self.replier.send(sender, A.PRESETS_REPLY, [len(names), *values])

    def _history(self) -> TakeHistory:
        if self.history is None:
            raise NotFoundError("history: this server keeps no take history")
        return self.history

    def on_history(self, args: tuple[Any, ...], sender: tuple[str, int]) -> None:
        if not args or not isinstance(args[0], str):
            raise RequestError("clip: /sidecar/history takes a clip path first", "clip")
        limit = int(check_value(_LIMIT, args[1])) if len(args) > 1 else 50
        clip = args[0]
        lookup = str(Path(clip).resolve()) if Path(clip).is_absolute() else clip
        takes = self._history().list_for_clip(lookup, limit=limit)
        for take in takes:
            self.replier.send(
                sender,
                A.HISTORY_TAKE,
                [
                    clip,
                    int(take.take_id or 0),
                    take.request_id,
                    int(take.seed or 0),
                    OscDouble(take.created),
                    float(take.tempo_bpm) if take.tempo_bpm else -1.0,
                    take.key or "",
                    take.files[0] if take.files else "",
                ],
            )
        self.replier.send(sender, A.HISTORY_END, [clip, len(takes)])

    def _take(self, ref: object, name: str = "take") -> Take:
        """The take `ref` names: a take id (an OSC int or a whole float) or a request id."""
        history = self._history()
        take: Take | None = None
        if isinstance(ref, str) and ref:
            take = history.get_by_request(ref)
        elif isinstance(ref, int | float) and not isinstance(ref, bool):
            if isinstance(ref, float) and not ref.is_integer():
                raise RequestError(
                    f"{name}: {shown(ref)} is not whole; allowed: a take id (an integer) "
                    "or a request id",
                    name,
                )
            take_id = int(ref)
            take = history.get(take_id) if abs(take_id) <= _MAX_TAKE_ID else None
            ref = take_id
        else:
            raise RequestError(
                f"{name}: {shown(ref)}; allowed: a take id (int) or a request id", name
            )
        if take is None:
            raise NotFoundError(f"{name}: no take {shown(ref)} in the history")
        return take

    def on_reroll(self, args: tuple[Any, ...], sender: tuple[str, int]) -> None:
        rid = parse_request_id(args, A.REROLL)
        if len(args) < 2:
            raise RequestError("take: /sidecar/reroll takes request_id, then the take", "take")
        take = self._take(args[1])
        params = {k: v for k, v in take.params.items() if k not in _NOT_REROLLED}
        sent = set(params.get("sent", ())) - {"seed", "reply_port"}
        original = GenerateRequest.from_dict({**params, "sent": sent})
        request = dataclasses.replace(original, request_id=rid, seed=None, sent=frozenset(sent))
        self.enqueue(request, sender)

    def on_recall(self, args: tuple[Any, ...], sender: tuple[str, int]) -> None:
        rid = parse_request_id(args, A.RECALL)
        if len(args) < 2:
            raise RequestError(
                "take_id: /sidecar/recall takes request_id, then a take id", "take_id"
            )
        take_id = _take_id(args[1], "take_id")
        # Like a new request, a recall may not reuse the id of one still queued or running:
        # that request's own terminal reply is still to come.
        existing = self.queue.get(rid)
        if existing is not None and not existing.state.finished:
            raise DuplicateRequestError(
                f"request_id: '{rid}' is already {existing.state.value}; use a new id"
            )
        take = self._take(take_id, "take_id")
        wavs = [f for f in take.files if f.endswith(".wav")]
        missing = [f for f in wavs if not Path(f).is_file()]
        if not wavs or missing:
            raise NotFoundError(
                f"take_id: the files of take {take_id} are gone: "
                f"{', '.join(missing) or 'none recorded'}"
            )
        for index, path in enumerate(wavs):
            info: dict[str, OscArg] = {
                "take_id": int(take.take_id or 0),
                "seed": int(take.seed or 0),
            }
            if take.tempo_bpm:
                info["delivered_bpm"] = float(take.tempo_bpm)
            if take.key:
                info["key"] = take.key
            self.replier.reply(sender, Stem(rid, index, path, info))
        self.replier.reply(sender, Done(rid, len(wavs)))
