"""`sidecar doctor`: checks this machine can serve (torch, device, model, host, folder, port)."""

from __future__ import annotations

import argparse
import importlib
import json
import socket
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sidecar.journal import LOCK_NAME
from sidecar.osc import addresses as A
from sidecar.send_cmd import token_from

__all__ = ["Check", "register", "run_checks"]

Status = Literal["ok", "warn", "fail"]
#: What the hub said about a model that is not cached (`_ask_hub`).
HubAnswer = Literal["found", "unknown_model", "unreachable", "unsure"]

#: The transformers releases the decoder is tested with (pyproject says the same).
TRANSFORMERS_RANGE = ((5, 0), (6, 0))

#: How long the hub gets to answer doctor's one question about a model that is not cached.
HUB_TIMEOUT_SECONDS = 3.0

#: `config.json` model types `sidecar serve` loads.
_MUSICGEN_TYPES = ("musicgen", "musicgen_melody")

#: The files a MusicGen tokenizer loads from. Without either, transformers builds an empty T5
#: vocabulary without a word of warning, and every prompt word becomes <unk>.
_TOKENIZER_FILES = ("tokenizer.json", "spiece.model")

#: Weight files in the order transformers looks for them: a single file, else its shard index.
_WEIGHTS = (
    ("model.safetensors", "model.safetensors.index.json"),
    ("pytorch_model.bin", "pytorch_model.bin.index.json"),
)


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


def check_model(name: str, cache_dir: Path | None = None, endpoint: str | None = None) -> Check:
    """Weights `sidecar serve` can load: built in, a complete local folder, or a hub id that is
    cached, or else downloadable (asked of the hub once, `HUB_TIMEOUT_SECONDS` at most)."""
    from sidecar.engine.tiny import built_in_models

    if name in built_in_models():
        return Check("model", "ok", f"{name}: built in code (random weights: it makes noise)")
    path = Path(name).expanduser()
    if name.startswith((".", "/", "~")) or path.exists():  # as `sidecar serve` tells them apart
        return _check_local_model(name, path)
    return _check_hub_model(name, cache_dir, endpoint)


def _check_local_model(name: str, path: Path) -> Check:
    fix = (
        "pass a complete folder: model.save_pretrained(DIR) and tokenizer.save_pretrained(DIR) "
        "write config.json, the weights and the tokenizer; or a hub id, or --model tiny"
    )
    if not path.is_dir():
        return Check("model", "fail", f"{name}: no folder at {path}", fix)
    missing, broken, size = _inspect_folder(path)
    if missing or broken:
        lacks = [f"it lacks {', '.join(missing)}"] if missing else []
        problems = "; ".join([*lacks, *broken])
        return Check(
            "model", "fail", f"{name}: the folder {path} cannot be loaded: {problems}", fix
        )
    return Check("model", "ok", f"{name}: a local folder ({size / 2**30:.1f} GiB of weights)")


def _check_hub_model(name: str, cache_dir: Path | None, endpoint: str | None) -> Check:
    from huggingface_hub import constants, snapshot_download

    cache = cache_dir or constants.HF_HUB_CACHE
    fix = (
        f"download it once on a machine with network: hf download {name} (then copy {cache} "
        "here), or pass a local folder: --model DIR; --model tiny runs without weights"
    )
    try:
        snapshot: Path | None = Path(
            snapshot_download(name, cache_dir=cache_dir, local_files_only=True)
        )
    except Exception:  # not cached: a cache lookup only, doctor never downloads
        snapshot = None
    if snapshot is None:
        where = f"{name}: not in the Hugging Face cache ({cache})"
    else:
        missing, broken, size = _inspect_folder(snapshot)
        if broken:  # a cached file is used as it is, online or not
            return Check(
                "model",
                "fail",
                f"{name}: cached at {snapshot}, but {'; '.join(broken)}",
                f"download it again on a machine with network: hf download {name} --force-download",
            )
        if not missing:
            return Check(
                "model", "ok", f"{name}: cached at {snapshot} ({size / 2**30:.1f} GiB of weights)"
            )
        where = f"{name}: cached at {snapshot}, but without {', '.join(missing)}"
    if constants.HF_HUB_OFFLINE:
        return Check("model", "fail", f"{where}, and HF_HUB_OFFLINE is set", fix)
    hub = endpoint or constants.ENDPOINT
    answer, reason = _ask_hub(name, hub)
    if answer == "found":
        return Check(
            "model",
            "warn",
            f"{where}: `sidecar serve` downloads it from {hub} on first start",
            f"hf download {name}, to download it now instead",
        )
    if answer == "unknown_model":
        return Check(
            "model",
            "fail",
            f"{where}, and {hub} has no model '{name}' ({reason})",
            "check the name (e.g. facebook/musicgen-small); a private or gated model needs "
            "`hf auth login`; or pass a local folder: --model DIR",
        )
    if answer == "unreachable":
        return Check(
            "model",
            "fail",
            f"{where}, and {hub} cannot be reached ({reason}): `sidecar serve` could not "
            "download it",
            fix,
        )
    # No answer in time, or one that says nothing about the model: serve will try.
    return Check(
        "model",
        "warn",
        f"{where}, and {hub} {reason}: `sidecar serve` tries to download it, and fails if it "
        "cannot",
        fix,
    )


