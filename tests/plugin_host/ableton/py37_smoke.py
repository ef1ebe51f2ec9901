"""Run the Remote Script under Live 11's Python (3.7): generate, a 3-bar stem pinned, cancel.

Usage: python3.7 py37_smoke.py REPOSITORY_ROOT. Stdlib only, 3.7 syntax (the repo's fakes use
newer syntax, so Live's objects are stood in for here); exits non-zero on an unexpected result.
"""

import os
import socket
import sys
import tempfile
import time
import types
import wave

ROOT = sys.argv[1]
sys.path.insert(0, ROOT)

from plugin_host.ableton.osc_codec import decode_packet, encode_message  # noqa: E402


class WarpMarker:
    def __init__(self, sample_time, beat_time):
        self.sample_time, self.beat_time = float(sample_time), float(beat_time)


class Clip:
    """A clip Live read as a 4-bar loop (6 s at 160), whatever the stem's real bars."""

    def __init__(self, path, seconds):
        self.file_path, self.name, self.color_index = path, "src", 0
        self.is_audio_clip, self.is_arrangement_clip, self.is_recording = True, False, False
        self.warping, self.looping, self.warp_mode = True, True, 0
        self.loop_start, self.loop_end, self.start_marker, self.end_marker = 0.0, 16.0, 0.0, 16.0
        self.sample_rate, self.sample_length = 8000.0, int(seconds * 8000)
        self.canonical_parent = None
        self.markers = [WarpMarker(0.0, 0.0), WarpMarker(seconds, 16.0)]

    @property
    def warp_markers(self):
        last = self.markers[-1]
        return [*self.markers, WarpMarker(last.sample_time + 0.05, last.beat_time + 0.125)]

    def add_warp_marker(self, marker):
        if not any(abs(m.beat_time - marker.beat_time) < 1e-9 for m in self.markers):
            self.markers = sorted([*self.markers, marker], key=lambda m: m.beat_time)

    def remove_warp_marker(self, beat_time):
        kept = [m for m in self.markers if abs(m.beat_time - beat_time) > 1e-9]
        if len(kept) == len(self.markers):
            raise RuntimeError("the shadow marker cannot be removed")
        self.markers = kept

    def beat_to_sample_time(self, beat):
        return beat * 0.5 * self.sample_rate  # samples, as Live answers (MxDCore divides)


class Slot:
    def __init__(self, track):
        self.canonical_parent, self.clip = track, None

    @property
    def has_clip(self):
        return self.clip is not None

    def create_audio_clip(self, path):
        with wave.open(path, "rb") as handle:
            seconds = handle.getnframes() / float(handle.getframerate())
        self.clip = Clip(path, seconds)
        return self.clip


class Track:
    def __init__(self):
        self.name, self.arrangement_clips = "Audio 1", []
        self.clip_slots = [Slot(self) for _ in range(4)]


def write_wav(path, seconds):
    with wave.open(path, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(b"\0\1" * int(seconds * 8000))


def receive(stub, address):
    while True:
        data, client = stub.recvfrom(65536)
        message = decode_packet(data)[0]
        if message.address == address:
            return message, client


def main():
    folder = tempfile.mkdtemp()
    prompt, stem = os.path.join(folder, "p.wav"), os.path.join(folder, "s.wav")
    write_wav(prompt, 6.0)
    write_wav(stem, 6.0)  # 3 bars at 120
    stub = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stub.bind(("127.0.0.1", 0))
    stub.settimeout(5)
    with open(os.path.join(folder, "settings.json"), "w") as handle:
        port = stub.getsockname()[1]
        handle.write(f'{{"sidecar_port": {port}, "sidecar_host": "localhost"}}')
    track = Track()
    source = Clip(prompt, 6.0)
    source.loop_end = 12.0
    source.canonical_parent = track.clip_slots[0]
    track.clip_slots[0].clip = source
    song = types.SimpleNamespace(
        tempo=120.0,
        signature_numerator=4,
        signature_denominator=4,
        scale_mode=False,
        view=types.SimpleNamespace(detail_clip=source),
        tracks=[track],
        create_scene=lambda index: None,
    )
    app = types.SimpleNamespace(
        get_major_version=lambda: 12, get_minor_version=lambda: 1, get_bugfix_version=lambda: 0
    )
    live = types.ModuleType("Live")
    live.Application = types.SimpleNamespace(get_application=lambda: app)
    live.Clip = types.SimpleNamespace(WarpMarker=WarpMarker)
    sys.modules["Live"] = live
    messages = []
    c_instance = types.SimpleNamespace(
        song=lambda: song,
        show_message=messages.append,
        log_message=messages.append,
        handle=lambda: 1,
        request_rebuild_midi_map=lambda: None,
    )
    from plugin_host.ableton.surface import SidecarSurface

    surface = SidecarSurface(c_instance, settings_directory=folder)
    surface.update_display()
    surface.receive_midi((0x9F, 60, 100))
    message, client = receive(stub, "/sidecar/continue")
    request_id = message.arguments[0]
    pairs = message.arguments[1:]
    sent = {pairs[i]: pairs[i + 1] for i in range(0, len(pairs) - 1, 2)}
    reply = [request_id, 0, stem, "seed", 9, "bars", 3]
    stub.sendto(encode_message("/sidecar/stem", reply), client)
    for _ in range(100):
        surface.update_display()
        if track.clip_slots[1].has_clip:
            break
        time.sleep(0.01)
    surface.update_display()  # the tick after the insert looks at the clip again
    clip = track.clip_slots[1].clip
    pinned = [(m.beat_time, m.sample_time) for m in clip.markers]
    print(sys.version.split()[0], "clip_bpm", sent.get("clip_bpm"), "bars", sent["bars"])
    print("inserted:", clip.name, "markers", pinned, "loop", clip.looping, clip.loop_end)
    surface.disconnect()  # the request is still running: the sidecar is told to cancel it
    cancel, _ = receive(stub, "/sidecar/cancel")
    print("cancelled on disconnect:", list(cancel.arguments) == [request_id])
    assert sent["clip_bpm"] == 120.0 and sent["bars"] == 3, sent
    assert clip.name == "default s9 120bpm", messages
    assert pinned == [(0.0, 0.0), (12.0, 6.0)] and clip.loop_end == 12.0, messages
    assert clip.looping and clip.warp_mode == 4, messages
    assert list(cancel.arguments) == [request_id]


main()
