"""A small OSC 1.0 codec (messages and bundles), pure stdlib, for hosts that cannot pip install."""

# Live's embedded Python may be as old as 3.7: keep this file to 3.7 syntax and stdlib only.
from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Union

__all__ = [
    "OscArgument",
    "OscDecodeError",
    "OscEncodeError",
    "OscMessage",
    "decode_packet",
    "encode_message",
]

#: What an OSC argument decodes to, and what `encode_message` accepts.
OscArgument = Union[int, float, str, bytes, bool, None]  # noqa: UP007 (runtime alias, 3.7)

_BUNDLE_TAG = b"#bundle\x00"
_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1


class OscDecodeError(ValueError):
    """A datagram is not a well-formed OSC packet."""


class OscEncodeError(ValueError):
    """A value cannot be written as an OSC argument."""


class OscMessage:
    """One decoded OSC message: an address and its arguments."""

    __slots__ = ("address", "arguments")

    def __init__(self, address: str, arguments: Sequence[OscArgument]) -> None:
        self.address = address
        self.arguments = tuple(arguments)

    def __repr__(self) -> str:
        return f"OscMessage({self.address!r}, {self.arguments!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OscMessage):
            return NotImplemented
        return self.address == other.address and self.arguments == other.arguments

    def __hash__(self) -> int:
        return hash((self.address, self.arguments))


def _pad(data: bytes) -> bytes:
    return data + b"\x00" * (4 - len(data) % 4 if len(data) % 4 else 0)


def _encode_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    if b"\x00" in raw:
        raise OscEncodeError(f"OSC strings cannot contain NUL characters; got {text!r}")
    return _pad(raw + b"\x00")


def _encode_argument(value: OscArgument) -> tuple[str, bytes]:
    if value is True:
        return "T", b""
    if value is False:
        return "F", b""
    if value is None:
        return "N", b""
    if isinstance(value, int):
        if _INT32_MIN <= value <= _INT32_MAX:
            return "i", struct.pack(">i", value)
        return "h", struct.pack(">q", value)
    if isinstance(value, float):
        return "f", struct.pack(">f", value)
    if isinstance(value, str):
        return "s", _encode_string(value)
    if isinstance(value, (bytes, bytearray)):
        return "b", struct.pack(">i", len(value)) + _pad(bytes(value))
    raise OscEncodeError(
        f"cannot encode {value!r} ({type(value).__name__}) as an OSC argument; "
        "use int, float, str, bytes, bool or None"
    )


def encode_message(address: str, arguments: Sequence[OscArgument] = ()) -> bytes:
    """Encode one OSC message; ints become `i` (or `h` past 32 bits), floats `f`."""
    if not address.startswith("/"):
        raise OscEncodeError(f"OSC addresses start with '/'; got {address!r}")
    tags = ","
    payload = b""
    for value in arguments:
        tag, data = _encode_argument(value)
        tags += tag
        payload += data
    return _encode_string(address) + _encode_string(tags) + payload


def _read_string(data: bytes, offset: int) -> tuple[str, int]:
    end = data.find(b"\x00", offset)
    if end < 0:
        raise OscDecodeError(f"unterminated OSC string at byte {offset}")
    try:
        text = data[offset:end].decode("utf-8")
    except UnicodeDecodeError as error:
        raise OscDecodeError(f"OSC string at byte {offset} is not UTF-8") from error
    length = end - offset + 1
    next_offset = offset + length + (4 - length % 4 if length % 4 else 0)
    if next_offset > len(data):
        raise OscDecodeError(f"OSC string at byte {offset} runs past the packet")
    return text, next_offset


def _read_fixed(data: bytes, offset: int, fmt: str) -> tuple[int | float, int]:
    size = struct.calcsize(fmt)
    if offset + size > len(data):
        raise OscDecodeError(
            f"OSC argument '{fmt}' at byte {offset} needs {size} bytes; "
            f"only {len(data) - offset} left"
        )
    value = struct.unpack(fmt, data[offset : offset + size])[0]
    return value, offset + size


def _decode_message(data: bytes) -> OscMessage:
    address, offset = _read_string(data, 0)
    if not address.startswith("/"):
        raise OscDecodeError(f"OSC address must start with '/'; got {address!r}")
    if offset >= len(data):
        return OscMessage(address, ())
    tags, offset = _read_string(data, offset)
    if not tags.startswith(","):
        raise OscDecodeError(f"OSC type tags must start with ','; got {tags!r}")
    arguments: list[OscArgument] = []
    for tag in tags[1:]:
        if tag == "i":
            value, offset = _read_fixed(data, offset, ">i")
            arguments.append(value)
        elif tag == "h":
            value, offset = _read_fixed(data, offset, ">q")
            arguments.append(value)
        elif tag == "f":
            value, offset = _read_fixed(data, offset, ">f")
            arguments.append(value)
        elif tag == "d":
            value, offset = _read_fixed(data, offset, ">d")
            arguments.append(value)
        elif tag == "s" or tag == "S":
            text, offset = _read_string(data, offset)
            arguments.append(text)
        elif tag == "b":
            size, offset = _read_fixed(data, offset, ">i")
            end = offset + int(size)
            if size < 0 or end > len(data):
                raise OscDecodeError(f"OSC blob of {size} bytes runs past the packet")
            arguments.append(data[offset:end])
            offset = end + (4 - int(size) % 4 if int(size) % 4 else 0)
        elif tag == "T":
            arguments.append(True)
        elif tag == "F":
            arguments.append(False)
        elif tag == "N" or tag == "I":
            arguments.append(None)
        else:
            raise OscDecodeError(f"unsupported OSC type tag {tag!r} in {tags!r}")
    return OscMessage(address, arguments)


def decode_packet(data: bytes) -> list[OscMessage]:
    """Decode a datagram into its messages, flattening bundles (time tags are ignored)."""
    if data.startswith(_BUNDLE_TAG):
        messages: list[OscMessage] = []
        offset = len(_BUNDLE_TAG) + 8
        if offset > len(data):
            raise OscDecodeError("OSC bundle is shorter than its header")
        while offset < len(data):
            size, offset = _read_fixed(data, offset, ">i")
            end = offset + int(size)
            if size <= 0 or end > len(data):
                raise OscDecodeError(f"OSC bundle element of {size} bytes runs past the packet")
            messages.extend(decode_packet(data[offset:end]))
            offset = end
        return messages
    if not data.startswith(b"/"):
        raise OscDecodeError(f"not an OSC packet: starts with {data[:8]!r}")
    return [_decode_message(data)]
