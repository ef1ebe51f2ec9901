"""Command line: `sidecar serve | generate | send | demo` and the subcommands of other parts."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sidecar import __version__
from sidecar.cli.args import parse_pairs, positive_int, udp_port
from sidecar.cli.separator import add_separator_args
from sidecar.osc import addresses as A
from sidecar.web import DEFAULT_HTTP_PORT, MAX_UPLOAD_BYTES

if TYPE_CHECKING:
    from sidecar.output.delivery import Delivery

__all__ = ["main"]

log = logging.getLogger("sidecar")

#: Modules that add their own subcommand through `register(subparsers)`, by subcommand name.
_PLUGINS = {
    "conform": "sidecar.cli.conform",
    "doctor": "sidecar.cli.doctor",
    "fetch-separator": "sidecar.cli.separator",
    "install-ableton": "sidecar.cli.install_ableton",
    "pool": "sidecar.cli.pool",
    "loop": "plugin_host.looper.cli",
}


def _add_model_args(p: argparse.ArgumentParser) -> None:
    """Flags of everything that loads a model: serve and generate."""
    add_separator_args(p)
    p.add_argument(
        "--presets",
        type=Path,
        default=None,
        metavar="DIR",
        help="preset folder (default: the shipped presets/)",
    )
    p.add_argument(
        "--model",
        default="facebook/musicgen-small",
        help="hub id, local save_pretrained directory, or 'tiny' (offline test model)",
    )
    p.add_argument("--device", default=None, help="auto (the best available), cuda, mps or cpu")
    p.add_argument(
        "--decoder",
        default="auto",
        help="decode path: auto (default: fast on CUDA, fp32 on CPU, exact elsewhere), "
        "exact (token-identical to transformers), fast, fp32, int8, or stock "
        "(see docs/performance.md)",
    )
    p.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help="where stems are written (default: the user data directory)",
    )
    p.add_argument(
        "--engine",
        default=None,
        metavar="URL",
        help="a GPU pool (`sidecar pool serve`) that decodes `remote:NAME` models; everything "
        "else (clips, post-processing, files) stays here (docs/remote.md)",
    )
    p.add_argument(
        "--engine-token",
        default=None,
        help="the pool's token (prefer the SIDECAR_ENGINE_TOKEN environment variable)",
    )


def engine_token_from(args: argparse.Namespace) -> str | None:
    """The pool's token: `--engine-token`, else the `SIDECAR_ENGINE_TOKEN` variable."""
    return args.engine_token or os.environ.get("SIDECAR_ENGINE_TOKEN") or None


def _output_dir(args: argparse.Namespace) -> Path:
    from sidecar.output.delivery import default_output_dir

    return Path(args.output_dir) if args.output_dir else default_output_dir()


def _writable_delivery(args: argparse.Namespace) -> Delivery:
    """A Delivery into --output-dir, made and probed (a file written and removed) now."""
    from sidecar.errors import DeliveryError
    from sidecar.output.delivery import Delivery

    delivery = Delivery(_output_dir(args))
    try:
        delivery.ensure_writable()
    except DeliveryError as e:
        folder = delivery.output_dir
        for place in (folder, *folder.parents):
            if place.exists() and not place.is_dir():
                message = f"--output-dir {folder}: {place} is a file, not a folder"
                raise DeliveryError(message) from e
        raise DeliveryError(f"--output-dir: {e.message}") from e
    return delivery


def _serve(args: argparse.Namespace) -> int:
    from sidecar.cli.send import token_from
    from sidecar.server import Server, ServerConfig

    config = ServerConfig(
        model=args.model,
        host=args.host,
        port=args.port,
        device=args.device,
        decoder=args.decoder,
        output_dir=_output_dir(args),
        queue_size=args.queue_size,
        warm_up=not args.no_warm_up,
        pipeline=not args.no_pipeline,
        allow_remote=args.allow_remote,
        token=token_from(args),
        allowed_roots=tuple(Path(p) for p in args.allow_root) if args.allow_root else None,
        presets_dir=args.presets,
        history_path=args.history,
        http_port=None if args.no_http else args.http_port,
        max_upload_bytes=args.max_upload_mb * 1024**2,
        separator=args.separator,
        load_separator=args.load_separator,
        engine_url=args.engine,
        engine_token=engine_token_from(args),
    )
    return asyncio.run(Server(config).run())


