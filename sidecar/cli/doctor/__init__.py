"""`sidecar doctor`: checks this machine can serve (torch, device, model, host, folder, port).

One module per subject: `machine`, `model`, `conditions` (the server's start-up self-check),
`separator`, `serving`, `remote` (the `--engine` pool); `check` is the report line they
share.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sidecar.cli.doctor.check import Check
from sidecar.cli.doctor.conditions import check_conditions
from sidecar.cli.doctor.machine import check_decoder, check_device, check_dsp, check_looper
from sidecar.cli.doctor.model import check_model, check_transformers
from sidecar.cli.doctor.remote import check_engine
from sidecar.cli.doctor.separator import check_separator
from sidecar.cli.doctor.serving import check_host, check_output_dir, check_port
from sidecar.cli.send import token_from
from sidecar.osc import addresses as A

__all__ = ["Check", "check_engine", "register", "run_checks"]

#: As `sidecar serve` reads the pool's token.
ENGINE_TOKEN_ENV = "SIDECAR_ENGINE_TOKEN"  # noqa: S105 (a variable name, not a secret)


def run_checks(
    model: str,
    device: str | None,
    host: str,
    port: int,
    output_dir: Path,
    decoder: str = "auto",
    allow_remote: bool = False,
    token: str | None = None,
    self_check: bool = True,
    separator: str = "htdemucs",
    engine_url: str | None = None,
    engine_token: str | None = None,
) -> list[Check]:
    """Every check, in the order a first start would meet them.

    `self_check` loads the model, as `sidecar serve` does, and checks that its text and
    melody change the logits (the server's start-up self-check). A `remote:NAME` model is
    checked on the pool at `engine_url` (`--engine`), not in this machine's cache.
    """
    from sidecar.engine.remote import remote_model_name

    found: list[Check] = []
    local = remote_model_name(model) is None

    def model_check() -> Check:
        found.append(check_model(model))
        return found[0]

    def conditions() -> Check:
        usable = bool(found) and found[0].status == "ok"
        return check_conditions(model, device, decoder, usable)

    model_checks: list[Callable[[], Check]] = [model_check] if local else []
    if not local and not engine_url:
        model_checks.append(
            lambda: Check(
                "model",
                "fail",
                f"{model}: a remote model needs a pool",
                "pass --engine URL (a `sidecar pool serve`; docs/remote.md)",
            )
        )
    if engine_url:
        model_checks.append(lambda: check_engine(engine_url, engine_token, model))
    checks: list[Callable[[], Check]] = [
        lambda: check_device(device),
        check_transformers,
        *model_checks,
        lambda: check_decoder(decoder, device),
        *([conditions] if self_check and local else []),
        lambda: check_separator(separator),
        check_dsp,
        lambda: check_host(host, allow_remote, token),
        lambda: check_output_dir(output_dir),
        lambda: check_port(host, port),
        check_looper,
    ]
    return [check() for check in checks]


def _doctor(args: argparse.Namespace) -> int:
    from sidecar.output.delivery import default_output_dir

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
        not args.no_self_check,
        args.separator,
        args.engine,
        args.engine_token or os.environ.get(ENGINE_TOKEN_ENV) or None,
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
    from sidecar.cli.args import udp_port

    p = subparsers.add_parser(
        "doctor",
        help="check this machine can serve: torch and device, model weights, DSP, host, "
        "folder, port",
    )
    p.add_argument("--model", default="facebook/musicgen-small")
    p.add_argument("--device", default=None, help="auto (the best available), cuda, mps or cpu")
    p.add_argument("--decoder", default="auto", help="as for `sidecar serve`")
    p.add_argument("--separator", default="htdemucs", help="as for `sidecar serve`")
    p.add_argument(
        "--no-self-check",
        action="store_true",
        help="do not load the model to check that its text and melody reach the logits",
    )
    p.add_argument("--host", default=A.DEFAULT_HOST)
    p.add_argument("--port", type=udp_port, default=A.DEFAULT_PORT)
    p.add_argument("--output-dir", default=None)
    p.add_argument(
        "--allow-remote", action="store_true", help="as for `sidecar serve` (docs/security.md)"
    )
    p.add_argument(
        "--token", default=None, help="as for `sidecar serve` (or the SIDECAR_TOKEN variable)"
    )
    p.add_argument("--engine", default=None, metavar="URL", help="as for `sidecar serve`")
    p.add_argument(
        "--engine-token", default=None, help=f"as for `sidecar serve` (or {ENGINE_TOKEN_ENV})"
    )
    p.set_defaults(func=_doctor)
