"""The one base for refusals a user can act on, as opposed to bugs.

A `BroadcasterError` carries a stable `code` and the `details` that fill its message. The
CLI prints it as a one-line error; the web maps the code to Vietnamese in one place
(web/messages.py). Any other exception is a bug and is allowed to look like one.

It derives from ValueError because every refusal is bad input of some kind.
"""

from __future__ import annotations

from typing import Any


class BroadcasterError(ValueError):
    """A refusal: `str(error)` is English and safe to show; `code` says which one."""

    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.details = details