class _Bar:
    """A one-line progress bar on stderr, and the other Reporter calls as printed lines."""

    def progress(self, job: Any, fraction: float, eta_seconds: float) -> None:
        filled = int(fraction * 30)
        eta = f" eta {eta_seconds:5.1f}s" if eta_seconds >= 0 else ""
        sys.stderr.write(f"\r[{'#' * filled}{' ' * (30 - filled)}] {fraction:4.0%}{eta}")
        sys.stderr.flush()

    def preview(self, job: Any, path: str, seconds_ready: float) -> None:
        sys.stderr.write(f"\npreview: {seconds_ready:.1f} s ready in {path}\n")

    def stem(self, job: Any, stem: Any) -> None:
        sys.stderr.write("\n")
        print(stem.path)

    def done(self, job: Any, n_files: int) -> None:
        sys.stderr.write(f"\ndone: {n_files} file(s)\n")

    def error(self, job: Any, code: str, message: str) -> None:
        sys.stderr.write(f"\nerror [{code}]: {message}\n")

    def cancelled(self, job: Any) -> None:
        sys.stderr.write("\ncancelled\n")


def _generate(args: argparse.Namespace) -> int:
    from sidecar.engine.loader import load_engine
    from sidecar.errors import SidecarError
    from sidecar.jobs.queue import Job, JobState
    from sidecar.jobs.runner import JobRunner
    from sidecar.musical.presets import PresetLibrary, default_presets_dir
    from sidecar.osc.resolve import apply_preset
    from sidecar.osc.schema import GenerateRequest

    address = A.CONTINUE if any(p.startswith("clip=") for p in args.pairs) else A.GENERATE
    try:
        request = GenerateRequest.from_osc(address, [args.id, *parse_pairs(args.pairs)])
        library = PresetLibrary.load(args.presets or default_presets_dir(), strict=False)
        request, preset = apply_preset(request, library)
        delivery = _writable_delivery(args)  # before the model loads and the decode runs
        engine = load_engine(
            args.model, args.device, args.decoder, args.engine, engine_token_from(args)
        )
    except SidecarError as e:
        sys.stderr.write(f"error [{e.code}]: {e.message}\n")
        return 2 if e.code == "bad_request" else 1
    job = Job(request=request, reply_to=("", 0), preset=preset)
    job.start()
    from sidecar.engine.separator import SeparatorSlot

    runner = JobRunner(engine, delivery, _Bar(), separators=SeparatorSlot(args.separator))
    try:
        runner.run(job)
    finally:
        runner.close()
    return 0 if job.state is JobState.DONE else 1


def _demo(args: argparse.Namespace) -> int:
    """Start a tiny-model server, make an example clip, continue it over OSC, print the reply."""
    from sidecar.cli.examples import write_example_clip
    from sidecar.osc.client import SidecarClient
    from sidecar.server import Server, ServerConfig

    work = Path(args.output_dir or tempfile.mkdtemp(prefix="sidecar-demo-"))
    clip = write_example_clip(work / "example-drums-120bpm.wav", bpm=120.0, bars=2)
    config = ServerConfig(model="tiny", port=args.port, output_dir=work / "stems")
    server = Server(config)
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(asyncio.run(server.run())), daemon=True)
    thread.start()
    print(f"example clip: {clip}")
    deadline = time.monotonic() + 120
    # Only our own server may answer: another one already on the port would take the job.
    while server.listening is False and not codes and time.monotonic() < deadline:
        time.sleep(0.01)
    if codes or not server.listening:
        sys.stderr.write(f"the demo server could not listen on port {args.port} (see above)\n")
        return 1
    with SidecarClient("127.0.0.1", args.port) as client:
        while (pong := client.ping(1.0)) is None or pong[3] != "ready":
            if time.monotonic() > deadline or codes:
                sys.stderr.write("the demo server did not start\n")
                return 1
        print("server:", *pong)
        client.send(
            A.CONTINUE,
            "demo-1",
            "clip",
            str(clip),
            "bars",
            2,
            "bpm",
            120.0,
            "prompt",
            "drum groove",
            "seed",
            7,
        )
        replies = client.until_terminal("demo-1", timeout_seconds=300)
    for address, reply_args in replies:
        print(address, *reply_args)
    server.request_stop()
    thread.join(30)
    return 0 if replies[-1][0] == A.DONE else 1


