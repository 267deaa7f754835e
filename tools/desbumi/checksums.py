"""File checksums, read in blocks so a large attachment or media file never sits whole in memory.

sha256 is the project's own fingerprint (builds, manifests, attachments); md5 is what Kobo records
for form media (`metadata.hash` = "md5:<hex>"), so media are compared with it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_BLOCK = 1 << 20


def file_digest(path: str | Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_file(path: str | Path) -> str:
    return file_digest(path, "sha256")


def md5_file(path: str | Path) -> str:
    return file_digest(path, "md5")
