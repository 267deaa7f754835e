"""Submission attachments: reading `_attachments` of any server version, safe local paths, downloads.

`_attachments` items changed shape three times (KOBO_API.md §3.5, §9 item 6): KoboCAT media URLs,
then integer `id` + `instance`/`xform`, then `uid` + `media_file_basename` + `is_deleted`.
`Attachment.from_json` reads all of them. Downloads stream into `<name>.part` beside the target and
are renamed only when complete; an interrupted download resumes with `Range` when the server answers
206, and restarts otherwise.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import InputError
from .session import KoboSession, RetryableBody

CHUNK = 64 * 1024
_MAX_NAME = 150
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"|?*\\/]')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Attachment:
    key: str  # `uid` (att…) on current servers, else the integer `id` as text, else the file path
    basename: str
    download_url: str | None
    mimetype: str | None
    question_xpath: str | None
    is_deleted: bool
    raw: dict = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Attachment:
        filename = item.get("filename") or ""
        basename = item.get("media_file_basename") or PurePosixPath(filename.replace("\\", "/")).name
        key = item.get("uid") or (str(item["id"]) if item.get("id") is not None else filename or basename)
        return cls(
            key=str(key),
            basename=basename,
            download_url=item.get("download_url") or item.get("url"),
            mimetype=item.get("mimetype"),
            question_xpath=item.get("question_xpath") or None,
            is_deleted=bool(item.get("is_deleted", False)),
            raw=item,
        )


def attachments_of(submission: dict[str, Any]) -> list[Attachment]:
    return [Attachment.from_json(a) for a in submission.get("_attachments") or [] if isinstance(a, dict)]


def _safe_component(text: str, fallback: str) -> str:
    text = unicodedata.normalize("NFC", str(text))
    text = text.replace("\x00", "")
    text = _UNSAFE.sub("_", text).strip().strip(".").strip()
    if set(text) <= {"_", ".", " "}:  # nothing left but what separators became
        text = ""
    if not text or _WINDOWS_RESERVED.match(text):
        text = f"{fallback}_{text}" if text else fallback
    if len(text.encode("utf-8")) > _MAX_NAME:
        stem, dot, ext = text.rpartition(".")
        ext = f".{ext}" if dot and 0 < len(ext) <= 10 else ""
        stem = text[: len(text) - len(ext)] if ext else text
        while len((stem + ext).encode("utf-8")) > _MAX_NAME:
            stem = stem[:-1]
        text = stem + ext
    return text


def safe_attachment_path(root: str | os.PathLike, asset_uid: str, submission_id: int | str, filename: str) -> Path:
    """`<root>/<asset>/<_id>/<name>` with every server-supplied part made harmless.

    Only the last path component of `filename` is kept (after turning backslashes into slashes), NUL
    and control characters and characters Windows forbids become `_`, leading dots go (no `..`, no
    hidden files), and an empty result becomes "attachment". The result is checked to be under root.
    """
    base = Path(root).resolve()
    name = str(filename or "").replace("\x00", "").replace("\\", "/")
    name = name.rstrip("/").rsplit("/", 1)[-1]
    parts = [_safe_component(asset_uid, "asset"), _safe_component(str(submission_id), "submission"),
             _safe_component(name, "attachment")]
    path = base.joinpath(*parts)
    resolved = path.resolve()
    if resolved != base and base not in resolved.parents:
        raise InputError(f"Attachment name {filename!r} would be stored outside {base}; it was not written.")
    return path


def sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class AttachmentsService:
    def __init__(self, session: KoboSession):
        self.session = session

    def download(self, url: str, dest_path: str | os.PathLike) -> tuple[str, int]:
        """Fetch `url` (followed exactly as given) into dest_path; return (sha256 hex, size in bytes).

        The body goes to `dest_path + ".part"`; a retry (or a later run) continues from the bytes
        already there with `Range: bytes=N-` when the server answers 206, and starts over otherwise.
        The target appears only complete (atomic rename).
        """
        dest = Path(dest_path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")

        def headers() -> dict[str, str]:
            extra = {"Accept": "*/*"}
            if part.exists() and part.stat().st_size > 0:
                extra["Range"] = f"bytes={part.stat().st_size}-"
            return extra

        def write(response) -> None:
            offset = part.stat().st_size if part.exists() else 0
            if response.status_code == 416:  # our partial file is not a prefix the server knows
                part.unlink(missing_ok=True)
                raise RetryableBody("the partial download did not match; starting over")
            resume = response.status_code == 206 and _range_start(response.headers.get("Content-Range")) == offset
            if response.status_code == 206 and not resume:
                part.unlink(missing_ok=True)
                raise RetryableBody("the server resumed at an unexpected offset; starting over")
            expected = _content_length(response)
            written = 0
            with open(part, "ab" if resume else "wb") as fh:
                for chunk in response.iter_content(CHUNK):
                    if chunk:
                        fh.write(chunk)
                        written += len(chunk)
            if expected is not None and written < expected:
                raise RetryableBody(f"got {written} of {expected} bytes")

        self.session.request("GET", url, stream=True, headers=headers, read=write,
                             ok=lambda status: 200 <= status < 300 or status == 416)
        os.replace(part, dest)
        return sha256_of(dest)


def _range_start(value: str | None) -> int | None:
    match = re.match(r"\s*bytes\s+(\d+)-", value or "")
    return int(match.group(1)) if match else None


def _content_length(response) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None