def _ask_hub(name: str, endpoint: str) -> tuple[HubAnswer, str]:
    """Whether the hub at `endpoint` has model `name`: one request, on a thread given
    `HUB_TIMEOUT_SECONDS` (name resolution included, which has no timeout of its own)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, RepositoryNotFoundError

    outcome: list[Exception | None] = []

    def ask() -> None:
        try:
            HfApi(endpoint=endpoint).model_info(name, timeout=HUB_TIMEOUT_SECONDS)
        except Exception as e:  # sorted below
            outcome.append(e)
        else:
            outcome.append(None)

    thread = threading.Thread(target=ask, name="doctor-hub", daemon=True)
    thread.start()
    thread.join(HUB_TIMEOUT_SECONDS + 0.5)
    if not outcome:
        return "unsure", f"did not answer within {HUB_TIMEOUT_SECONDS:g} s"
    error = outcome[0]
    if error is None:
        return "found", ""
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    reason = f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__
    if isinstance(error, RepositoryNotFoundError | HFValidationError):
        return "unknown_model", reason
    if isinstance(error, HfHubHTTPError):
        return "unsure", f"answered {reason}"
    names = [cls.__name__ for cls in type(error).__mro__]
    if isinstance(error, TimeoutError) or any("Timeout" in n for n in names):
        return "unsure", f"did not answer within {HUB_TIMEOUT_SECONDS:g} s ({reason})"
    if isinstance(error, OSError) or "TransportError" in names:
        return "unreachable", reason
    return "unsure", f"gave an answer doctor cannot read ({reason})"


def _inspect_folder(folder: Path) -> tuple[list[str], list[str], int]:
    """What `from_pretrained(folder)` would find missing, and which files it would fail to read
    (each named with why), and the bytes of weights it would load."""
    missing: list[str] = []
    broken: list[str] = []
    config = folder / "config.json"
    if not config.is_file():
        missing.append("config.json")
    else:
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:  # unreadable, not UTF-8 or not JSON
            broken.append(f"config.json cannot be read ({type(e).__name__}: {e})")
        else:
            model_type = data.get("model_type") if isinstance(data, dict) else None
            if model_type not in _MUSICGEN_TYPES:
                broken.append(f"config.json describes a {model_type!r} model, not MusicGen")
    weights, weights_missing, weights_broken = _weight_files(folder)
    missing += weights_missing
    broken += weights_broken
    if not any((folder / tokenizer).is_file() for tokenizer in _TOKENIZER_FILES):
        missing.append(
            f"a tokenizer ({' or '.join(_TOKENIZER_FILES)}; without one, every prompt word "
            "is unknown to the model)"
        )
    size = sum(w.stat().st_size for w in weights) if not weights_broken else 0
    return missing, broken, size


def _weight_files(folder: Path) -> tuple[list[Path], list[str], list[str]]:
    """The weight files transformers would load from `folder`, what of them is missing, and
    which are unreadable or cut short."""
    for single, index in _WEIGHTS:
        if (folder / single).is_file():
            names = [single]
        elif (folder / index).is_file():
            try:
                shard_map = json.loads((folder / index).read_text(encoding="utf-8"))["weight_map"]
                names = sorted(set(shard_map.values()))
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
                return [], [], [f"{index} cannot be read ({type(e).__name__}: {e})"]
        else:
            continue
        files = [folder / n for n in names]
        absent = [f.name for f in files if not f.is_file()]
        if absent:
            return [], [f"{', '.join(absent)} (listed in {index})"], []
        broken = [problem for f in files if (problem := _weights_problem(f))]
        return files, [], broken
    expected = " or ".join(single for single, _ in _WEIGHTS)
    return [], [f"the weights ({expected}, or their sharded index)"], []


def _weights_problem(path: Path) -> str | None:
    """Why `path` cannot be loaded, read cheaply: a safetensors file's header and length, or
    an empty file; None when it looks whole."""
    try:
        size = path.stat().st_size
        if size == 0:
            return f"{path.name} is empty"
        if path.suffix != ".safetensors":
            return None
        with open(path, "rb") as fh:
            head = fh.read(8)
            header_size = int.from_bytes(head, "little")
            if len(head) < 8 or 8 + header_size > size:
                return f"{path.name} is cut short ({size} bytes, not even its header)"
            header = json.loads(fh.read(header_size))
        end = max(
            (int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"),
            default=0,
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
        return f"{path.name} cannot be read ({type(e).__name__}: {e})"
    if 8 + header_size + end > size:
        return f"{path.name} is cut short ({size} bytes of {8 + header_size + end})"
    return None


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
    holder = _lock_holder(folder)
    if holder is not None:
        return Check(
            "output",
            "fail",
            f"{folder} is held by another running sidecar ({holder}): `sidecar serve` refuses "
            "a second server on one folder",
            "stop that server, or give this one its own --output-dir",
        )
    return Check("output", "ok", f"stems go to {folder}")


def _lock_holder(folder: Path) -> str | None:
    """Who holds `folder`'s advisory lock (the one `sidecar serve` takes there, see
    `sidecar.journal`), or None when it is free. Asked without waiting, and given back at once."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: serve takes no lock there either
        return None
    try:
        with open(folder / LOCK_NAME, "a+") as handle:  # as serve opens it
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                return handle.read().strip() or "another process"
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    except OSError as e:  # serve could not open it either
        return f"{LOCK_NAME} cannot be opened: {e.strerror or e}"
    return None


