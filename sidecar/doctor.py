"""`sidecar doctor`: checks this machine can serve (torch, device, model, DSP, folder, port)."""

from __future__ import annotations

import argparse
import importlib
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sidecar.osc import addresses as A

__all__ = ["Check", "register", "run_checks"]

Status = Literal["ok", "warn", "fail"]

#: The transformers releases the decoder is tested with (pyproject says the same).
TRANSFORMERS_RANGE = ((5, 0), (6, 0))


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, how it went, and the fix when it did not."""

    name: str
    status: Status
    detail: str
    fix: str = ""


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


def check_transformers() -> Check:
    try:
        found = version("transformers")
    except PackageNotFoundError:
        return Check("transformers", "fail", "not installed", 'pip install "transformers>=5.0,<6"')
    release = tuple(int(part) for part in found.split(".")[:2] if part.isdigit())
    low, high = TRANSFORMERS_RANGE
    if len(release) == 2 and low <= release < high:
        return Check("transformers", "ok", found)
    return Check(
        "transformers",
        "fail",
        f"{found} is outside the tested range 5.x",
        'pip install "transformers>=5.0,<6"',
    )


def check_model(name: str, cache_dir: Path | None = None) -> Check:
    """Weights on disk: built in, a local directory, or a hub id in the cache (never fetched)."""
    from sidecar.engine.tiny import built_in_models

    if name in built_in_models():
        return Check("model", "ok", f"{name}: built in code (random weights: it makes noise)")
    path = Path(name).expanduser()
    if name.startswith((".", "/", "~")) or path.exists():
        if (path / "config.json").is_file():
            return Check("model", "ok", f"{name}: a local directory with config.json")
        return Check(
            "model",
            "fail",
            f"{name}: no save_pretrained directory at {path}",
            "pass a directory saved with save_pretrained, or a hub id",
        )
    from huggingface_hub import constants, snapshot_download

    fix = f"hf download {name}   (once, online; or --model tiny to try without weights)"
    try:
        snapshot = Path(snapshot_download(name, cache_dir=cache_dir, local_files_only=True))
    except Exception:  # not cached; the hub is not asked: doctor never downloads
        where = f"{name}: not in the Hugging Face cache ({cache_dir or constants.HF_HUB_CACHE})"
        if constants.HF_HUB_OFFLINE:
            return Check("model", "fail", f"{where}, and HF_HUB_OFFLINE is set", fix)
        # Online, `sidecar serve` downloads it at its first start: a wait, not a failure.
        return Check(
            "model",
            "warn",
            f"{where}: `sidecar serve` downloads it on first start",
            f"{fix}, to download it now instead",
        )
    weights = [*snapshot.glob("*.safetensors"), *snapshot.glob("*.bin")]
    if not (snapshot / "config.json").is_file() or not weights:
        return Check("model", "fail", f"{name}: cached at {snapshot}, but without its weights", fix)
    size = sum(w.stat().st_size for w in weights) / 2**30
    return Check("model", "ok", f"{name}: cached at {snapshot} ({size:.1f} GiB of weights)")


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


def check_output_dir(folder: Path) -> Check:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as e:
        return Check(
            "output",
            "fail",
            f"cannot write in {folder}: {e.strerror or e}",
            "pass --output-dir to a folder you can write to",
        )
    return Check("output", "ok", f"stems go to {folder}")


def check_port(host: str, port: int) -> Check:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as e:
            return Check(
                "port",
                "fail",
                f"udp://{host}:{port} is taken ({e.strerror or e})",
                f"a sidecar may already run there (sidecar send ping --port {port}); "
                "or pick another --port",
            )
    return Check("port", "ok", f"udp://{host}:{port} is free")


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


def run_checks(
    model: str,
    device: str | None,
    host: str,
    port: int,
    output_dir: Path,
    decoder: str = "auto",
) -> list[Check]:
    """Every check, in the order a first start would meet them."""
    checks: list[Callable[[], Check]] = [
        lambda: check_device(device),
        check_transformers,
        lambda: check_model(model),
        lambda: check_decoder(decoder, device),
        check_dsp,
        lambda: check_output_dir(output_dir),
        lambda: check_port(host, port),
        check_looper,
    ]
    return [check() for check in checks]


def _doctor(args: argparse.Namespace) -> int:
    from sidecar.delivery import default_output_dir

    folder = Path(args.output_dir) if args.output_dir else default_output_dir()
    results = run_checks(args.model, args.device, args.host, args.port, folder, args.decoder)
    for check in results:
        print(f"{check.status:<4}  {check.name:<12}  {check.detail}")
        if check.fix and check.status != "ok":
            print(f"{'':<4}  {'':<12}  fix: {check.fix}")
    failed = [c.name for c in results if c.status == "fail"]
    print("ready to serve" if not failed else f"not ready: {', '.join(failed)}")
    return 1 if failed else 0


def register(subparsers: Any) -> None:
    """Add `sidecar doctor` to the CLI's subcommands."""
    from sidecar.cli import udp_port

    p = subparsers.add_parser(
        "doctor",
        help="check this machine can serve: torch and device, model weights, DSP, folder, port",
    )
    p.add_argument("--model", default="facebook/musicgen-small")
    p.add_argument("--device", default=None, help="auto (the best available), cuda, mps or cpu")
    p.add_argument("--decoder", default="auto", help="as for `sidecar serve`")
    p.add_argument("--host", default=A.DEFAULT_HOST)
    p.add_argument("--port", type=udp_port, default=A.DEFAULT_PORT)
    p.add_argument("--output-dir", default=None)
    p.set_defaults(func=_doctor)
