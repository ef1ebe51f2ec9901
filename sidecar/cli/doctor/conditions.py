"""`sidecar doctor`'s self-check: the model loads and its text and melody reach the logits."""

from __future__ import annotations

from sidecar.cli.doctor.check import Check

__all__ = ["check_conditions"]


def check_conditions(model: str, device: str | None, decoder: str, model_found: bool) -> Check:
    """Load `model` as `sidecar serve` would and run the server's start-up self-check.

    Skipped (a warning) when the model check did not find the weights: there is nothing to
    load without downloading it.
    """
    if not model_found:
        return Check(
            "conditions",
            "warn",
            f"not checked: {model} is not available here (see the model line); "
            "`sidecar serve` runs this check when it has loaded it",
        )
    from sidecar.engine.loader import load_engine
    from sidecar.engine.selfcheck import check_conditioning
    from sidecar.errors import SidecarError

    try:
        engine = load_engine(model, device, decoder)
    except SidecarError as e:
        return Check("conditions", "fail", e.message.splitlines()[0], "see the model line")
    check = check_conditioning(engine, record=False)
    info = engine.info
    if check is None:
        return Check("conditions", "warn", f"{info.name}: this engine cannot report its logits")
    what = "text and melody reach" if info.supports_melody else "text reaches"
    if check.ok:
        return Check(
            "conditions",
            "ok",
            f"{info.name}: the {what} the logits ({check.summary()}; decoder "
            f"{info.decoder}, transformers {check.transformers_version})",
        )
    message, _, fix = check.message.partition(" Fix: ")
    return Check("conditions", "fail", message, fix)
