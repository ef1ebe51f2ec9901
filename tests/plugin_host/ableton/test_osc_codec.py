"""The script's OSC codec agrees with python-osc both ways, and rejects malformed packets."""

from __future__ import annotations

import struct

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage as PyOscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from plugin_host.ableton.osc_codec import (
    OscDecodeError,
    OscEncodeError,
    OscMessage,
    decode_packet,
    encode_message,
)

ARGUMENTS = [
    [],
    ["req-1", 0, "/tmp/a b/ü.wav"],
    [1, -2, 2**31 - 1, -(2**31)],
    [0.5, 120.0, -3.25],
    ["abc", "abcd", "", "x" * 13],
    [True, False, None],
    [b"\x00\x01\x02", b"abcd"],
    [2**40],
]


@pytest.mark.parametrize("arguments", ARGUMENTS)
def test_python_osc_reads_what_we_write(arguments: list) -> None:
    message = PyOscMessage(encode_message("/sidecar/test", arguments))
    assert message.address == "/sidecar/test"
    assert list(message.params) == arguments


@pytest.mark.parametrize("arguments", ARGUMENTS)
def test_we_read_what_python_osc_writes(arguments: list) -> None:
    builder = OscMessageBuilder("/sidecar/test")
    for value in arguments:
        builder.add_arg(value)
    assert decode_packet(builder.build().dgram) == [OscMessage("/sidecar/test", arguments)]


def test_bundles_are_flattened() -> None:
    bundle = OscBundleBuilder(IMMEDIATELY)
    for i in range(3):
        builder = OscMessageBuilder("/sidecar/progress")
        builder.add_arg(f"id{i}")
        builder.add_arg(0.25 * i)
        bundle.add_content(builder.build())
    messages = decode_packet(bundle.build().dgram)
    assert [m.arguments for m in messages] == [("id0", 0.0), ("id1", 0.25), ("id2", 0.5)]


def test_double_tag_decodes() -> None:
    data = b"/d\x00\x00,d\x00\x00" + struct.pack(">d", 1.5)
    assert decode_packet(data)[0].arguments == (1.5,)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello",
        b"/x",
        b"/x\x00\x00,i\x00\x00\x00\x01",
        b"/x\x00\x00,q\x00\x00",
        b"/x\x00\x00,b\x00\x00\x00\x00\x00\x09ab",
        b"#bundle\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x10/x\x00\x00",
    ],
)
def test_malformed_packets_raise_decode_error(data: bytes) -> None:
    with pytest.raises(OscDecodeError):
        decode_packet(data)


def test_unencodable_values_name_the_type() -> None:
    with pytest.raises(OscEncodeError, match="dict"):
        encode_message("/x", [{"a": 1}])  # type: ignore[list-item]
    with pytest.raises(OscEncodeError, match="start with '/'"):
        encode_message("x", [])
