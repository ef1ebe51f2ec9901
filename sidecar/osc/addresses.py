"""Every OSC address of the sidecar protocol, the one source for server, clients and docs."""

from __future__ import annotations

__all__ = [
    "ACCEPTED",
    "CANCEL",
    "CANCELLED",
    "CONTINUE",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DONE",
    "ERROR",
    "GENERATE",
    "HISTORY",
    "HISTORY_END",
    "HISTORY_TAKE",
    "MODEL_LIST",
    "MODEL_LIST_REPLY",
    "MODEL_LOAD",
    "PING",
    "PONG",
    "PRESETS",
    "PRESETS_REPLY",
    "PREVIEW",
    "PROGRESS",
    "RECALL",
    "REPLIES",
    "REQUESTS",
    "REROLL",
    "STATUS",
    "STATUS_REPLY",
    "STEM",
    "TERMINAL_REPLIES",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9310

# Requests: client → sidecar.
GENERATE = "/sidecar/generate"
CONTINUE = "/sidecar/continue"
CANCEL = "/sidecar/cancel"
STATUS = "/sidecar/status"
PING = "/sidecar/ping"
PRESETS = "/sidecar/presets"
HISTORY = "/sidecar/history"
REROLL = "/sidecar/reroll"
RECALL = "/sidecar/recall"
MODEL_LIST = "/sidecar/model/list"
MODEL_LOAD = "/sidecar/model/load"

# Replies: sidecar → client (to the sender's IP; `reply_port` changes the port only).
ACCEPTED = "/sidecar/accepted"
PROGRESS = "/sidecar/progress"
PREVIEW = "/sidecar/preview"
STEM = "/sidecar/stem"
DONE = "/sidecar/done"
ERROR = "/sidecar/error"
CANCELLED = "/sidecar/cancelled"
STATUS_REPLY = "/sidecar/status/reply"
PONG = "/sidecar/pong"
PRESETS_REPLY = "/sidecar/presets/reply"
HISTORY_TAKE = "/sidecar/history/take"
HISTORY_END = "/sidecar/history/end"
MODEL_LIST_REPLY = "/sidecar/model/list/reply"

#: address → (arguments, meaning); the protocol document's table is generated from these.
REQUESTS: dict[str, tuple[str, str]] = {
    GENERATE: ("request_id [key value]...", "text-to-music (or unconditional without `prompt`)"),
    CONTINUE: (
        "request_id clip <path> [key value]...",
        "continue an audio clip; `clip` is required",
    ),
    CANCEL: ("request_id", "cancel a queued or running request"),
    STATUS: ("[request_id]", "state of one request, or of the server"),
    PING: ("(none)", "liveness; answered with /sidecar/pong"),
    PRESETS: ("(none)", "list the presets; answered with /sidecar/presets/reply"),
    HISTORY: ("clip [limit]", "the takes made from a clip, newest first"),
    REROLL: ("request_id take", "repeat a take (take id, or its request id) with a new seed"),
    RECALL: ("request_id take_id", "deliver a take's files again (stem replies, then done)"),
    MODEL_LIST: ("(none)", "the models in memory; answered with /sidecar/model/list/reply"),
    MODEL_LOAD: (
        "request_id name",
        "queue a switch to model `name` (loaded if needed, others evicted if memory is short)",
    ),
}

REPLIES: dict[str, tuple[str, str]] = {
    ACCEPTED: ("request_id queue_position", "the request is queued (0 = runs next)"),
    PROGRESS: ("request_id fraction eta_seconds", "at least every 10 % of the work"),
    PREVIEW: (
        "request_id path seconds_ready",
        "with `preview N`: the first take's audio so far (model rate, no tempo contract); the "
        "file is removed when the request ends",
    ),
    STEM: ("request_id index path [key value]...", "one per delivered file, after it is complete"),
    DONE: ("request_id n_files", "terminal: success"),
    ERROR: ("request_id code message", "terminal: failure (request_id is '' when unknown)"),
    CANCELLED: ("request_id", "terminal: the request was cancelled"),
    STATUS_REPLY: (
        "request_id state queue_position progress | '' server_state queue_length running_id",
        "answer to /sidecar/status; server_state as in /sidecar/pong",
    ),
    PONG: (
        "version model device state",
        "answer to /sidecar/ping; state is loading, ready, degraded (serving, but the model's "
        "start-up self-check found that its text or melody does not reach the logits: requests "
        "that use it get model_error with the fix; the server log says why) or stopping "
        "(shutting down)",
    ),
    PRESETS_REPLY: ("count [name description]...", "answer to /sidecar/presets"),
    HISTORY_TAKE: (
        "clip take_id request_id seed created tempo_bpm key path",
        "one take per message, newest first; created: seconds since the epoch, an OSC double "
        "('d'); tempo_bpm −1 and key '' when unknown",
    ),
    HISTORY_END: ("clip count", "after the takes of /sidecar/history"),
    MODEL_LIST_REPLY: (
        "count [name device megabytes state]...",
        "state is current, loaded, loading or separator (the Demucs separator kept warm "
        "beside the model, once loaded); megabytes: the weights plus what the decoder "
        "keeps beside them (packed weights, KV caches, captured steps)",
    ),
}

#: Exactly one of these ends every accepted request.
TERMINAL_REPLIES = frozenset({DONE, ERROR, CANCELLED})

#: Requests whose first argument is a request id (echoed in a refusal; others get '').
WITH_REQUEST_ID = frozenset(
    address
    for address, (args, _) in REQUESTS.items()
    if args.startswith(("request_id", "[request_id"))
)