def check_host(host: str, allow_remote: bool = False, token: str | None = None) -> Check:
    """What `sidecar serve` does with `--host`: its own rule (`check_network`), applied here."""
    from sidecar.errors import UnauthorizedError
    from sidecar.server import ServerConfig, check_network

    try:
        check_network(ServerConfig(host=host, allow_remote=allow_remote, token=token))
    except UnauthorizedError as e:
        fix = (
            "set SIDECAR_TOKEN (or --token) to a shared secret of 8 or more characters"
            if allow_remote
            else "keep the default --host 127.0.0.1; to serve other machines add "
            "--allow-remote and SIDECAR_TOKEN (docs/security.md)"
        )
        return Check("host", "fail", f"`sidecar serve` will not start: {e.message}", fix)
    try:
        check_network(ServerConfig(host=host))  # passes for loopback addresses only
    except UnauthorizedError:
        return Check(
            "host",
            "warn",
            f"{host}: other machines can drive this server (each request must carry the "
            "token; OSC is plaintext on the wire)",
            "only on a network you trust, or tunnel it (WireGuard, SSH); see docs/security.md",
        )
    return Check("host", "ok", f"{host}: only this machine can send requests")


def check_port(host: str, port: int) -> Check:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as `sidecar serve` binds
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
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
    allow_remote: bool = False,
    token: str | None = None,
) -> list[Check]:
    """Every check, in the order a first start would meet them."""
    checks: list[Callable[[], Check]] = [
        lambda: check_device(device),
        check_transformers,
        lambda: check_model(model),
        lambda: check_decoder(decoder, device),
        check_dsp,
        lambda: check_host(host, allow_remote, token),
        lambda: check_output_dir(output_dir),
        lambda: check_port(host, port),
        check_looper,
    ]
    return [check() for check in checks]


def _doctor(args: argparse.Namespace) -> int:
    from sidecar.delivery import default_output_dir

    folder = Path(args.output_dir) if args.output_dir else default_output_dir()
    token = token_from(args)  # as `sidecar serve` reads it
    results = run_checks(
        args.model,
        args.device,
        args.host,
        args.port,
        folder,
        args.decoder,
        args.allow_remote,
        token,
    )
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
        help="check this machine can serve: torch and device, model weights, DSP, host, "
        "folder, port",
    )
    p.add_argument("--model", default="facebook/musicgen-small")
    p.add_argument("--device", default=None, help="auto (the best available), cuda, mps or cpu")
    p.add_argument("--decoder", default="auto", help="as for `sidecar serve`")
    p.add_argument("--host", default=A.DEFAULT_HOST)
    p.add_argument("--port", type=udp_port, default=A.DEFAULT_PORT)
    p.add_argument("--output-dir", default=None)
    p.add_argument(
        "--allow-remote", action="store_true", help="as for `sidecar serve` (docs/security.md)"
    )
    p.add_argument(
        "--token", default=None, help="as for `sidecar serve` (or the SIDECAR_TOKEN variable)"
    )
    p.set_defaults(func=_doctor)
