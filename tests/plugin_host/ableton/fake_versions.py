"""Which Live the fakes play: members gated by Live version, Live's errors and its crash."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "CREATE_AUDIO_CLIP_VERSIONS",
    "LATEST",
    "LiveCrash",
    "LiveError",
    "available",
    "running_version",
    "set_running_version",
    "since",
]

Version = tuple[int, int, int]

#: The newest Live the fakes model (ableton-live-stubs 12.3.6).
LATEST: Version = (12, 3, 6)
#: ClipSlot/Track.create_audio_clip: added in 11.3.25 (its release notes: "create new audio
#: clips ... via the Max for Live API"), absent again from 12.0.0's API and back in 12.0.5
#: (PhotonicVelocity/LiveAPI's stubs generated inside each version: 11.3.25, 12.0.0, 12.0.5).
CREATE_AUDIO_CLIP_VERSIONS: tuple[tuple[Version, Version | None], ...] = (
    ((11, 3, 25), (12, 0, 0)),
    ((12, 0, 5), None),
)

_running: list[Any] = [LATEST]  # versions, or Applications whose `version` may change


class LiveError(RuntimeError):
    """What Live's Boost layer raises when a call is refused."""


class LiveCrash(BaseException):
    """Live itself went down: no `except Exception` in a script survives it."""


def running_version() -> Version:
    """The version of the Live the fakes play (the fake `Live` module's, else LATEST)."""
    entry = _running[-1]
    return tuple(getattr(entry, "version", entry))  # type: ignore[return-value]


def set_running_version(version: Any) -> None:
    """Play `version` (a tuple, or an Application whose `version` it reads) from now on;
    None: back to the one before."""
    if version is None:
        if len(_running) > 1:
            _running.pop()
    else:
        _running.append(version)


def available(ranges: tuple[tuple[Version, Version | None], ...]) -> bool:
    version = running_version()
    return any(low <= version and (high is None or version < high) for low, high in ranges)


class _Gated:
    """A member that the running Live has only within `ranges` (AttributeError outside,
    as Boost.Python raises for a member the class lacks)."""

    def __init__(
        self,
        function: Callable[..., Any],
        ranges: tuple[tuple[Version, Version | None], ...],
        is_property: bool,
    ) -> None:
        self._function = function
        self._ranges = ranges
        self._is_property = is_property
        self._setter: Callable[[Any, Any], None] | None = None
        self.__doc__ = function.__doc__

    def setter(self, function: Callable[[Any, Any], None]) -> _Gated:
        self._setter = function
        return self

    def _check(self, instance: Any) -> None:
        if not available(self._ranges):
            raise AttributeError(
                f"'{type(instance).__name__}' has no attribute '{self._name}' in Live "
                + ".".join(str(p) for p in running_version())
            )

    def __set__(self, instance: Any, value: Any) -> None:
        self._check(instance)
        if self._setter is None:
            raise AttributeError(f"'{self._name}' is read-only")
        self._setter(instance, value)

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self if self._is_property else self._function
        self._check(instance)
        if self._is_property:
            return self._function(instance)
        return self._function.__get__(instance, owner)


def since(
    first: Version,
    until: Version | None = None,
    *,
    ranges: tuple[tuple[Version, Version | None], ...] | None = None,
    is_property: bool = True,
) -> Callable[[Callable[..., Any]], Any]:
    """Gate a fake member to the Lives that have it: from `first` (before `until`), or the
    given `ranges`."""
    gate = ranges if ranges is not None else ((first, until),)

    def wrap(function: Callable[..., Any]) -> Any:
        return _Gated(function, gate, is_property)

    return wrap
