"""Files the embedded mode makes once in its data directory (the JWT secret, the encryption
key), safely when several processes start at once."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def create_once(path: Path, content: str) -> str:
    """`path` holding `content` if no process made it first, else what that process wrote.

    Written whole under a temporary name, then linked into place: a link never replaces a file
    and appears with all of its content, so no process reads a file another is still writing
    (`O_CREAT | O_EXCL` then `write` left that moment, and a reader got an empty secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(content)
        try:
            os.link(aside, path)
        except FileExistsError:  # another process made it first: theirs stands
            return path.read_text().strip()
        return content
    finally:
        aside.unlink(missing_ok=True)
