"""The dictionary a log was written with, kept beside the log.

A log outlives the flight software that wrote it: after an update the channels, their types and
the housekeeping layouts change, and decoding old frames with the new dictionary would give
plausible wrong numbers. So the recorder stores the dictionary's JSON export in the archive
directory, named by its hash, and every segment header names the hash it was written under.
"""
from __future__ import annotations

import os
from pathlib import Path

from gridfree.protocols.dictionary import Dictionary, DictionaryError

FOLDER = "dictionaries"


class DictionaryMissing(LookupError):
    """The log names a dictionary that is not beside it."""


def _path(directory: Path, dictionary_hash: str) -> Path:
    return Path(directory) / FOLDER / (dictionary_hash.replace(":", "-") + ".json")


def store(directory: str | os.PathLike, dictionary: Dictionary) -> Path:
    """Write the dictionary beside the log (once per hash; atomically, so a crash leaves none or all)."""
    path = _path(Path(directory), dictionary.hash)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(dictionary.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    return path


def load(directory: str | os.PathLike, dictionary_hash: str) -> Dictionary:
    path = _path(Path(directory), dictionary_hash)
    try:
        d = Dictionary.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DictionaryMissing(f"the log was written with dictionary {dictionary_hash}, which is not in "
                                f"{path.parent}") from None
    except (OSError, DictionaryError, ValueError) as exc:
        raise DictionaryMissing(f"{path}: unreadable ({exc})") from None
    if d.hash != dictionary_hash:
        raise DictionaryMissing(f"{path}: its content hashes to {d.hash}, not {dictionary_hash}")
    return d


def resolve(directory: str | os.PathLike, log_hash: str, given: Dictionary | None) -> tuple[Dictionary, str]:
    """The dictionary to decode a log with, and a note for the operator when it is not the one they
    gave: the log's own dictionary wins; a given one is used only when the log's is missing."""
    try:
        kept = load(directory, log_hash)
    except DictionaryMissing as exc:
        if given is None:
            raise
        if given.hash == log_hash:
            return given, ""
        return given, (f"{exc}; decoding with the given dictionary {given.hash} instead: values may be wrong")
    if given is not None and given.hash != log_hash:
        return kept, (f"the log was written with dictionary {log_hash}, not the given {given.hash}: "
                      f"decoding with the log's own dictionary")
    return kept, ""
