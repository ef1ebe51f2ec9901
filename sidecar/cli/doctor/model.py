"""Doctor's model checks: transformers' version, a model's weights (cached, hub, or folder)."""

from __future__ import annotations

import json
import threading
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Literal

from sidecar.cli.doctor.check import Check

__all__ = ["HUB_TIMEOUT_SECONDS", "TRANSFORMERS_RANGE", "check_model", "check_transformers"]


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
