"""Turning the core's return codes into exceptions (the only place that knows the codes)."""
from gridfree.native._core import lib


class NativeError(RuntimeError):
    """The core refused a call; `code` is its GF_E* return code."""

    def __init__(self, what: str, code: int):
        names = {lib.GF_EINVAL: "invalid argument", lib.GF_ECAPACITY: "output capacity exceeded"}
        super().__init__(f"{what}: {names.get(code, 'error')} (code {code})")
        self.code = code


def check(rc: int, what: str) -> int:
    if rc < 0:
        raise NativeError(what, rc)
    return rc
