"""The looper's control loop: triggers → capture → sidecar request → bar-quantized switch."""

from __future__ import annotations

import itertools
import logging
import math
import queue
import tempfile
import threading
import time
from pathlib import Path

from plugin_host.looper.audio import AudioEngine
from plugin_host.looper.client import ContinueRequest, SidecarClient
from plugin_host.looper.clock import Clock, ClockSnapshot
from plugin_host.looper.config import LooperConfig
from plugin_host.looper.history import LoopEntry, LoopHistory
from plugin_host.looper.player import SwitchCommand
from plugin_host.looper.ring import RingOverrunError
from plugin_host.looper.scheduler import Timeline, capture_bars, next_switch_bar
from plugin_host.looper.state import (
    LooperStatus,
    PendingCapture,
    PendingRequest,
    QueueState,
    ScheduledSwitch,
    SwitchKind,
)
from plugin_host.looper.stems import load_loop
from plugin_host.looper.triggers import Action, TriggerEvent
from sidecar.audiofile import write_audio_atomic
from sidecar.errors import SidecarError

__all__ = ["Looper", "LooperStatus", "QueueState"]

logger = logging.getLogger(__name__)


class Looper:
    """Owns the control thread. Every decision is taken here, never in the audio callback.

    `submit()` is thread-safe (MIDI, OSC and keyboard threads call it); `step()` runs one control
    iteration and is what the thread calls every `period_s` (tests may call it directly).
    """

    def __init__(
        self,
        config: LooperConfig,
        engine: AudioEngine,
        clock: Clock,
        client: SidecarClient,
        clip_dir: Path | None = None,
        period_s: float = 0.01,
    ) -> None:
        self.config = config
        self.engine = engine
        self.clock = clock
        self.client = client
        self.history = LoopHistory(config.loop.history)
        self.timeline = Timeline(clock, engine, output_latency_s=0.0)
        self._events: queue.SimpleQueue[TriggerEvent] = queue.SimpleQueue()
        self._period_s = period_s
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if clip_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="sidecar-looper-")
            clip_dir = Path(self._tmp.name)
        self.clip_dir = clip_dir
        self._capture: PendingCapture | None = None
        self._request: PendingRequest | None = None
        self._scheduled: ScheduledSwitch | None = None
        self._deferred: LoopEntry | None = None  # ready while the clock was stopped
        self._playing_start_bar: int | None = None
        self._playing_bars: int | None = None
        self._playing = False
        self._tokens = itertools.count(1)
        self._loop_ids = itertools.count(1)
        self._stop_count = clock.stop_count
        self._message = ""
        self._last_latency_s: float | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.latencies_s: list[float] = []
        self.resyncs = 0

    # -- lifecycle ------
    def start(self, run_thread: bool = True) -> None:
        self.engine.start()
        lat = self.config.audio.output_latency_ms
        self.timeline.output_latency_s = self.engine.latency_s[1] if lat is None else lat / 1000.0
        self.clock.start()
        if run_thread:
            self._thread = threading.Thread(target=self._run, name="looper-control", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self._request is not None:
            self.client.cancel(self._request.request.request_id)
        self.clock.close()
        self.engine.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def submit(self, event: TriggerEvent) -> None:
        self._events.put(event)

    def trigger(self, action: Action, bars: int | None = None) -> None:
        self.submit(TriggerEvent(action, bars, "api", time.monotonic()))

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            try:
                self.step()
            except Exception:  # the control loop must survive one bad step; the audio keeps going
                logger.exception("looper control step failed")

    # -- one control step ------
    def step(self) -> None:
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                break
            self._on_event(event)
        self._check_clock_stop()
        if self._deferred is not None and self.clock.running:
            entry, self._deferred = self._deferred, None
            self._schedule(entry, "new")
        self._check_capture()
        self._drain_replies()
        self._track_switch()
        self._check_drift()

    def _on_event(self, event: TriggerEvent) -> None:
        logger.info("trigger %s (%s)", event.action.value, event.source)
        if event.action is Action.CAPTURE:
            self._start_capture(event)
        elif event.action is Action.CANCEL:
            self._cancel()
        elif event.action is Action.UNDO:
            entry = self.history.previous()
            if entry is None:
                self._message = "nothing to undo"
            else:
                self._schedule(entry, "undo")
        elif event.action is Action.VARIATION:
            current = self.history.current
            if current is None:
                self._message = "no loop yet"
            elif len(current.variations) < 2:
                self._message = f"loop {current.loop_id} has one variation"
            else:
                self._schedule(current.with_selected(current.selected + 1), "variation")
        elif event.action is Action.STOP:
            self._schedule(None, "stop")

    # -- capture and request ------
    def _start_capture(self, event: TriggerEvent) -> None:
        if self._capture is not None or self._request is not None:
            self._message = "busy: cancel first"
            return
        beats_now = self.timeline.beats_at_frame(self._frame_at_event(event))
        if beats_now is None:
            self._message = "the clock is not running"
            return
        bpb = self.clock.beats_per_bar
        bars = event.bars or self.config.loop.bars
        bars = max(1, min(bars, self.config.audio.history_bars))
        start_bar, end_bar = capture_bars(beats_now, bars, bpb, self.config.loop.early_window_beats)
        start_frame = self.timeline.frame_of_beats(start_bar * bpb)
        if start_frame is None:
            self._message = "the clock is not running"
            return
        start_frame += round(self.config.audio.input_latency_ms / 1000.0 * self.engine.sample_rate)
        bpm = self.clock.bpm
        num_frames = round(bars * bpb * 60.0 / bpm * self.engine.sample_rate)
        if start_frame < self.engine.ring.oldest_frame():
            self._message = f"only {self.engine.ring.frames_written} frames recorded so far"
            return
        self._capture = PendingCapture(event, bars, bpm, start_frame, num_frames)
        self._message = f"capturing bars {start_bar + 1}-{end_bar}"

    def _frame_at_event(self, event: TriggerEvent) -> int:
        frame = self.engine.frame_at_time(event.time_s) if event.time_s else None
        return self.engine.frames_processed if frame is None else round(frame)

    def _check_capture(self) -> None:
        cap = self._capture
        if cap is None or self.engine.ring.frames_written < cap.start_frame + cap.num_frames:
            return
        self._capture = None
        clip = self.clip_dir / f"capture-{cap.start_frame}.wav"
        try:
            audio = self.engine.ring.read(cap.start_frame, cap.num_frames)
            write_audio_atomic(clip, audio.T, self.engine.sample_rate, "float32")
        except (RingOverrunError, SidecarError) as e:
            self._message = f"capture failed: {e}"
            logger.error("capture failed: %s", e)
            return
        loop = self.config.loop
        request = ContinueRequest(
            clip=clip,
            bars=cap.bars,
            bpm=round(cap.bpm, 3),
            beats_per_bar=self.clock.beats_per_bar,
            loop=True,
            variations=loop.variations,
            sample_rate=self.engine.sample_rate,
            prompt=loop.prompt,
            seed=loop.seed,
        )
        self.client.request_continue(request)
        self._request = PendingRequest(cap.event, request, time.monotonic(), {})
        self._message = f"sent {cap.bars} bars at {cap.bpm:.2f} BPM"

    def _drain_replies(self) -> None:
        while True:
            try:
                reply = self.client.replies.get_nowait()
            except queue.Empty:
                break
            req = self._request
            if req is None:
                continue
            state = req.apply(reply)
            if state == "pending":
                continue
            self._request = None
            if state == "done":
                self._on_done(req)
            elif state == "error":
                self._message = f"sidecar error {req.error}"
                logger.error("sidecar error for %s: %s", req.request.request_id, req.error)
            else:
                self._message = "cancelled"
        req = self._request
        if req is not None and time.monotonic() - req.sent_s > self.config.sidecar.timeout_s:
            self.client.cancel(req.request.request_id)
            self._request = None
            self._message = f"no answer from the sidecar in {self.config.sidecar.timeout_s:.0f} s"

    def _on_done(self, req: PendingRequest) -> None:
        if not req.stems:
            self._message = "the sidecar delivered no stems"
            return
        r = req.request
        num_frames = round(r.bars * r.beats_per_bar * 60.0 / r.bpm * self.engine.sample_rate)
        variations = []
        for index in sorted(req.stems):
            audio = load_loop(
                req.stems[index], self.engine.sample_rate, self.engine.output_channels, num_frames
            )
            if audio is not None:
                variations.append(audio)
        if not variations:
            self._message = "no readable stems"
            return
        latency = time.monotonic() - req.event.time_s if req.event.time_s else None
        entry = LoopEntry(
            loop_id=next(self._loop_ids),
            request_id=r.request_id,
            bars=r.bars,
            bpm=r.bpm,
            variations=tuple(variations),
            paths=tuple(req.stems[i] for i in sorted(req.stems)),
            latency_s=latency,
        )
        if latency is not None:
            self._last_latency_s = latency
            self.latencies_s.append(latency)
        self._schedule(entry, "new")

    def _cancel(self) -> None:
        if self._capture is not None:
            self._capture = None
            self._message = "capture cancelled"
        elif self._deferred is not None:
            self._deferred = None
            self._message = "ready loop dropped"
        elif self._request is not None:
            self.client.cancel(self._request.request.request_id)
            self._message = "cancelling"
        elif self._scheduled is not None and self.engine.player.cancel() is not None:
            self._scheduled = None
            self._message = "switch cancelled"
        else:
            self._message = "nothing to cancel"

    # -- switching ------
    def _schedule(self, entry: LoopEntry | None, kind: SwitchKind) -> None:
        bar = self._target_bar(extrapolate=kind == "stop")
        frame = None
        if bar is not None:
            frame = self.timeline.frame_of_beats(bar * self.clock.beats_per_bar, kind == "stop")
        if bar is None or frame is None:
            if kind == "new":
                self._deferred = entry
                self._message = "loop ready; waiting for the clock to start"
            else:
                self._message = "the clock is not running"
            return
        audio = None if entry is None else entry.audio
        command = SwitchCommand(next(self._tokens), frame, audio)
        self.engine.player.schedule(command)
        self._scheduled = ScheduledSwitch(command, kind, bar, entry)
        self._message = f"{kind} at bar {bar + 1}"

    def _target_bar(self, extrapolate: bool = False) -> int | None:
        beats = self.timeline.beats_at_frame(
            self.engine.frames_processed + self._lead_frames(), extrapolate
        )
        if beats is None:
            return None
        bars_now = beats / self.clock.beats_per_bar
        if not self._playing:
            return math.ceil(bars_now)
        return next_switch_bar(
            bars_now, 0.0, self.config.loop.quantize, self._playing_start_bar, self._playing_bars
        )

    def _track_switch(self) -> None:
        sched = self._scheduled
        if sched is None:
            return
        applied = self.engine.player.applied_frame(sched.command.token)
        if applied is None:
            self._retarget(sched)
            return
        self._scheduled = None
        if sched.kind == "resync":
            self._playing_start_bar = sched.bar
            self.resyncs += 1
            return
        if sched.kind == "stop":
            self._playing = False
            self._message = f"stopped at bar {sched.bar + 1}"
            return
        entry = sched.entry
        if entry is None:
            return
        if sched.kind == "new":
            self.history.push(entry)
        elif sched.kind == "undo":
            self.history.undo()
        else:
            self.history.replace_current(entry)
        self._playing = True
        self._playing_start_bar = sched.bar
        self._playing_bars = entry.bars
        self._message = f"loop {entry.loop_id} from bar {sched.bar + 1}"

    def _check_drift(self) -> None:
        """External clocks: re-anchor the playing loop on its next cycle if it drifted off the beat.

        A loop is a fixed number of samples; the band's tempo may move after the capture, and
        the interface's clock is not the DAW's. The re-anchor is a crossfade into the same loop.
        """
        resync_frames = self.config.loop.resync_ms / 1000.0 * self.engine.sample_rate
        current = self.engine.player.current
        start_bar, loop_bars = self._playing_start_bar, self._playing_bars
        if (
            self.timeline.frame_locked
            or resync_frames <= 0
            or self._scheduled is not None
            or not self._playing
            or current is None
            or current.audio is None
            or start_bar is None
            or not loop_bars
        ):
            return
        bpb = self.clock.beats_per_bar
        beats = self.timeline.beats_at_frame(self.engine.frames_processed + self._lead_frames())
        if beats is None:
            return
        bar = start_bar + math.ceil((beats / bpb - start_bar) / loop_bars) * loop_bars
        frame = self.timeline.frame_of_beats(bar * bpb)
        if frame is None:
            return
        length = current.audio.shape[0]
        cycles = round((frame - current.start_frame) / length)
        drift = frame - (current.start_frame + cycles * length)
        if abs(drift) < resync_frames:
            return
        command = SwitchCommand(next(self._tokens), frame, current.audio)
        self.engine.player.schedule(command)
        self._scheduled = ScheduledSwitch(command, "resync", bar, self.history.current)
        logger.debug("loop drifted %d frames; re-anchoring at bar %d", drift, bar + 1)

    def _lead_frames(self) -> float:
        return max(
            self.config.loop.lead_ms / 1000.0 * self.engine.sample_rate,
            2 * (self.engine.block_size or 1024),
        )

    def _retarget(self, sched: ScheduledSwitch) -> None:
        """External clocks: refine the switch frame as the tempo estimate and time map settle."""
        if self.timeline.frame_locked:
            return
        frame = self.timeline.frame_of_beats(
            sched.bar * self.clock.beats_per_bar, sched.kind == "stop"
        )
        margin = 2 * (self.engine.block_size or 1024)
        command = sched.command
        if frame is None or abs(frame - command.start_frame) < 8:
            return
        if min(frame, command.start_frame) - self.engine.frames_processed < margin:
            return
        new = SwitchCommand(command.token, frame, command.audio)
        self.engine.player.schedule(new)
        self._scheduled = ScheduledSwitch(new, sched.kind, sched.bar, sched.entry)

    def _check_clock_stop(self) -> None:
        count = self.clock.stop_count
        if count == self._stop_count:
            return
        self._stop_count = count
        if self._playing or self._scheduled is not None:
            self.engine.player.cancel()
            self._scheduled = None
            self._schedule(None, "stop")

    # -- status ------
    def status(self) -> LooperStatus:
        current = self.history.current
        if self._capture is not None:
            state: QueueState = "capturing"
        elif self._request is not None:
            state = "generating" if self._request.progress > 0 else "queued"
        elif self._scheduled is not None and self._scheduled.kind != "resync":
            state = "stopping" if self._scheduled.kind == "stop" else "ready"
        elif self._deferred is not None:
            state = "ready"
        else:
            state = "idle"
        beats = self.timeline.beats_now()
        snap = self.clock.snapshot()
        snap = ClockSnapshot(
            snap.source, snap.bpm, snap.running, beats, snap.beats_per_bar, snap.detail
        )
        return LooperStatus(
            clock=snap,
            queue=state,
            progress=self._request.progress if self._request is not None else 0.0,
            loop_id=current.loop_id if current is not None and self._playing else None,
            variation=current.selected + 1 if current is not None else 0,
            variations=len(current.variations) if current is not None else 0,
            history=len(self.history),
            switch_bar=self._scheduled.bar + 1 if self._scheduled is not None else None,
            last_latency_s=self._last_latency_s,
            message=self._message,
            stream=self.engine.stats(),
        )
