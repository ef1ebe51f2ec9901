"""The protocol tables in the README and docs match the constants they document."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidecar.errors import ERROR_CODES
from sidecar.osc import addresses as A
from sidecar.osc.docs import check_file
from sidecar.osc.fields import FIELDS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["README.md", "docs/osc-protocol.md"])
def test_generated_tables_are_current(name: str) -> None:
    assert check_file(ROOT / name), f"run: python -m sidecar.osc.docs --write ({name} is stale)"


def test_every_address_key_and_code_is_documented() -> None:
    text = (ROOT / "docs/osc-protocol.md").read_text()
    for address in [*A.REQUESTS, *A.REPLIES]:
        assert f"`{address}`" in text
    for key in FIELDS:
        assert f"`{key}`" in text
    for code in ERROR_CODES:
        assert f"`{code}`" in text
