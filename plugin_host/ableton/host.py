"""The control surface as the controller and the stem placer see it (for type checks only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__: list[str] = []

if TYPE_CHECKING:  # typing.Protocol is newer than Live 11's Python 3.7
    from typing import Protocol

    from Live.Song import Song

    __all__ = ["Host"]

    class Host(Protocol):
        """What the controller needs from the control surface that runs it."""

        def song(self) -> Song: ...

        def show_message(self, message: str) -> None: ...

        def log_message(self, message: str) -> None: ...

        def live_version(self) -> tuple[int, int, int]: ...
