"""Exceptions of the wire layer. Each carries the data a caller needs to report or count it."""
from __future__ import annotations


class ProtocolError(ValueError):
    """Bytes that do not form what they claim to be."""


class BytesTooShortError(ProtocolError):
    def __init__(self, expected_len: int, bytes_len: int, what: str = "structure"):
        super().__init__(f"{what} needs {expected_len} octets, got {bytes_len}")
        self.expected_len, self.bytes_len = expected_len, bytes_len


class CrcError(ProtocolError):
    def __init__(self, expected: int, actual: int, what: str = "CRC"):
        super().__init__(f"{what} mismatch: carried 0x{expected:04X}, computed 0x{actual:04X}")
        self.expected, self.actual = expected, actual


class InvalidFieldError(ProtocolError):
    def __init__(self, field: str, value, reason: str):
        super().__init__(f"{field}={value!r}: {reason}")
        self.field, self.value, self.reason = field, value, reason


def check_ranges(*fields: tuple[str, int, int]) -> None:
    """Raise InvalidFieldError for the first (name, value, top) whose value is outside 0..top."""
    for name, value, top in fields:
        if not 0 <= value <= top:
            raise InvalidFieldError(name, value, f"must be 0..{top}")
