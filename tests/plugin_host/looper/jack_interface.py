"""A JACK client standing in for an audio interface whose ports report set latencies.

Run as a script (by `jack.jack_interface`): `jack_interface.py NAME CAPTURE PLAYBACK [--virtual]`.
It registers capture_1/2 (outputs) and playback_1/2 (inputs) reporting CAPTURE and PLAYBACK
frames of latency, as a backend reports its hardware's (`jackd -d alsa -I/-O`), prints "ready",
and runs until its stdin closes. `--virtual` registers the ports without JackPortIsPhysical:
JACK then keeps their latency in ranges only, which PortAudio's JACK API does not read.
"""

from __future__ import annotations

import ctypes
import sys

_NO_START_SERVER = 0x01
_IS_INPUT, _IS_OUTPUT, _IS_PHYSICAL, _IS_TERMINAL = 0x1, 0x2, 0x4, 0x10
_CAPTURE, _PLAYBACK = 0, 1  # jack_latency_callback_mode_t
_AUDIO = b"32 bit float mono audio"


class _Range(ctypes.Structure):
    _fields_ = [("min", ctypes.c_uint32), ("max", ctypes.c_uint32)]


_Process = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint32, ctypes.c_void_p)
_Latency = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p)


def _libjack() -> ctypes.CDLL:
    lib = ctypes.CDLL("libjack.so.0")
    lib.jack_client_open.restype = ctypes.c_void_p
    lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.jack_port_register.restype = ctypes.c_void_p
    lib.jack_port_register.argtypes = [
        ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_ulong,
    ]  # fmt: skip
    lib.jack_port_set_latency_range.argtypes = [
        ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(_Range),
    ]  # fmt: skip
    lib.jack_set_process_callback.argtypes = [ctypes.c_void_p, _Process, ctypes.c_void_p]
    lib.jack_set_latency_callback.argtypes = [ctypes.c_void_p, _Latency, ctypes.c_void_p]
    lib.jack_activate.argtypes = [ctypes.c_void_p]
    lib.jack_client_close.argtypes = [ctypes.c_void_p]
    return lib


def main(argv: list[str]) -> int:
    name, capture, playback = argv[0], int(argv[1]), int(argv[2])
    physical = 0 if "--virtual" in argv else _IS_PHYSICAL
    lib = _libjack()
    status = ctypes.c_int(0)
    client = lib.jack_client_open(name.encode(), _NO_START_SERVER, ctypes.byref(status))
    if not client:
        print(f"jack_client_open failed: status {status.value:#x}", flush=True)
        return 1
    flags = {
        _CAPTURE: _IS_OUTPUT | physical | _IS_TERMINAL,
        _PLAYBACK: _IS_INPUT | physical | _IS_TERMINAL,
    }
    ports = {
        mode: [
            lib.jack_port_register(client, f"{kind}_{i}".encode(), _AUDIO, flags[mode], 0)
            for i in (1, 2)
        ]
        for mode, kind in ((_CAPTURE, "capture"), (_PLAYBACK, "playback"))
    }
    frames = {_CAPTURE: capture, _PLAYBACK: playback}

    def on_latency(mode: int, _arg: object) -> None:
        if mode in ports:
            span = _Range(frames[mode], frames[mode])
            for port in ports[mode]:
                lib.jack_port_set_latency_range(port, mode, ctypes.byref(span))

    # The graph waits for every active client each period: answer at once (the ports' buffers
    # are never read for their content here).
    process, latency = _Process(lambda _frames, _arg: 0), _Latency(on_latency)
    lib.jack_set_process_callback(client, process, None)
    lib.jack_set_latency_callback(client, latency, None)
    on_latency(_CAPTURE, None)
    on_latency(_PLAYBACK, None)
    if lib.jack_activate(client):
        print("jack_activate failed", flush=True)
        return 1
    print("ready", flush=True)
    sys.stdin.read()
    lib.jack_client_close(client)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
