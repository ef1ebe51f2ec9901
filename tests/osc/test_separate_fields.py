"""The separation keys of a request: `separate`, `separator`, `separate_levels`."""

from __future__ import annotations

import pytest

from sidecar.errors import RequestError
from sidecar.osc import addresses as A
from sidecar.osc.schema import GenerateRequest


def _parse(*pairs: object) -> GenerateRequest:
    return GenerateRequest.from_osc(A.GENERATE, ["r1", *pairs])


def test_separate_and_the_model_key() -> None:
    assert not _parse().separating
    plain = _parse("separate", 1)
    assert plain.separating and plain.separator is None and plain.separate_levels == "set"
    six = _parse("separator", "htdemucs_6s", "separate_levels", "each")
    assert six.separating and six.separator == "htdemucs_6s" and six.separate_levels == "each"
    assert six.sent_fields()["separator"] == "htdemucs_6s"


@pytest.mark.parametrize(
    ("pairs", "field", "says"),
    [
        (("separator", "spleeter"), "separator", "allowed: one of htdemucs, htdemucs_ft"),
        (("separate", 2), "separate", "allowed: 0 or 1"),
        (("separate_levels", "all", "separate", 1), "separate_levels", "one of set, each"),
        (("separate_levels", "each"), "separate_levels", "needs separate 1"),
        (("separate", 1, "stems", "drums,bass"), "separate", "not both"),
    ],
)
def test_bad_separation_keys_name_the_field(
    pairs: tuple[object, ...], field: str, says: str
) -> None:
    with pytest.raises(RequestError) as raised:
        _parse(*pairs)
    assert raised.value.field == field
    assert says in raised.value.message
