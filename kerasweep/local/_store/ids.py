"""Ids in W&B's style and the timestamps a store writes."""

from __future__ import annotations

import secrets
import string
from datetime import datetime, timezone

__all__ = ["new_id", "now_iso"]

_ID_ALPHABET = string.ascii_lowercase + string.digits


def now_iso() -> str:
    """The current UTC time, ISO 8601 with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def new_id(length: int = 8) -> str:
    """A random id in W&B's style: lowercase letters and digits.

    >>> len(new_id()), new_id(12).isalnum()
    (8, True)
    """
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))
