"""Form media (preload CSVs, images) of an asset: `/api/v2/assets/{uid}/files/`.

The media sync is a plan first (pure: compare local md5s with the server's `metadata.hash`), then the
plan is applied: files whose md5 differs are deleted and uploaded again (Kobo has no replace), new
files are uploaded, identical ones are left alone. Media changes reach Collect only after a redeploy.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..checksums import md5_file
from ..errors import InputError
from .session import KoboSession

FORM_MEDIA = "form_media"


def remote_filename(item: dict) -> str | None:
    return (item.get("metadata") or {}).get("filename")


def remote_md5(item: dict) -> str | None:
    value = (item.get("metadata") or {}).get("hash") or ""
    return value.split(":", 1)[1].lower() if value.startswith("md5:") else None


@dataclass
class MediaPlan:
    upload: list[Path] = field(default_factory=list)  # not on the server yet
    replace: list[tuple[str, Path]] = field(default_factory=list)  # (server file uid, local file) md5 differs
    unchanged: list[str] = field(default_factory=list)  # file names
    extra: list[str] = field(default_factory=list)  # on the server, not local (left alone)

    @property
    def changed(self) -> bool:
        return bool(self.upload or self.replace)


def plan_media(remote: Iterable[dict], local: Iterable[Path]) -> MediaPlan:
    """Which local files must go up; compares by file name, then md5."""
    by_name: dict[str, dict] = {}
    for item in remote:
        name = remote_filename(item)
        if name and item.get("file_type", FORM_MEDIA) == FORM_MEDIA:
            by_name[name] = item
    plan = MediaPlan()
    seen = set()
    for path in sorted(Path(p) for p in local):
        if path.name in seen:
            raise InputError(f"Two media files are called {path.name}; Kobo needs media names to be unique.")
        seen.add(path.name)
        item = by_name.get(path.name)
        if item is None:
            plan.upload.append(path)
        elif remote_md5(item) != md5_file(path):
            plan.replace.append((item["uid"], path))
        else:
            plan.unchanged.append(path.name)
    plan.extra = sorted(set(by_name) - seen)
    return plan


class FilesService:
    def __init__(self, session: KoboSession):
        self.session = session

    def list(self, uid: str) -> list[dict]:
        return list(self.session.iter_list(self.session.api_url("assets", uid, "files"),
                                           params={"file_type": FORM_MEDIA, "limit": 100}))

    def upload(self, uid: str, path: str | Path, *, description: str = "default") -> dict:
        path = Path(path)
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise InputError(f"Cannot read media file {path}: {exc.strerror}.") from exc
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return self.session.request(
            "POST", self.session.api_url("assets", uid, "files"),
            data={"file_type": FORM_MEDIA, "description": description,
                  "metadata": json.dumps({"filename": path.name})},
            files={"content": (path.name, content, mimetype)},
        )

    def delete(self, uid: str, file_uid: str) -> None:
        self.session.request("DELETE", self.session.api_url("assets", uid, "files", file_uid))

    def sync(self, uid: str, paths: Iterable[Path], *, dry_run: bool = False) -> MediaPlan:
        """Make the server's form media match `paths` (by name and md5); returns what was (to be) done."""
        plan = plan_media(self.list(uid), paths)
        if not dry_run:
            for file_uid, path in plan.replace:
                self.delete(uid, file_uid)
                self.upload(uid, path)
            for path in plan.upload:
                self.upload(uid, path)
        return plan
