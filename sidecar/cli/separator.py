"""`sidecar fetch-separator`: download a Demucs model's weights once, for offline separation."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sidecar.engine.demucs_models import SEPARATOR_MODELS, separator_names

__all__ = ["add_separator_args", "register"]


def add_separator_args(p: argparse.ArgumentParser) -> None:
    """`--separator` (the default model of `separate` requests) and `--load-separator`."""
    p.add_argument(
        "--separator",
        default="htdemucs",
        choices=separator_names(),
        help="Demucs model for requests with separate 1 (default htdemucs; htdemucs_6s adds "
        "guitar and piano; htdemucs_ft: 4x the work). Downloaded on first use: "
        "`sidecar fetch-separator NAME` fetches it ahead",
    )
    p.add_argument(
        "--load-separator",
        action="store_true",
        help="load the separator at start, beside the model (default: on first use)",
    )


def _fetch(args: argparse.Namespace) -> int:
    from sidecar.engine.separator import Separator, is_cached
    from sidecar.errors import SidecarError

    for name in args.names:
        try:
            separator = Separator.load(name, "cpu")
        except SidecarError as e:
            sys.stderr.write(f"error [{e.code}]: {e.message}\n")
            return 1
        state = "cached" if is_cached(name) else "loaded"
        print(f"{name}: {state}, parts {', '.join(separator.info.parts)}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "fetch-separator",
        help="download Demucs weights (htdemucs, htdemucs_ft, htdemucs_6s) for offline use",
    )
    p.add_argument("names", nargs="+", choices=tuple(SEPARATOR_MODELS), metavar="NAME")
    p.set_defaults(func=_fetch)
