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


#: What to do about a file that is not a dictionary, said after each such error.
EXPORT_HINT = "export one with `gridfree dict -o dictionary.json`"


def load_dictionary(path: str | os.PathLike) -> Dictionary:
    """The dictionary in the JSON export at `path`; DictionaryFileError naming the file, what is
    wrong with it and what to do (never the loader's own placeholder names)."""
    if os.path.isdir(path):
        raise DictionaryFileError(path, f"is a directory, not a dictionary JSON file; give the file ({EXPORT_HINT})")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise DictionaryFileError(path, f"cannot read dictionary: no such file; {EXPORT_HINT}") from None
    except OSError as exc:
        raise DictionaryFileError(path, f"cannot read dictionary: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise DictionaryFileError(path, f"not a dictionary JSON (not UTF-8 text); {EXPORT_HINT}") from None
    try:
        return Dictionary.from_json(text)
    except DictionaryError as exc:
        # A file-level problem comes as kind "file", name "(json)": say it of this file instead.
        problem = exc.problem if exc.kind == "file" else str(exc)
        raise DictionaryFileError(path, f"not a gridfree dictionary JSON ({problem}); {EXPORT_HINT}") from None
