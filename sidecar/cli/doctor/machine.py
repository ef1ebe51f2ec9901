"""Doctor's machine checks: torch device, the decode path `auto` picks, DSP stack, audio devices."""

from __future__ import annotations

import importlib
from importlib.metadata import version

import numpy as np

from sidecar.cli.doctor.check import Check

__all__ = ["check_decoder", "check_device", "check_dsp", "check_looper"]


def check_device(requested: str | None) -> Check:
    import torch

    from sidecar.engine.musicgen import pick_device
    from sidecar.errors import ModelLoadError

    try:
        device = pick_device(requested)
    except ModelLoadError as e:
        return Check(
            "device",
            "fail",
            e.message,
            "install the torch build for your GPU (pytorch.org), or --device cpu",
        )
    about = f"torch {torch.__version__}, device {device}"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            return Check(
                "device",
                "fail",
                f"{about}, but torch sees no CUDA GPU",
                "install the torch build for your GPU (pytorch.org), or --device cpu",
            )
        props = torch.cuda.get_device_properties(torch.device(device))
        return Check(
            "device", "ok", f"{about} ({props.name}, {props.total_memory / 2**30:.0f} GiB)"
        )
    if device == "cpu":
        return Check(
            "device",
            "warn",
            f"{about}: no GPU, so decoding takes several seconds per "
            "second of audio (docs/performance.md)",
            "on a machine with an NVIDIA GPU, install torch's CUDA build",
        )
    return Check("device", "ok", about)


def check_decoder(decoder: str, requested_device: str | None) -> Check:
    """What `--decoder` means on this device (`auto` picks one per device)."""
    from sidecar.engine.loader import DECODERS, resolve_decoder
    from sidecar.engine.musicgen import pick_device
    from sidecar.errors import ModelLoadError

    # Named as asked (whether this machine has it is the device check's business).
    auto = requested_device in (None, "", "auto")
    device = pick_device(None) if auto else str(requested_device)
    try:
        chosen = resolve_decoder(decoder, device)
    except ModelLoadError as e:
        return Check("decoder", "fail", e.message, f"--decoder one of {', '.join(DECODERS)}")
    plain = {
        "stock": "transformers' own generate",
        "exact": "token-identical to transformers' generate",
    }
    if chosen in plain:
        about = plain[chosen]
    else:  # what the mode runs here, as the engine will choose it
        import torch

        from sidecar.engine.decode_modes import DecodeSettings
        from sidecar.engine.precision import inference_dtype

        mode = DecodeSettings.choose(chosen, torch.device(device), inference_dtype(device))
        weights = "int8" if mode.linear == "int8" else str(mode.weight_dtype).removeprefix("torch.")
        kernels = "a CUDA graph per step" if mode.cuda_graphs else f"{mode.linear} linears"
        about = f"{weights} weights, {kernels}"
    named = f"auto -> {chosen}" if decoder == "auto" else chosen
    return Check("decoder", "ok", f"{named} on {device} ({about})")


def check_dsp() -> Check:
    """The tempo contract's stack: Rubber Band (pedalboard), librosa, pyloudnorm, soxr."""
    try:
        import pedalboard
        import pyloudnorm
        import soxr

        importlib.import_module("librosa")  # its first beat tracking compiles (numba): not here

        noise = np.random.default_rng(0).standard_normal((1, 4800)).astype(np.float32) * 0.1
        pedalboard.time_stretch(noise, 48000, 1.02)
        soxr.resample(noise[0], 48000, 32000)
        pyloudnorm.Meter(48000)
    except Exception as e:  # reported as the fix to make, not raised
        return Check(
            "dsp",
            "fail",
            f"{type(e).__name__}: {e}",
            "pip install --force-reinstall pedalboard librosa pyloudnorm soxr",
        )
    return Check(
        "dsp",
        "ok",
        f"pedalboard {version('pedalboard')} (Rubber Band), librosa {version('librosa')}",
    )


def check_looper() -> Check:
    """Only `sidecar loop` needs an audio interface; the server does not."""
    try:
        import sounddevice

        devices = sounddevice.query_devices()
    except Exception as e:  # a missing PortAudio library raises OSError at import
        return Check(
            "looper",
            "warn",
            f"no audio I/O ({type(e).__name__}: {e}); only `sidecar loop` needs it",
            "pip install sounddevice; apt-get install "
            "libportaudio2 (Linux); the server runs without it",
        )
    if len(devices) == 0:
        return Check(
            "looper",
            "warn",
            "PortAudio sees no audio device; only `sidecar loop` needs one",
            "connect an audio interface, or start JACK (jackd -d dummy)",
        )
    return Check("looper", "ok", f"PortAudio sees {len(devices)} audio device(s)")
