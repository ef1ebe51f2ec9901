"""Loop playback in the audio callback: sample-accurate switches, equal-power crossfades."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LoopPlayer", "SwitchCommand"]

_SWITCH_LOG = 64


@dataclass(frozen=True, eq=False)
class SwitchCommand:
    """Start `audio` (`(frames, channels)` float32, looped) at absolute stream frame `start_frame`.

    `audio=None` fades the current loop out at `start_frame` (stop). Built by the control thread
    and handed to the callback by one reference store; the callback never copies or allocates it.
    """

    token: int
    start_frame: int
    audio: np.ndarray | None


class LoopPlayer:
    """Mixes the current loop (and the one fading out) into the output block.

    Control side: `schedule()` / `cancel()`. Audio side: `render(out, frame0)`, which only reads
    preallocated arrays, writes into `out` and into preallocated scratch; its work per block is
    fixed (at most two voices), whatever the loop length or the time since start.
    """

    def __init__(self, channels: int, max_block_frames: int, crossfade_frames: int) -> None:
        if channels < 1:
            raise ValueError(f"channels must be >= 1; got {channels}")
        if max_block_frames < 1:
            raise ValueError(f"max_block_frames must be >= 1; got {max_block_frames}")
        if crossfade_frames < 0:
            raise ValueError(f"crossfade_frames must be >= 0; got {crossfade_frames}")
        self.channels = channels
        self.max_block_frames = max_block_frames
        self.crossfade_frames = crossfade_frames
        # Equal-power curves, with a trailing 1.0 / 0.0 so a slice past the fade reads the end.
        ramp = (np.arange(crossfade_frames, dtype=np.float64) + 0.5) / max(crossfade_frames, 1)
        self._fade_in = np.sin(0.5 * np.pi * ramp).astype(np.float32)
        self._fade_out = np.cos(0.5 * np.pi * ramp).astype(np.float32)
        self._gain = np.zeros(max_block_frames, dtype=np.float32)
        self._scratch = np.zeros((max_block_frames, channels), dtype=np.float32)
        self._pending: SwitchCommand | None = None
        self._current: SwitchCommand | None = None
        self._fading: SwitchCommand | None = None
        self._fade_start = 0
        # Switch log written by the callback: [token, requested frame, applied frame].
        self._log = np.zeros((_SWITCH_LOG, 3), dtype=np.int64)
        self._log_count = 0

    # -- control side ------
    def schedule(self, command: SwitchCommand) -> None:
        """Hand `command` to the callback; it replaces any switch not yet applied."""
        if command.audio is not None:
            audio = command.audio
            if audio.ndim != 2 or audio.shape[1] != self.channels or audio.dtype != np.float32:
                raise ValueError(
                    f"loop audio must be float32 (frames, {self.channels}); "
                    f"got {audio.dtype} {audio.shape}"
                )
            if audio.shape[0] == 0:
                raise ValueError("loop audio is empty")
        self._pending = command

    def cancel(self) -> SwitchCommand | None:
        """Withdraw the pending switch; returns it, or None if the callback already took it."""
        pending = self._pending
        self._pending = None
        return pending

    @property
    def pending(self) -> SwitchCommand | None:
        return self._pending

    @property
    def current(self) -> SwitchCommand | None:
        return self._current

    def applied_switches(self) -> list[tuple[int, int, int]]:
        """(token, requested frame, applied frame) of the most recent switches, oldest first."""
        count = self._log_count
        first = max(0, count - _SWITCH_LOG)
        rows = [self._log[i % _SWITCH_LOG] for i in range(first, count)]
        return [(int(r[0]), int(r[1]), int(r[2])) for r in rows]

    def applied_frame(self, token: int) -> int | None:
        """The frame where switch `token` was applied, or None (not yet, or too long ago)."""
        count = self._log_count
        if count == 0:
            return None
        latest = self._log[(count - 1) % _SWITCH_LOG]
        if latest[0] == token:  # the common case, without building anything
            return int(latest[2])
        rows = np.flatnonzero(self._log[: min(count, _SWITCH_LOG), 0] == token)
        return None if rows.size == 0 else int(self._log[rows[-1], 2])

    # -- audio side ------
    def render(self, out: np.ndarray, frame0: int) -> None:
        """Write frames `[frame0, frame0 + len(out))` of the mix into `out` (real-time safe)."""
        frames = out.shape[0]
        out.fill(0.0)
        done = 0
        while done < frames:  # only loops when the host hands us more than max_block_frames
            n = min(frames - done, self.max_block_frames)
            self._render_chunk(out[done : done + n], frame0 + done)
            done += n

    def _render_chunk(self, out: np.ndarray, frame0: int) -> None:
        n = out.shape[0]
        end = frame0 + n
        pending = self._pending
        if pending is not None and pending.start_frame < end:
            applied = max(pending.start_frame, frame0)
            if self._current is not None:
                self._fading = self._current
                self._fade_start = applied
            # A late switch keeps the new loop's phase as if it had started on time.
            self._current = pending if pending.audio is not None else None
            row = self._log[self._log_count % _SWITCH_LOG]
            row[0] = pending.token
            row[1] = pending.start_frame
            row[2] = applied
            self._log_count += 1
            self._pending = None
        fading = self._fading
        if fading is not None:
            if self._add_voice(out, frame0, fading, fade_out_from=self._fade_start):
                self._fading = None
        current = self._current
        if current is not None:
            self._add_voice(out, frame0, current, fade_out_from=None)

    def _add_voice(
        self, out: np.ndarray, frame0: int, voice: SwitchCommand, fade_out_from: int | None
    ) -> bool:
        """Mix one looped voice in; returns True once its fade-out has finished."""
        audio = voice.audio
        if audio is None:
            return True
        n = out.shape[0]
        xf = self.crossfade_frames
        gain = self._gain[:n]
        gain.fill(1.0)
        # Fade in over [start, start + xf).
        offset = voice.start_frame - frame0
        if offset > 0:
            gain[: min(offset, n)] = 0.0
        if xf and offset + xf > 0 and offset < n:
            lo = max(offset, 0)
            hi = min(offset + xf, n)
            gain[lo:hi] = self._fade_in[lo - offset : hi - offset]
        finished = False
        if fade_out_from is not None:
            f_off = fade_out_from - frame0
            if xf and f_off + xf > 0 and f_off < n:
                lo = max(f_off, 0)
                hi = min(f_off + xf, n)
                gain[lo:hi] *= self._fade_out[lo - f_off : hi - f_off]
            silent_from = max(f_off + xf, 0)
            if silent_from < n:
                gain[silent_from:] = 0.0
            finished = silent_from <= n
        first = max(frame0, voice.start_frame)
        if first >= frame0 + n:
            return finished
        # Copy the looped audio for [first, frame0 + n) into scratch, wrapping as needed.
        length = audio.shape[0]
        scratch = self._scratch
        pos = first
        while pos < frame0 + n:
            index = (pos - voice.start_frame) % length
            chunk = min(frame0 + n - pos, length - index)
            dst = pos - frame0
            np.copyto(scratch[dst : dst + chunk], audio[index : index + chunk])
            pos += chunk
        lo = first - frame0
        np.multiply(scratch[lo:n], gain[lo:n, None], out=scratch[lo:n])
        np.add(out[lo:n], scratch[lo:n], out=out[lo:n])
        return finished
