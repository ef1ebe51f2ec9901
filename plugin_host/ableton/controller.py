"""The generate / cancel / re-roll logic: requests out, replies in, clips placed, status shown."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from . import addresses
from .link import LinkError, LinkResolveError, SidecarLink
from .osc_codec import OscMessage
from .placement import slot_index, track_name
from .request import ContinueRequest, build_request, tempo_problem
from .selection import SelectionError, Target, read_clip_region, read_song_context, read_target
from .selftest import SelfTest
from .settings import Settings
from .stems import PREFIX, Job, StemPlacer, osc_number

if TYPE_CHECKING:
    from .host import Host
    from .shaping import ClipShaper


__all__ = ["PREFIX", "TICK_SECONDS", "Job", "SidecarController"]

#: Live calls a control surface's update_display about every 100 ms.
TICK_SECONDS = 0.1


class SidecarController:
    """Drives the sidecar from button presses and the host's tick; never blocks."""

    def __init__(self, host: Host, settings: Settings, link: SidecarLink) -> None:
        self._host = host
        self._settings = settings
        self._link = link
        self.jobs: dict[str, Job] = {}
        self.variations = settings.variations
        self.sidecar_state = "unknown"
        self.ticks = 0
        self._last_request: tuple[ContinueRequest, Target] | None = None
        self._ping_tick: int | None = None
        self._stems = StemPlacer(host, settings)
        self.self_test_run: SelfTest | None = None
        self._connect_ticks = math.ceil(settings.connect_timeout_seconds / TICK_SECONDS)
        self._stall_ticks = math.ceil(settings.stall_timeout_seconds / TICK_SECONDS)

    # ---- status ---------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self._host.show_message(PREFIX + text)

    def _log(self, text: str) -> None:
        self._host.log_message("MusicGenSidecar: " + text)

    def _where(self) -> str:
        host, port = self._link.address
        return f"{host}:{port}"

    # ---- buttons --------------------------------------------------------------------

    def ping(self) -> None:
        """Ask the sidecar for its state; the pong is shown in the status bar."""
        try:
            self._link.send(addresses.PING)
        except LinkError as error:
            self._link_failed(error)
            return
        self._ping_tick = self.ticks

    def generate(self) -> None:
        """Continue the selected clip with the configured preset."""
        song = self._host.song()
        try:
            context = read_song_context(song, self._settings.key)
            region = read_clip_region(song, context)
            target = read_target(song)
        except SelectionError as error:
            self._say(str(error))
            return
        problem = tempo_problem(
            context, int(song.signature_numerator), int(song.signature_denominator)
        )
        if problem is not None:
            self._say(problem)
            return
        preset = self._settings.preset_named(self._settings.preset)
        request = build_request(
            region, context, preset.name, preset.values, self.variations, self._settings.bars
        )
        self._submit(request, target)

    def reroll(self) -> None:
        """The last request again, same clip and settings, with a new seed."""
        if self._last_request is None:
            self._say("nothing to re-roll yet: select a clip and press generate")
            return
        request, target = self._last_request
        self._submit(request.reroll().with_variations(self.variations), target)

    def cancel(self) -> None:
        """Cancel every request still running; their late stems are not placed."""
        active = [job for job in self.jobs.values() if not job.cancelling]
        if not active:
            self._say("nothing to cancel")
            return
        for job in active:
            job.cancelling = True
            job.last_heard_tick = self.ticks
            try:
                self._link.send(addresses.CANCEL, [job.request.request_id])
            except LinkError as error:
                self._link_failed(error)
                return
        self._say(f"cancelling {len(active)} request(s)…")

    def abandon(self) -> None:
        """The script is going away (Live closes the set or unloads it): cancel every request
        still running, so that the sidecar does not go on making takes nobody will place."""
        for job in list(self.jobs.values()):
            if not job.cancelling:
                self._cancel_quietly(job)
        self.jobs.clear()
        self._stems.clear()

    def _cancel_quietly(self, job: Job) -> None:
        """Ask the sidecar to drop a request this script gives up on; best effort."""
        try:
            self._link.send(addresses.CANCEL, [job.request.request_id])
        except LinkError as error:
            self._log(f"could not cancel {job.request.request_id}: {error}")

    def self_test(self) -> None:
        """Probe this Live's API on a scratch track (selftest.SelfTest); the report goes to
        Log.txt, its result to the status bar."""
        if self.self_test_run is not None and not self.self_test_run.done:
            self._say("the self-test is running")
            return
        self.self_test_run = SelfTest(self._host.song(), self._host.live_version())
        self._say("self-test running (a scratch track comes and goes)…")
        self._step_self_test()

    def _step_self_test(self) -> None:
        run = self.self_test_run
        if run is None or run.done:
            return
        run.step()
        if not run.done:
            return
        for line in run.lines:
            self._log("self-test: " + line)
        unexpected = [line for line in run.lines if line.endswith("[UNEXPECTED]")]
        first = f"; {unexpected[0]}" if unexpected else ""
        self._say(f"self-test: {run.result()}{first} (the report is in Log.txt)")

    def set_variations(self, count: int) -> None:
        self.variations = min(8, max(1, int(count)))
        self._say(f"variations: {self.variations}")

    def _target_problem(self, target: Target) -> str | None:
        """Why stems could not go where `target` says (its track or scene deleted), or None."""
        try:
            str(target.track.name)  # Live raises on a deleted track
            if (
                target.source_slot is not None
                and slot_index(target.track, target.source_slot) is None
            ):
                return f"the scene of '{target.clip_name}' was deleted"
        except Exception:  # Live's Boost errors for a deleted object
            return f"the track of '{target.clip_name}' was deleted"
        return None

    def _submit(self, request: ContinueRequest, target: Target) -> None:
        # Checked before sending: a request whose stems have nowhere to go must not run.
        problem = self._target_problem(target)
        if problem is not None:
            self._last_request = None
            self._say(f"{problem}: select a clip and press generate")
            return
        if self._link.resolved_address is None:
            self._link.resolve()  # a button press: the lookup that failed before, once more
        try:
            self._link.send(addresses.CONTINUE, request.to_osc_arguments())
        except LinkError as error:
            self._link_failed(error)
            return
        job = Job(request=request, target=target, sent_tick=self.ticks, last_heard_tick=self.ticks)
        if target.arrangement_end_beats is not None:
            job.next_position_beats = target.arrangement_end_beats
        self.jobs[request.request_id] = job
        self._last_request = (request, target)
        key = f", {request.context.key}" if request.context.key else ""
        self._say(
            f"asked for {request.bars} bars after '{target.clip_name}' "
            f"({request.preset_name}, {request.context.bpm:g} bpm{key}, "
            f"seed {request.seed}, x{request.variations})"
        )

    # ---- tick -----------------------------------------------------------------------

    def tick(self) -> None:
        """Read every waiting reply, then expire requests the sidecar never answered."""
        self.ticks += 1
        self._stems.step()
        self._step_self_test()
        try:
            messages = self._link.poll()
        except LinkError as error:
            self._link_failed(error)
            return
        for problem in self._link.undecodable:
            self._log("ignored a datagram that is not OSC: " + problem)
        del self._link.undecodable[:]
        for message in messages:
            # One reply that cannot be applied (a track deleted meanwhile) must not cost the
            # rest of the batch, e.g. the `done` after it.
            try:
                self.handle(message)
            except Exception as error:  # Live's own error types too: log, show, go on
                self._log(f"error while applying {message.address}: {error!r}")
                self._say(f"error while applying a reply ({message.address}): {error}")
        self._expire()

    @property
    def shaping(self) -> list[ClipShaper]:
        """The new clips still being shaped or watched."""
        return self._stems.shaping

    def _link_failed(self, error: LinkError) -> None:
        if isinstance(error, LinkResolveError):
            lost = len(self.jobs)
            self.jobs.clear()
            self.sidecar_state = "unknown"
            self._log(str(error))
            dropped = f"; {lost} request(s) dropped" if lost else ""
            self._say(f"{error}: check sidecar_host in settings.json{dropped}")
            return
        self._mark_down(str(error))

    def _mark_down(self, reason: str) -> None:
        lost = len(self.jobs)
        self.jobs.clear()
        self.sidecar_state = "down"
        self._log(reason)
        dropped = f"; {lost} request(s) dropped" if lost else ""
        self._say(
            f"sidecar not answering at {self._where()}: start it with `sidecar serve`{dropped}"
        )

    def _expire(self) -> None:
        if self._ping_tick is not None and self.ticks - self._ping_tick > self._connect_ticks:
            self._ping_tick = None
            if not self.jobs:
                self._mark_down(f"no pong from {self._where()}")
        for job in list(self.jobs.values()):
            silent_ticks = self.ticks - job.last_heard_tick
            if job.cancelling and silent_ticks > self._connect_ticks:
                del self.jobs[job.request.request_id]
                self._say("cancelled (the sidecar did not confirm)")
            elif not job.accepted and silent_ticks > self._connect_ticks:
                self._mark_down(f"no reply to {job.request.request_id}")
                return
            elif silent_ticks > self._stall_ticks:
                del self.jobs[job.request.request_id]
                self._cancel_quietly(job)  # the sidecar may still be at it: stop the work
                self._say(
                    f"no news from the sidecar for {self._settings.stall_timeout_seconds:g} s; "
                    f"gave up on '{job.target.clip_name}'"
                )

    # ---- replies --------------------------------------------------------------------

    def handle(self, message: OscMessage) -> None:
        """Apply one reply; replies for requests this script no longer knows are ignored."""
        arguments = message.arguments
        if message.address == addresses.PONG:
            self._on_pong(arguments)
            return
        if message.address == addresses.STATUS_REPLY or not arguments:
            return
        request_id = str(arguments[0])
        job = self.jobs.get(request_id)
        if message.address == addresses.ERROR and job is None and request_id == "":
            self._say(f"sidecar error: {' '.join(str(a) for a in arguments[1:])}")
            return
        if job is None:
            self._log(f"ignored {message.address} for unknown request {request_id!r}")
            return
        job.last_heard_tick = self.ticks
        job.accepted = True
        if message.address == addresses.ACCEPTED:
            position = int(osc_number(arguments[1], 0.0)) if len(arguments) > 1 else 0
            self._say("queued, generating next" if position <= 0 else f"queued at {position}")
        elif message.address == addresses.PROGRESS and not job.cancelling:
            fraction = osc_number(arguments[1], 0.0) if len(arguments) > 1 else 0.0
            eta = osc_number(arguments[2], 0.0) if len(arguments) > 2 else 0.0
            self._say(
                f"generating '{job.target.clip_name}' {fraction * 100:.0f}%, ~{eta:.0f} s left"
            )
        elif message.address == addresses.STEM:
            if not job.cancelling:
                self._stems.place(job, arguments)
        elif message.address == addresses.DONE:
            del self.jobs[request_id]
            self._say(
                f"done: {job.stems_inserted} clip(s) from '{job.target.clip_name}' "
                f"on '{track_name(job.target.track)}'"
            )
        elif message.address == addresses.ERROR:
            del self.jobs[request_id]
            code = str(arguments[1]) if len(arguments) > 1 else "error"
            text = str(arguments[2]) if len(arguments) > 2 else ""
            self._say(f"sidecar error ({code}): {text}")
        elif message.address == addresses.CANCELLED:
            del self.jobs[request_id]
            self._say(f"cancelled '{job.target.clip_name}'")

    def _on_pong(self, arguments: tuple[Any, ...]) -> None:
        self._ping_tick = None
        values = [str(a) for a in arguments] + ["?"] * 4
        version, model, device, state = values[:4]
        changed = state != self.sidecar_state
        self.sidecar_state = state
        if changed:
            detail = {"ready": "ready", "stopping": "shutting down"}.get(
                state, "loading the model…"
            )
            self._say(f"sidecar {version} {detail} ({model} on {device})")

    def pending_ids(self) -> list[str]:
        return list(self.jobs)
