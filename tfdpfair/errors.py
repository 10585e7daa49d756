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
    """``message`` with control characters and line breaks (newlines, carriage returns, NEL U+0085, the Unicode
    line and paragraph separators, …) escaped, so it prints as one line."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", lambda m: m.group().encode("unicode_escape").decode("ascii"),
                  str(message))
