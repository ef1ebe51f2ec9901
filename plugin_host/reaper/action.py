"""Run one REAPER action (continue or re-roll) on REAPER's defer loop, never blocking REAPER."""

from __future__ import annotations

import os
import traceback
from typing import TYPE_CHECKING, Any

from plugin_host.ableton.link import SidecarLink

from .request import RerollError, SidecarRequest, load_last_request
from .settings import SETTINGS_FILE_NAME, SettingsError, load_settings
from .sidecar_reaper import ReaperSession, SelectionError, request_from_selection

if TYPE_CHECKING:
    from .api import ReaperApi
    from .settings import Settings

__all__ = ["ACTIONS", "run_action", "script_builtins"]

#: The actions that send a request: the selected item, or the last request with a new seed.
ACTIONS = ("continue", "reroll")


def _say(api: ReaperApi, text: str) -> None:
    api.RPR_ShowConsoleMsg("MusicGen: " + text + "\n")


def _build_request(api: ReaperApi, action: str, settings: Settings) -> SidecarRequest:
    if action == "reroll":
        return load_last_request(api).rerolled()
    return request_from_selection(api, settings)


def script_builtins(namespace: dict[str, Any]) -> tuple[Any, Any] | None:
    """`RPR_defer` and `RPR_atexit` from the script's globals, where REAPER puts them (they
    are not on the reaper_python module: ReaScript help, Python section; reapy reads
    `sys.modules["__main__"].RPR_defer`, dawscript the script's globals); None without them."""
    defer, at_exit = namespace.get("RPR_defer"), namespace.get("RPR_atexit")
    if not callable(defer) or not callable(at_exit):
        return None
    return defer, at_exit


def run_action(api: ReaperApi, action: str, script_folder: str, namespace: dict[str, Any]) -> None:
    """Send the request, then poll for replies from `RPR_defer` until it ends.

    `namespace` is the action script's globals: REAPER evaluates deferred code there, and
    puts `RPR_defer` and `RPR_atexit` there.
    """
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}; got {action!r}")
    builtins = script_builtins(namespace)
    if builtins is None:
        _say(api, "RPR_defer is not in this script's globals: run it as a REAPER action")
        return
    defer, register_at_exit = builtins
    try:
        settings = load_settings(os.path.join(script_folder, SETTINGS_FILE_NAME))
        request = _build_request(api, action, settings)
        link = SidecarLink(settings.sidecar_host, settings.sidecar_port, settings.token)
    except SettingsError as error:
        _say(api, f"settings: {error}; fix the file and run the action again")
        return
    except (SelectionError, RerollError) as error:
        _say(api, str(error))
        return
    except OSError as error:
        _say(api, f"cannot open a UDP socket for the sidecar: {error}")
        return
    session = ReaperSession(
        api,
        link,
        connect_timeout_seconds=settings.connect_timeout_seconds,
        stall_timeout_seconds=settings.stall_timeout_seconds,
    )
    if not session.start(request):
        link.close()
        return
    step_name = "_musicgen_step_" + session.request_id.replace("-", "_")
    exit_name = "_musicgen_exit_" + session.request_id.replace("-", "_")

    def step() -> None:
        try:
            running = session.step()
        except Exception:
            session.say("stopped on an unexpected error:\n" + traceback.format_exc())
            running = False
        if running:
            defer(step_name + "()")
        else:
            link.close()
            namespace.pop(step_name, None)

    def at_exit() -> None:
        # REAPER runs this when the script ends: after the last step, or when it is terminated
        # (the running-scripts dialog, or running the action again) with the request still on.
        if namespace.pop(step_name, None) is not None:
            session.abandon()
        link.close()
        namespace.pop(exit_name, None)

    namespace[step_name] = step
    namespace[exit_name] = at_exit
    register_at_exit(exit_name + "()")
    defer(step_name + "()")
