"""Loading the dictionary the ground decodes with, from a JSON export (`gridfree dict -o ...`).

The ground never imports flight code: what it knows of the node comes from this file.
"""
from __future__ import annotations

import os

from gridfree.protocols.dictionary import Dictionary, DictionaryError

#: Where the tools look when not told: $GRIDFREE_DICT, else ./dictionary.json.
DEFAULT_PATH_ENV = "GRIDFREE_DICT"


class DictionaryFileError(Exception):
    """A dictionary file that cannot be read or is not a valid dictionary."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def default_path() -> str:
    return os.environ.get(DEFAULT_PATH_ENV, "dictionary.json")


def load_dictionary(path: str | os.PathLike) -> Dictionary:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise DictionaryFileError(path, f"cannot read dictionary: {exc.strerror}") from None
    try:
        return Dictionary.from_json(text)
    except DictionaryError as exc:
        raise DictionaryFileError(path, str(exc)) from None
