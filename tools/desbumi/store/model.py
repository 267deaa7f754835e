"""What the store returns, and the pure functions it decides with (no SQLite here).

`plan_sweep` compares what the store holds with what a light sweep of the server saw and returns a
`SweepPlan`; `Store.apply_sweep` applies it, and a dry run is just the plan. `doc_fields` reads the
envelope keys of a Kobo submission (KOBO_API.md §3.4) the store keeps in columns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError

_VERSION_KEY = re.compile(r"^__?version__?(\d{3})?$")


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept: the same value always gives the same text."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def strip_uuid(value: Any) -> str | None:
    """'uuid:abc' -> 'abc'; None and '' -> None."""
    if not value or not isinstance(value, str):
        return None
    return value.removeprefix("uuid:")


@dataclass(frozen=True, slots=True)
class DocFields:
    """The envelope of one submission version, as the store keeps it in columns."""

    submission_id: int        # `_id`: stable across edits
    instance_id: str          # `_uuid` (meta/instanceID without 'uuid:'): new on every edit
    root_uuid: str | None     # meta/rootUuid without 'uuid:'
    deprecated_id: str | None  # meta/deprecatedID without 'uuid:': the version this one replaced
    version: str | None       # `__version__` (or a legacy `_version_`, `_version__001` key)
    submission_time: str | None
    submitted_by: str | None
    validation_status: str    # canonical JSON of `_validation_status` ('{}' when absent)


def doc_fields(doc: Mapping[str, Any], *, where: str = "") -> DocFields:
    """Read a submission's envelope; a document without an integer `_id` or an instanceID is refused."""
    sid = doc.get("_id")
    if not isinstance(sid, int) or isinstance(sid, bool):
        raise InputError(f"A submission{where} has no integer _id (got {sid!r}); it cannot be stored.",
                         hint="The server sent a document that is not a Kobo submission; check the server URL.")
    instance = strip_uuid(doc.get("_uuid")) or strip_uuid(doc.get("meta/instanceID"))
    if instance is None:
        raise InputError(f"Submission _id {sid}{where} has neither _uuid nor meta/instanceID; it cannot be stored.",
                         hint="The server sent a document that is not a Kobo submission; check the server URL.")
    version = doc.get("__version__")
    if not isinstance(version, str):
        legacy = sorted(key for key in doc if _VERSION_KEY.match(key))
        version = doc[legacy[-1]] if legacy and isinstance(doc[legacy[-1]], str) else None
    status = doc.get("_validation_status")
    submitted_by = doc.get("_submitted_by")
    submitted_at = doc.get("_submission_time")
    return DocFields(
        submission_id=sid,
        instance_id=instance,
        root_uuid=strip_uuid(doc.get("meta/rootUuid")),
        deprecated_id=strip_uuid(doc.get("meta/deprecatedID")),
        version=version,
        submission_time=submitted_at if isinstance(submitted_at, str) else None,
        submitted_by=submitted_by if isinstance(submitted_by, str) else None,
        validation_status="{}" if not status else canonical_json(status),
    )


def attachment_key(item: Mapping[str, Any]) -> str | None:
    """The server's identity of an attachment: `uid` (2.025.34+), else the integer `id`, else the
    filename (very old servers); None when there is nothing to go by."""
    if item.get("uid"):
        return str(item["uid"])
    if item.get("id") is not None:
        return f"id:{item['id']}"
    name = item.get("filename") or item.get("media_file_basename")
    return f"name:{name}" if name else None


def attachment_basename(item: Mapping[str, Any]) -> str | None:
    """`media_file_basename` when given, else the last segment of `filename` (not yet sanitised)."""
    name = item.get("media_file_basename")
    if isinstance(name, str) and name:
        return name
    full = item.get("filename")
    if isinstance(full, str) and full:
        return full.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or None
    return None


