"""The one exception family for "the input is wrong" (no TensorFlow here).

Every error a user can fix by changing a flag, a config value, a file or a folder
derives from ``InputError``; command-line entry points print its message as one line
and exit with status 2. Anything else escaping is a bug in tfdpfair and keeps its
traceback.
"""
from __future__ import annotations

import re


class InputError(ValueError):
    """Bad input (flag, config, data file, folder); the message says what is wrong and how to fix it."""


class DataFormatError(InputError):
    """A data file exists but cannot be used: corrupt, truncated, or with unexpected arrays, shapes or values."""


def one_line(message: object) -> str:
    """``message`` with control characters (newlines, carriage returns, …) escaped, so it prints as one line."""
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group())[1:-1], str(message))