def build_parser() -> argparse.ArgumentParser:
    from sidecar.cli.send import register as register_send

    parser = argparse.ArgumentParser(prog="sidecar", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--log-level", default="INFO")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the OSC server with the model loaded and warm")
    _add_model_args(p)
    p.add_argument("--host", default=A.DEFAULT_HOST)
    p.add_argument("--port", type=udp_port, default=A.DEFAULT_PORT)
    p.add_argument("--queue-size", type=positive_int, default=32)
    p.add_argument("--no-warm-up", action="store_true", help="skip the warm-up generation")
    p.add_argument(
        "--no-pipeline",
        action="store_true",
        help="finish each job before the next decodes (for benchmarks; default: side by side)",
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (needs a token); see docs/security.md",
    )
    p.add_argument(
        "--token",
        default=None,
        help="shared token every request must end with ('token <value>'); "
        "prefer the SIDECAR_TOKEN environment variable",
    )
    p.add_argument(
        "--allow-root",
        action="append",
        default=[],
        metavar="DIR",
        help="folder clips may be read from (repeatable; default: home, output "
        "and temp directories)",
    )
    p.add_argument(
        "--history",
        type=Path,
        default=None,
        metavar="FILE",
        help="take history database (default: <output-dir>/history.sqlite)",
    )
    p.add_argument(
        "--http-port",
        type=udp_port,
        default=DEFAULT_HTTP_PORT,
        help=f"TCP port of the studio page on --host (default {DEFAULT_HTTP_PORT}; 0: any free)",
    )
    p.add_argument("--no-http", action="store_true", help="serve OSC only, without the page")
    p.add_argument(
        "--max-upload-mb",
        type=positive_int,
        default=MAX_UPLOAD_BYTES // 1024**2,
        help="largest clip the studio page takes, in MiB (default 64)",
    )
    p.set_defaults(func=_serve)

    p = sub.add_parser(
        "generate",
        help="one request without a server: a progress bar, then the files' paths",
        description="Run one request in this process: a progress bar on stderr, each "
        "delivered file's path on stdout. The output folder is made and checked before the "
        "model loads. Exit status 0 when done, 2 for a bad request, 1 for any other error.",
    )
    _add_model_args(p)
    p.add_argument(
        "--id", default="cli", help="request id; files go to <output-dir>/<id>/ (<id>-2/ if taken)"
    )
    p.add_argument(
        "pairs",
        nargs="*",
        metavar="key=value",
        help="request keys, e.g. prompt='lofi beat' bars=4 bpm=90; with clip=loop.wav it "
        "continues the clip",
    )
    p.set_defaults(func=_generate)

    register_send(sub)

    p = sub.add_parser("demo", help="offline demo: tiny model, example clip, one continue")
    p.add_argument("--port", type=udp_port, default=9319)
    p.add_argument("--output-dir", default=None)
    p.set_defaults(func=_demo)

    for command, name in _PLUGINS.items():
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name is not None and name.startswith(e.name):
                continue  # that part is not installed at all
            _register_unavailable(sub, command, name, e)
        except (ImportError, OSError) as e:  # e.g. sounddevice without the PortAudio library
            _register_unavailable(sub, command, name, e)
        else:
            module.register(sub)
    return parser


def _register_unavailable(sub: Any, command: str, module: str, error: Exception) -> None:
    """A subcommand whose module cannot load here: the others (serve above all) still work.

    Running it prints why, e.g. the looper on a headless GPU box with no PortAudio library.
    """
    reason = f"{type(error).__name__}: {error}"
    log.debug("subcommand %s unavailable (%s): %s", command, module, reason)
    p = sub.add_parser(command, help=f"(unavailable here: {reason})", add_help=False)

    def unavailable(args: argparse.Namespace) -> int:
        del args
        sys.stderr.write(
            f"error: `sidecar {command}` cannot run here: importing {module} failed with "
            f"{reason}. Install what it names (for the looper: pip install sounddevice, and "
            "the PortAudio library, e.g. apt-get install libportaudio2).\n"
        )
        return 1

    p.set_defaults(func=unavailable, takes_any_arguments=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "takes_any_arguments", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args))
    except KeyboardInterrupt:  # Ctrl-C in `generate` or `send`: stop quietly, as a shell expects
        sys.stderr.write("interrupted\n")
        return 130
