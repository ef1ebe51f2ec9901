"""The looper's switches: schedule one on its bar, track when it is heard, retarget, re-anchor."""

from __future__ import annotations

import itertools
import logging
import math

from plugin_host.looper.audio import AudioEngine
from plugin_host.looper.clock import Clock
from plugin_host.looper.config import LoopConfig
from plugin_host.looper.history import LoopEntry, LoopHistory
from plugin_host.looper.player import SwitchCommand
from plugin_host.looper.scheduler import Timeline, next_switch_bar
from plugin_host.looper.state import ScheduledSwitch, SwitchKind

__all__ = ["Switcher"]

logger = logging.getLogger(__name__)


class Switcher:
    """The switch in flight and the loop playing, for the control thread (never the callback).

    It hands `SwitchCommand`s to the engine's player, follows them until the player applies one,
    then records the result in `history`. The caller owns the user-facing messages.
    """

    def __init__(
        self,
        config: LoopConfig,
        engine: AudioEngine,
        clock: Clock,
        timeline: Timeline,
        history: LoopHistory,
    ) -> None:
        self.config = config
        self.engine = engine
        self.clock = clock
        self.timeline = timeline
        self.history = history
        self.scheduled: ScheduledSwitch | None = None
        self.playing = False
        self.playing_start_bar: int | None = None
        self.playing_bars: int | None = None
        self.resyncs = 0
        self._tokens = itertools.count(1)

    def schedule(self, entry: LoopEntry | None, kind: SwitchKind) -> int | None:
        """Queue `entry` (None: silence) on the next allowed bar; returns it (None: no clock)."""
        bar = self._target_bar(stop=kind == "stop")
        frame = None
        if bar is not None:
            frame = self.timeline.frame_of_beats(bar * self.clock.beats_per_bar, kind == "stop")
        if bar is None or frame is None:
            return None
        audio = None if entry is None else entry.audio
        command = SwitchCommand(next(self._tokens), frame, audio)
        replaced = self.scheduled
        self.engine.player.schedule(command)
        if replaced is not None and replaced.kind == "new" and replaced.entry is not None:
            # A new loop still waiting for its bar (a newer one, or a stop, takes its place):
            # it is kept in history, unplayed, so undo can still reach it.
            self.history.push(replaced.entry)
            logger.info("loop %d kept in history, not played", replaced.entry.loop_id)
        self.scheduled = ScheduledSwitch(command, kind, bar, entry)
        return bar

    def cancel(self) -> bool:
        """Withdraw the pending switch; False when none was pending or it was already applied."""
        if self.scheduled is None or self.engine.player.cancel() is None:
            return False
        self.scheduled = None
        return True

    def halt(self) -> bool:
        """The clock stopped: drop any pending switch; True when a loop is playing (fade it out).

        The caller keeps a pending new loop's entry first if it wants it (it is not in history).
        """
        if self.scheduled is not None:
            self.engine.player.cancel()
            self.scheduled = None
        return self.playing

    def track(self) -> str | None:
        """Follow the pending switch: retarget it, or record it once heard (returns a message)."""
        sched = self.scheduled
        if sched is None:
            return None
        applied = self.engine.player.applied_frame(sched.command.token)
        if applied is None:
            self._retarget(sched)
            return None
        self.scheduled = None
        if sched.kind == "resync":
            self.playing_start_bar = sched.bar
            self.resyncs += 1
            return None
        if sched.kind == "stop":
            self.playing = False
            return f"stopped at bar {sched.bar + 1}"
        entry = sched.entry
        if entry is None:
            return None
        if sched.kind == "new":
            self.history.push(entry)
        elif sched.kind == "undo":
            self.history.undo()
        else:
            self.history.replace_current(entry)
        self.playing = True
        self.playing_start_bar = sched.bar
        self.playing_bars = entry.bars
        return f"loop {entry.loop_id} from bar {sched.bar + 1}"

    def check_drift(self) -> None:
        """External clocks: re-anchor the playing loop on its next cycle if it drifted off the beat.

        A loop is a fixed number of samples; the band's tempo may move after the capture, and
        the interface's clock is not the DAW's. The re-anchor is a crossfade into the same loop.
        """
        resync_frames = self.config.resync_ms / 1000.0 * self.engine.sample_rate
        current = self.engine.player.current
        start_bar, loop_bars = self.playing_start_bar, self.playing_bars
        if (
            self.timeline.frame_locked
            or resync_frames <= 0
            or self.scheduled is not None
            or not self.playing
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
        self.scheduled = ScheduledSwitch(command, "resync", bar, self.history.current)
        logger.debug("loop drifted %d frames; re-anchoring at bar %d", drift, bar + 1)

    def _target_bar(self, stop: bool = False) -> int | None:
        """The bar a switch lands on: the next one, or with `quantize="loop"` the loop's end.

        A stop always goes at the next bar line (a stopped clock is extrapolated for it).
        """
        beats = self.timeline.beats_at_frame(
            self.engine.frames_processed + self._lead_frames(), stop
        )
        if beats is None:
            return None
        bars_now = beats / self.clock.beats_per_bar
        if stop or not self.playing:
            return math.ceil(bars_now)
        return next_switch_bar(
            bars_now, 0.0, self.config.quantize, self.playing_start_bar, self.playing_bars
        )

    def _lead_frames(self) -> float:
        return max(
            self.config.lead_ms / 1000.0 * self.engine.sample_rate,
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
        self.scheduled = ScheduledSwitch(new, sched.kind, sched.bar, sched.entry)
