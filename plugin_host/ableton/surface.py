"""The control surface Live loads: MIDI buttons in, a scheduled tick, and the status bar."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .controller import PREFIX, SidecarController
from .link import SidecarLink
from .settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from typing import Protocol

    from Live.Application import Application
    from Live.Song import Song

    class CInstance(Protocol):
        """The handle Live passes to create_instance (the part of it this script uses)."""

        def song(self) -> Song: ...

        def show_message(self, message: str) -> None: ...

        def log_message(self, message: str) -> None: ...

        def handle(self) -> int: ...

        def request_rebuild_midi_map(self) -> None: ...


__all__ = ["SidecarSurface"]

_NOTE_ON = 0x90
_NOTE_OFF = 0x80
_CONTROL_CHANGE = 0xB0
_PRESS_THRESHOLD = 64
_VARIATION_CYCLE = 8


class SidecarSurface:
    """A ControlSurface written against Live's control-surface protocol directly.

    Live calls `update_display` about every 100 ms; that is the tick that polls the
    sidecar's replies and runs what `schedule_message` queued. Nothing here blocks (the one
    thread, link.py's host-name lookup, touches no Live object), and no exception raised by
    this script reaches Live.
    """

    def __init__(self, c_instance: CInstance, settings_directory: str | None = None) -> None:
        self._c_instance = c_instance
        self._scheduled: list[tuple[int, Callable[[], None]]] = []
        self._pressed: set[str] = set()
        self._controller: SidecarController | None = None
        self._link: SidecarLink | None = None
        directory = settings_directory or os.path.dirname(os.path.abspath(__file__))
        self.settings = self._guard("loading settings", lambda: self._load(directory))
        if self.settings is None:
            return
        settings = self.settings
        self._link = self._guard(
            "opening the UDP socket",
            lambda: SidecarLink(settings.sidecar_host, settings.sidecar_port, settings.token),
        )
        if self._link is not None:
            self._controller = SidecarController(self, settings, self._link)
            self.schedule_message(1, self._controller.ping)

    # ---- Live → script --------------------------------------------------------------

    def update_display(self) -> None:
        """Live's ~100 ms tick: run due scheduled callbacks, then poll the sidecar."""
        self._guard("running scheduled work", self._run_scheduled)
        if self._controller is not None:
            self._guard("reading the sidecar's replies", self._controller.tick)

    def build_midi_map(self, midi_map_handle: int) -> None:
        """Forward the configured notes and CCs to receive_midi."""
        self._guard("mapping MIDI buttons", lambda: self._map_buttons(midi_map_handle))

    def receive_midi(self, midi_bytes: tuple[int, ...]) -> None:
        self._guard("handling a button", lambda: self._on_midi(tuple(midi_bytes)))

    def disconnect(self) -> None:
        """Live unloads the script (set closed, script deselected, Live quits): cancel the
        requests in flight on the sidecar, then close the socket."""
        self._scheduled = []
        if self._controller is not None:
            self._guard("cancelling the requests in flight", self._controller.abandon)
        if self._link is not None:
            self._guard("closing the UDP socket", self._link.close)
            self._link = None
        self._controller = None

    def refresh_state(self) -> None:
        self._c_instance.request_rebuild_midi_map()

    def connect_script_instances(self, instanciated_scripts: Any) -> None:
        return None

    def can_lock_to_devices(self) -> bool:
        return False

    def suggest_input_port(self) -> str:
        return ""

    def suggest_output_port(self) -> str:
        return ""

    def suggest_map_mode(self, cc_no: int, channel: int) -> int:
        return -1

    def port_settings_changed(self) -> None:
        self.refresh_state()

    def supports_pad_translation(self) -> bool:
        return False

    # ---- ControlSurface services ----------------------------------------------------

    def song(self) -> Song:
        return self._c_instance.song()

    def application(self) -> Application:
        import Live  # only inside Live; kept out of import time so the folder imports anywhere

        return Live.Application.get_application()

    def live_version(self) -> tuple[int, int, int]:
        app = self.application()
        return (app.get_major_version(), app.get_minor_version(), app.get_bugfix_version())

    def show_message(self, message: str) -> None:
        self._c_instance.show_message(message)

    def log_message(self, message: str) -> None:
        self._c_instance.log_message(message)

    def schedule_message(self, delay_in_ticks: int, callback: Callable[[], None]) -> None:
        """Run `callback` on the tick `delay_in_ticks` from now (as _Framework does)."""
        self._scheduled.append((max(1, int(delay_in_ticks)), callback))

    @property
    def controller(self) -> SidecarController | None:
        return self._controller

    # ---- internals ------------------------------------------------------------------

    def _guard(self, what: str, action: Callable[[], Any]) -> Any:
        """Run one piece of work at Live's boundary: log and show any error, never raise."""
        try:
            return action()
        except Exception as error:
            self._c_instance.log_message(
                f"MusicGenSidecar: error while {what}: {error!r}\n{traceback.format_exc()}"
            )
            self._c_instance.show_message(f"{PREFIX}error while {what}: {error}")
            return None

    def _load(self, directory: str) -> Settings:
        try:
            return load_settings(directory)
        except SettingsError as error:
            self._c_instance.log_message(f"MusicGenSidecar: {error}; using defaults")
            self._c_instance.show_message(f"{PREFIX}{error}; using defaults")
            return Settings()

    def _run_scheduled(self) -> None:
        due = [callback for ticks, callback in self._scheduled if ticks <= 1]
        self._scheduled = [
            (ticks - 1, callback) for ticks, callback in self._scheduled if ticks > 1
        ]
        for callback in due:
            self._guard("running a scheduled callback", callback)

    def _map_buttons(self, midi_map_handle: int) -> None:
        import Live  # only inside Live

        if self.settings is None:
            return
        script_handle = self._c_instance.handle()
        for _action, binding in self.settings.buttons:
            if binding.kind == "cc":
                Live.MidiMap.forward_midi_cc(
                    script_handle, midi_map_handle, binding.channel, binding.number
                )
            else:
                Live.MidiMap.forward_midi_note(
                    script_handle, midi_map_handle, binding.channel, binding.number
                )

    def _on_midi(self, midi_bytes: tuple[int, ...]) -> None:
        if self.settings is None or self._controller is None or len(midi_bytes) < 3:
            return
        status, number, value = midi_bytes[0], midi_bytes[1], midi_bytes[2]
        if status & 0xF0 == _NOTE_ON and value == 0:
            status = _NOTE_OFF | (status & 0x0F)
        for action, binding in self.settings.buttons:
            if not binding.matches(status, number):
                continue
            if action == "variations" and binding.kind == "cc":
                self._controller.set_variations(1 + value * _VARIATION_CYCLE // 128)
                continue
            is_press = status & 0xF0 == _NOTE_ON or (
                status & 0xF0 == _CONTROL_CHANGE and value >= _PRESS_THRESHOLD
            )
            if not is_press:
                self._pressed.discard(action)
                continue
            if binding.kind == "cc" and action in self._pressed:
                continue  # a held CC button sends repeats; act on the rising edge only
            self._pressed.add(action)
            self._press(action)

    def _press(self, action: str) -> None:
        controller = self._controller
        if controller is None:
            return
        if action == "generate":
            controller.generate()
        elif action == "cancel":
            controller.cancel()
        elif action == "reroll":
            controller.reroll()
        elif action == "variations":
            controller.set_variations(controller.variations % _VARIATION_CYCLE + 1)
        elif action == "selftest":
            controller.self_test()
