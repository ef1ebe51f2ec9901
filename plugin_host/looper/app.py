"""The looper's control loop: triggers → capture → sidecar request → bar-quantized switch."""

from __future__ import annotations

import itertools
import logging
import queue
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from plugin_host.looper.audio import AudioEngine
from plugin_host.looper.client import ContinueRequest, SidecarClient
from plugin_host.looper.clock import Clock, ClockSnapshot
from plugin_host.looper.config import LooperConfig
from plugin_host.looper.history import LoopEntry, LoopHistory
from plugin_host.looper.ring import RingOverrunError
from plugin_host.looper.scheduler import Timeline, capture_bars
from plugin_host.looper.state import (
    LooperStatus,
    PendingCapture,
    PendingRequest,
    QueueState,
    SwitchKind,
)
from plugin_host.looper.stems import load_loop
from plugin_host.looper.switcher import Switcher
from plugin_host.looper.triggers import Action, TriggerEvent
from sidecar.errors import SidecarError
from sidecar.files.audiofile import write_audio_atomic

__all__ = ["Looper", "LooperStatus", "QueueState"]

logger = logging.getLogger(__name__)

# Beyond this a host-reported latency is a wrong answer, not a latency (PortAudio's JACK API
# reports ~89 000 s for a client without physical ports: an unsigned wrap-around).
_MAX_HOST_LATENCY_S = 1.0


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
        self.timeline = Timeline(clock, engine)  # latencies: set in start(), once the stream runs
        self.switcher = Switcher(config.loop, engine, clock, self.timeline, self.history)
        self._events: queue.SimpleQueue[TriggerEvent] = queue.SimpleQueue()
        self._period_s = period_s
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if clip_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="sidecar-looper-")
            clip_dir = Path(self._tmp.name)
        self.clip_dir = clip_dir
        self._capture: PendingCapture | None = None
        self._request: PendingRequest | None = None
        self._deferred: LoopEntry | None = None  # ready while the clock was stopped
        self._loop_ids = itertools.count(1)
        self._stop_count = clock.stop_count
        self._message = ""
        self._last_latency_s: float | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.latencies_s: list[float] = []
        #: The control thread's clock (trigger latencies, the sidecar's stall timeout).
        self.monotonic: Callable[[], float] = time.monotonic

    @property
    def resyncs(self) -> int:
        """Re-anchors of a drifting loop so far (external clocks)."""
        return self.switcher.resyncs

    # -- lifecycle ------
    def start(self, run_thread: bool = True) -> None:
        self.engine.start()
        a = self.config.audio
        host_in, host_out = self.engine.latency_s
        self.timeline.input_latency_s = _latency_s(a.input_latency_ms, host_in, "input")
        self.timeline.output_latency_s = _latency_s(a.output_latency_ms, host_out, "output")
        logger.info(
            "latency: input %.2f ms (capture shift), output %.2f ms",
            self.timeline.input_latency_s * 1e3,
            self.timeline.output_latency_s * 1e3,
        )
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
        self.submit(TriggerEvent(action, bars, "api", self.monotonic()))

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
        message = self.switcher.track()
        if message is not None:
            self._message = message
        self.switcher.check_drift()

    def _on_event(self, event: TriggerEvent) -> None:
        logger.info("trigger %s (%s)", event.action.value, event.source)
        if event.action is Action.CAPTURE:
            self._start_capture(event)
        elif event.action is Action.CANCEL:
            self._cancel()
        elif event.action in (Action.UNDO, Action.VARIATION) and self._new_loop_waiting(event):
            return
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

    def _new_loop_waiting(self, event: TriggerEvent) -> bool:
        """Refuse undo and variation while a new loop waits for its bar (they would replace it)."""
        sched = self.switcher.scheduled
        if sched is None or sched.kind != "new" or sched.entry is None:
            return False
        self._message = (
            f"{event.action.value} refused: loop {sched.entry.loop_id} starts at bar "
            f"{sched.bar + 1} (cancel it first)"
        )
        return True

    # -- capture and request ------
    def _start_capture(self, event: TriggerEvent) -> None:
        if self._capture is not None or self._request is not None:
            self._message = "busy: cancel first"
            return
        # The beat the trigger was pressed on, and the ring frames played on the bars it captures
        # (shifted by the input latency; with the fixed clock, by the round trip).
        beats_now = self.timeline.beats_at_time(event.time_s) if event.time_s else None
        if beats_now is None:
            beats_now = self.timeline.beats_at_frame(self.engine.frames_processed)
        if beats_now is None:
            self._message = "the clock is not running"
            return
        bpb = self.clock.beats_per_bar
        bars = event.bars or self.config.loop.bars
        bars = max(1, min(bars, self.config.audio.history_bars))
        start_bar, end_bar = capture_bars(beats_now, bars, bpb, self.config.loop.early_window_beats)
        start_frame = self.timeline.input_frame_of_beats(start_bar * bpb)
        if start_frame is None:
            self._message = "the clock is not running"
            return
        bpm = self.clock.bpm
        num_frames = round(bars * bpb * 60.0 / bpm * self.engine.sample_rate)
        if start_frame < self.engine.ring.oldest_frame():
            self._message = f"only {self.engine.ring.frames_written} frames recorded so far"
            return
        self._capture = PendingCapture(event, bars, bpm, start_frame, num_frames)
        self._message = f"capturing bars {start_bar + 1}-{end_bar}"

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
        now = self.monotonic()
        self._request = PendingRequest(cap.event, request, now, {}, heard_s=now)
        self._message = f"sent {cap.bars} bars at {cap.bpm:.2f} BPM"

    def _drain_replies(self) -> None:
        now = self.monotonic()
        while True:
            try:
                reply = self.client.replies.get_nowait()
            except queue.Empty:
                break
            req = self._request
            if req is None:
                continue
            state = req.apply(reply, now)
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
        # A stall timeout: every reply for the request (accepted, progress, stems) restarts it.
        req = self._request
        if req is not None and now - req.heard_s > self.config.sidecar.timeout_s:
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
        latency = self.monotonic() - req.event.time_s if req.event.time_s else None
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
        elif self.switcher.cancel():
            self._message = "switch cancelled"
        else:
            self._message = "nothing to cancel"

    # -- switching ------
    def _schedule(self, entry: LoopEntry | None, kind: SwitchKind) -> None:
        bar = self.switcher.schedule(entry, kind)
        if bar is None:
            if kind == "new":
                self._deferred = entry
                self._message = "loop ready; waiting for the clock to start"
            else:
                self._message = "the clock is not running"
            return
        self._message = f"{kind} at bar {bar + 1}"

    def _check_clock_stop(self) -> None:
        count = self.clock.stop_count
        if count == self._stop_count:
            return
        self._stop_count = count
        sched = self.switcher.scheduled
        kept = sched.entry if sched is not None and sched.kind == "new" else None
        stopping = self.switcher.halt()
        if stopping:
            self._schedule(None, "stop")
        if kept is not None:
            # A finished loop waiting for its bar is kept: it starts when the clock restarts.
            self._deferred = kept
            waiting = f"loop {kept.loop_id} waits for the clock to start"
            self._message = f"{self._message}; {waiting}" if stopping else waiting

    # -- status ------
    def status(self) -> LooperStatus:
        current = self.history.current
        scheduled, playing = self.switcher.scheduled, self.switcher.playing
        if self._capture is not None:
            state: QueueState = "capturing"
        elif self._request is not None:
            state = "generating" if self._request.progress > 0 else "queued"
        elif scheduled is not None and scheduled.kind != "resync":
            state = "stopping" if scheduled.kind == "stop" else "ready"
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
            loop_id=current.loop_id if current is not None and playing else None,
            variation=current.selected + 1 if current is not None else 0,
            variations=len(current.variations) if current is not None else 0,
            history=len(self.history),
            switch_bar=scheduled.bar + 1 if scheduled is not None else None,
            last_latency_s=self._last_latency_s,
            message=self._message,
            stream=self.engine.stats(),
        )


def _latency_s(setting_ms: float | None, host_s: float, side: str) -> float:
    """The latency to use: the setting in ms, or (None, "auto") what the host reports."""
    if setting_ms is not None:
        return setting_ms / 1000.0
    if 0.0 <= host_s <= _MAX_HOST_LATENCY_S:
        return host_s
    logger.warning(
        "the host reports %.6g s of %s latency, which cannot be right; using 0 "
        "(set --%s-latency-ms)",
        host_s,
        side,
        side,
    )
    return 0.0
