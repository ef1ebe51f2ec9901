"""⑤ Take history: a local SQLite record of every delivered take, keyed by its source clip.

Durability: the database runs in WAL mode and every `record()` is one `BEGIN IMMEDIATE …
COMMIT` transaction, so a crash (even SIGKILL mid-write) leaves either the whole take or none
of it. `synchronous=FULL` fsyncs the WAL on every commit, so a take that `record()` returned
also survives a power cut; NORMAL would only risk the last few takes on power loss, but takes
arrive seconds apart (one per generation), so the extra fsync costs nothing noticeable.

Threads: one connection, opened with `check_same_thread=False` and guarded by a lock; the
worker thread writes and the event loop reads. Every call holds the lock only for one short
indexed statement, so the event loop never waits more than the time of one commit.

Schema versions live in `PRAGMA user_version`; `open()` creates or upgrades the schema and
refuses a database written by a newer version of the sidecar.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from sidecar.errors import SidecarError

__all__ = ["SCHEMA_VERSION", "HistoryError", "Take", "TakeHistory", "clip_key"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_MIGRATIONS: dict[int, str] = {
    # version reached → statements that take the previous version there
    1: """
        CREATE TABLE takes (
            take_id     INTEGER PRIMARY KEY AUTOINCREMENT,
            request_id  TEXT NOT NULL,
            clip        TEXT,
            created     REAL NOT NULL,
            seed        INTEGER,
            params      TEXT NOT NULL,
            files       TEXT NOT NULL,
            tempo_bpm   REAL,
            key         TEXT,
            model       TEXT NOT NULL
        );
        CREATE INDEX takes_by_clip ON takes (clip, take_id);
        CREATE INDEX takes_by_request ON takes (request_id, take_id);
    """,
}

_COLUMNS = "take_id, request_id, clip, created, seed, params, files, tempo_bpm, key, model"


class HistoryError(SidecarError):
    """The history database cannot be opened, read or written."""

    code = "internal"


def clip_key(clip: str | Path | None) -> str | None:
    """The key a clip is stored under: its absolute path with symlinks resolved."""
    if clip is None:
        return None
    return str(Path(clip).expanduser().resolve(strict=False))


@dataclass(frozen=True, kw_only=True)
class Take:
    """One delivered take. `take_id` is None until `TakeHistory.record()` assigns it.

    `clip` is None for text-only generation. `params` holds the request fields (JSON-able
    values); `files` the delivered paths; `tempo_bpm` the measured tempo of the take; `key`
    its key ('F# minor'); `created` is seconds since the epoch.
    """

    take_id: int | None = None
    request_id: str
    model: str
    clip: str | None = None
    created: float = field(default_factory=time.time)
    seed: int | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    tempo_bpm: float | None = None
    key: str | None = None


class TakeHistory:
    """The take store; use `TakeHistory.open(path)`, and `close()` (or `with`) when done."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._connection: sqlite3.Connection | None = connection
        self._lock = threading.Lock()
        self.path = path

    @classmethod
    def open(cls, path: Path) -> TakeHistory:
        """Open (creating folders and schema as needed) the history database at `path`."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as e:
            raise HistoryError(f"history: cannot open '{path}': {e}") from e
        try:
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise HistoryError(
                    f"history: '{path}' cannot use WAL mode (got {mode!r}); put it on a local "
                    "disk, not a network share"
                )
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA foreign_keys=ON")
            _migrate(connection, path)
        except sqlite3.Error as e:
            connection.close()
            raise HistoryError(f"history: '{path}' is not a usable database: {e}") from e
        except HistoryError:
            connection.close()
            raise
        logger.info("take history at %s", path)
        return cls(connection, path)

    def close(self) -> None:
        """Close the database; later calls raise `HistoryError`. Closing twice is fine."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> TakeHistory:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def record(self, take: Take) -> int:
        """Store `take` in one transaction and return its new `take_id`."""
        if take.take_id is not None:
            raise ValueError(f"take {take.take_id} is already recorded; pass take_id=None")
        if take.tempo_bpm is not None and not math.isfinite(take.tempo_bpm):
            raise ValueError(f"tempo_bpm must be finite or None; got {take.tempo_bpm}")
        row = (
            take.request_id,
            clip_key(take.clip),
            float(take.created),
            take.seed,
            _to_json(take.params, "params"),
            _to_json([str(f) for f in take.files], "files"),
            take.tempo_bpm,
            take.key,
            take.model,
        )
        with self._lock:
            connection = self._require_open()
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    cursor = connection.execute(
                        "INSERT INTO takes (request_id, clip, created, seed, params, files, "
                        "tempo_bpm, key, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        row,
                    )
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
            except sqlite3.Error as e:
                raise HistoryError(f"history: cannot record take of {take.request_id}: {e}") from e
        take_id = cursor.lastrowid
        if take_id is None:
            raise HistoryError(f"history: no take id for {take.request_id}")
        logger.debug("recorded take %d for request %s", take_id, take.request_id)
        return take_id

    def list_for_clip(self, clip: str | Path | None, limit: int | None = None) -> list[Take]:
        """Takes of `clip` (None: text-only takes), newest first (as `/sidecar/history` lists
        them); only the newest `limit` if given."""
        key = clip_key(clip)
        where = "clip IS NULL" if key is None else "clip = ?"
        args: tuple[Any, ...] = () if key is None else (key,)
        sql = f"SELECT {_COLUMNS} FROM takes WHERE {where} ORDER BY take_id DESC"  # noqa: S608
        if limit is None:
            return self._select(sql, args)
        if limit < 1:
            raise ValueError(f"limit must be ≥ 1 or None; got {limit}")
        return self._select(f"{sql} LIMIT ?", (*args, limit))

    def get(self, take_id: int) -> Take | None:
        """The take with this id, or None."""
        rows = self._select(f"SELECT {_COLUMNS} FROM takes WHERE take_id = ?", (take_id,))  # noqa: S608
        return rows[0] if rows else None

    def get_by_request(self, request_id: str) -> Take | None:
        """The latest take recorded for `request_id`, or None."""
        rows = self._select(
            f"SELECT {_COLUMNS} FROM takes WHERE request_id = ? "  # noqa: S608
            "ORDER BY take_id DESC LIMIT 1",
            (request_id,),
        )
        return rows[0] if rows else None

    def search(
        self,
        *,
        prompt: str | None = None,
        preset: str | None = None,
        key: str | None = None,
        bpm: float | None = None,
        bpm_tolerance: float = 2.0,
        limit: int = 100,
    ) -> list[Take]:
        """Takes matching every filter given, newest first: `prompt` within the request's
        prompt (any case), `preset` by name (any case), `key` as the take's measured key (any
        case), `bpm` within `bpm_tolerance` of the measured tempo or the session tempo asked."""
        if limit < 1:
            raise ValueError(f"limit must be ≥ 1; got {limit}")
        where: list[str] = []
        args: list[Any] = []
        if prompt:
            escaped = prompt.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("json_extract(params, '$.prompt') LIKE ? ESCAPE '\\'")
            args.append(f"%{escaped}%")
        if preset:
            where.append("json_extract(params, '$.preset') = ? COLLATE NOCASE")
            args.append(preset)
        if key:
            where.append("key = ? COLLATE NOCASE")
            args.append(key)
        if bpm is not None:
            where.append(
                "(tempo_bpm BETWEEN ? AND ? OR json_extract(params, '$.bpm') BETWEEN ? AND ?)"
            )
            args += [bpm - bpm_tolerance, bpm + bpm_tolerance] * 2
        sql = f"SELECT {_COLUMNS} FROM takes"  # noqa: S608
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self._select(f"{sql} ORDER BY take_id DESC LIMIT ?", (*args, limit))

    def _select(self, sql: str, args: Sequence[Any]) -> list[Take]:
        with self._lock:
            connection = self._require_open()
            try:
                rows = connection.execute(sql, tuple(args)).fetchall()
            except sqlite3.Error as e:
                raise HistoryError(f"history: cannot read '{self.path}': {e}") from e
        return [_from_row(row) for row in rows]

    def _require_open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise HistoryError(f"history: '{self.path}' is closed")
        return self._connection


def _migrate(connection: sqlite3.Connection, path: Path) -> None:
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise HistoryError(
            f"history: '{path}' has schema version {version}, newer than this sidecar's "
            f"{SCHEMA_VERSION}; upgrade the sidecar or point it at another history file"
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in _MIGRATIONS[target].split(";"):
                if statement.strip():
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {target:d}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        logger.info("take history %s: schema version %d", path, target)


def _to_json(value: object, what: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise ValueError(f"take {what} must be JSON (str, number, bool, list, dict): {e}") from e


def _from_row(row: tuple[Any, ...]) -> Take:
    take_id, request_id, clip, created, seed, params, files, tempo_bpm, key, model = row
    return Take(
        take_id=int(take_id),
        request_id=str(request_id),
        clip=clip,
        created=float(created),
        seed=None if seed is None else int(seed),
        params=json.loads(params),
        files=tuple(json.loads(files)),
        tempo_bpm=None if tempo_bpm is None else float(tempo_bpm),
        key=key,
        model=str(model),
    )