@dataclass(frozen=True)
class PageResult:
    """What applying a page (or a list of documents) did.

    Every document counts once as new, edited or unchanged (a document repeating a version the store
    already has, current or older, is unchanged). `undeleted` counts, in addition, submissions that
    were marked deleted and came back; `validation_changed` those whose `_validation_status` changed
    without a new version.
    """

    new: int = 0
    edited: int = 0
    unchanged: int = 0
    undeleted: int = 0
    validation_changed: int = 0


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep found (all ids sorted).

    deleted_ids: stored, not deleted, absent from the server: to be marked deleted.
    changed_uuid_ids: present with another `_uuid`: the puller fetches these documents and applies
        them with `Store.apply_docs`.
    validation_changes: `_id` -> the new `_validation_status` (a dict, `{}` when cleared).
    unknown_ids: on the server but not in the store (or marked deleted there): new since the last
        keyset page, committed late by the server, or back after a deletion; fetch and `apply_docs`
        the ones at or below the cursor, the keyset pull brings the rest.
    """

    deleted_ids: tuple[int, ...] = ()
    changed_uuid_ids: tuple[int, ...] = ()
    validation_changes: Mapping[int, dict] = field(default_factory=dict)
    unknown_ids: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.deleted_ids or self.changed_uuid_ids or self.validation_changes or self.unknown_ids)


def plan_sweep(stored: Mapping[int, tuple[str, str]], seen: Mapping[int, tuple[str, Mapping]]) -> SweepPlan:
    """Compare the store (`_id` -> (`_uuid`, validation status as canonical JSON), not-deleted
    submissions only, as `Store.sweep_state` gives it) with a complete sweep of the server (`_id` ->
    (`_uuid`, `_validation_status` dict)). Pure: nothing is read or written."""
    wrong = next((sid for sid in seen if not isinstance(sid, int) or isinstance(sid, bool)), None)
    if wrong is not None:  # '101' would never match 101: every submission would look deleted
        raise TypeError(f"sweep ids must be the integer _id values (got {wrong!r})")
    deleted = sorted(sid for sid in stored if sid not in seen)
    unknown = sorted(sid for sid in seen if sid not in stored)
    changed, validation = [], {}
    for sid in sorted(seen.keys() & stored.keys()):
        uuid, status = seen[sid]
        stored_uuid, stored_status = stored[sid]
        if strip_uuid(uuid) != stored_uuid:
            changed.append(sid)
        status_json = canonical_json(status) if status else "{}"
        if status_json != stored_status:
            validation[sid] = dict(status or {})
    return SweepPlan(deleted_ids=tuple(deleted), changed_uuid_ids=tuple(changed),
                     validation_changes=validation, unknown_ids=tuple(unknown))


@dataclass(frozen=True)
class AssetRecord:
    uid: str
    form_id: str | None
    name: str | None
    url: str | None
    deployed_version_id: str | None
    version_id: str | None
    last_seen: str


@dataclass(frozen=True)
class AssetVersion:
    asset_uid: str
    version_uid: str
    date_deployed: str | None
    content: dict


@dataclass(frozen=True)
class SubmissionVersion:
    """One instanceID of a submission, as first seen."""

    submission_id: int
    instance_id: str
    deprecated_id: str | None
    version: str | None
    seen_run: int
    current: bool
    doc: dict


@dataclass(frozen=True)
class SubmissionRecord:
    """The current version of a submission with what the store knows about it."""

    submission_id: int
    instance_id: str
    deprecated_id: str | None
    root_uuid: str | None
    version: str | None
    submission_time: str | None
    submitted_by: str | None
    validation_status: dict
    versions: int
    deleted_at: str | None
    doc: dict


@dataclass(frozen=True)
class Attachment:
    id: int                  # the store's own id (pass it to `attachment_downloaded`)
    asset_uid: str
    submission_id: int
    instance_id: str         # the newest version that listed it
    server_key: str          # `uid`, or 'id:<n>' / 'name:<filename>' on older servers
    question_xpath: str | None
    filename: str | None     # as the server gave it (may hold a path; sanitise before use)
    basename: str | None     # media_file_basename, else the last segment of filename
    mimetype: str | None
    download_url: str | None
    is_deleted: bool
    local_path: str | None   # relative to the store directory, POSIX separators
    size: int | None
    sha256: str | None


@dataclass(frozen=True)
class Run:
    id: int
    asset_uid: str | None
    started_at: str
    finished_at: str | None
    status: str
    new: int
    edited: int
    deleted: int
    undeleted: int
    unchanged: int
    requests: int
    retries: int
    pages: int
    errors: str | None
