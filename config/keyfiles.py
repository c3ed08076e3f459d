"""Keys of the embedded defaults: generated once per installation, kept under VAR_DIR, reused.

Production passes SECRET_KEY and CREDENTIALS_ENCRYPTION_KEYS in the environment and the
settings refuse to start without them. Only the embedded mode (`make run`, `manage.py …` with
no environment) reads these files, so no key that appears in the source is ever used.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

PRIVATE = 0o600


def _read(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        # A key readable by others is as good as published; narrow it rather than trust it less.
        path.chmod(PRIVATE)
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise ImproperlyConfigured(
            f"The key file {path} is empty. Restore it from a backup; deleting it makes a new key, "
            "which invalidates sessions and download links (and, for the credentials key, makes stored "
            "Emporix client secrets unreadable)."
        )
    return key


def read_or_create_key(path: Path, *, generate: Callable[[], str]) -> str:
    """The key kept in `path`; made with `generate()` and stored (mode 0600) when missing.

    Web, worker and beat of `make run` start at the same moment, so creation must be race-free
    and nobody may read a half-written file: the key is written completely to a private
    temporary file (mkstemp: O_CREAT | O_EXCL, mode 0600) that is then hard-linked into place.
    link(2) fails with EEXIST when another process was first; then its key is read and used.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    key = generate()
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(key + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _read(path)
    finally:
        os.unlink(temporary)
    return key
