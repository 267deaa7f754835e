"""Kobo's envelope around a submission's answers (KOBO_API.md §3.4–3.6), built from a seed.

    ids = kobo_ids(form)                                          # asset uid, version uid, XForm uuid
    doc = envelope(answers, attachments, ids=ids, _id=1000001, uuid=..., submitted_at=...)
    doc2 = edited(doc, new_answers, uuid=...)                     # same _id, new _uuid, deprecatedID

Every identifier is drawn from a Random or hashed from the form id and version, never from the clock
or os.urandom, so the same seed gives the same documents byte for byte.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from random import Random
from typing import Any, Mapping

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
STATUS = "submitted_via_web"


@dataclass(frozen=True)
class KoboIds:
    """What a deployment fixes for every submission of one form version."""

    asset_uid: str  # `_xform_id_string` (kpi sets the XForm id_string to the asset uid)
    version_uid: str  # `__version__`
    xform_uuid: str  # `formhub/uuid` (= asset deployment__uuid)


def digest(*parts: object) -> bytes:
    """A stable 32-byte digest of the parts (what every deterministic uid and token is cut from)."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()


def base62(data: bytes, length: int) -> str:
    """`length` characters of Kobo's uid alphabet from the bytes (uids are a letter + 21 of these)."""
    number = int.from_bytes(data, "big")
    out = []
    for _ in range(length):
        number, rest = divmod(number, 62)
        out.append(_BASE62[rest])
    return "".join(out)


def kobo_ids(form_id: str, version: str = "", *, salt: str = "") -> KoboIds:
    """Stable Kobo-looking ids for a form: 'a' + 21 base62 chars, 'v' + 21, and 32 hex digits."""
    return KoboIds(asset_uid="a" + base62(digest("asset", form_id, salt), 21),
                   version_uid="v" + base62(digest("version", form_id, version, salt), 21),
                   xform_uuid=digest("xform", form_id, version, salt).hex()[:32])


def new_uuid(rng: Random) -> str:
    """A version-4 UUID drawn from `rng` (the instanceID without its 'uuid:' prefix): the text of
    uuid.UUID(int=rng.getrandbits(128), version=4), without building the object."""
    number = (rng.getrandbits(128) & _UUID_KEEP) | _UUID_SET  # the variant and version bits
    hexa = f"{number:032x}"
    return f"{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}"


_UUID_KEEP = ~((0xC000 << 48) | (0xF000 << 64)) & ((1 << 128) - 1)
_UUID_SET = (0x8000 << 48) | (4 << 76)


def attachment_uid(rng: Random) -> str:
    """'att' + 21 base62 characters: the draws of `rng.choice(_BASE62)` 21 times (CPython's choice of
    one in 62 takes getrandbits(6) until it is below 62), without two Python calls per character."""
    getrandbits = rng.getrandbits
    chars = []
    while len(chars) < 21:
        r = getrandbits(6)
        if r < 62:
            chars.append(_BASE62[r])
    return "att" + "".join(chars)


def kobo_time(moment: dt.datetime) -> str:
    """`_submission_time`: UTC, YYYY-MM-DDTHH:MM:SS, no zone, no fraction."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds")


def device_time(moment: dt.datetime) -> str:
    """`start`/`end`: local time with milliseconds and the device offset, 2026-03-05T09:12:33.120+07:00."""
    offset = moment.utcoffset()
    if offset is not None and not offset.seconds % 60 and not offset.microseconds:
        return moment.isoformat(timespec="milliseconds")  # the same text, formatted in C
    offset = offset or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:{moment.minute:02d}:"
            f"{moment.second:02d}.{moment.microsecond // 1000:03d}{sign}{minutes // 60:02d}:{minutes % 60:02d}")


def geolocation(answers: Mapping[str, Any], geopoint_paths: list[str]) -> list:
    """[lat, lon] of the first answered geopoint outside repeats, else [None, None]."""
    for path in geopoint_paths:
        value = answers.get(path)
        if isinstance(value, str) and value:
            parts = value.split()
            try:
                return [float(parts[0]), float(parts[1])]
            except (IndexError, ValueError):
                continue
    return [None, None]


def attachment_docs(attachments: list[dict], *, rng: Random, owner: str, xform_uuid: str, root_uuid: str,
                    base_url: str = "", asset_uid: str = "", submission_id: int = 0) -> list[dict]:
    """`_attachments` of a current server (2.025.34+); download URLs only when base_url is given."""
    docs = []
    for item in attachments:
        uid = attachment_uid(rng)
        doc = {"uid": uid, "filename": f"{owner}/attachments/{xform_uuid}/{root_uuid}/{item['filename']}",
               "media_file_basename": item["filename"], "mimetype": item["mimetype"], "is_deleted": False,
               "question_xpath": item["question_xpath"]}
        if base_url:
            url = f"{base_url.rstrip('/')}/api/v2/assets/{asset_uid}/data/{submission_id}/attachments/{uid}/"
            doc["download_url"] = url
            if item["mimetype"].startswith("image/"):
                for size in ("large", "medium", "small"):
                    doc[f"download_{size}_url"] = f"{url}{size}/"
        docs.append(doc)
    return docs


def envelope(answers: Mapping[str, Any], *, ids: KoboIds, submission_id: int, instance_uuid: str,
             submitted_at: str, submitted_by: str | None, root_uuid: str | None = None,
             deprecated_uuid: str | None = None, attachments: list[dict] | None = None,
             geopoint_paths: list[str] | None = None, legacy: bool = False) -> dict:
    """One submission document in the order a kpi server emits it (order carries no meaning)."""
    doc: dict[str, Any] = {"_id": submission_id, "formhub/uuid": ids.xform_uuid, **answers}
    for key in ("meta/instanceID", "meta/rootUuid", "meta/deprecatedID"):  # set below, in the server's place
        doc.pop(key, None)
    doc["__version__"] = ids.version_uid
    doc["meta/instanceID"] = f"uuid:{instance_uuid}"
    if deprecated_uuid:
        doc["meta/deprecatedID"] = f"uuid:{deprecated_uuid}"
    doc["meta/rootUuid"] = f"uuid:{root_uuid or instance_uuid}"
    doc["_xform_id_string"] = ids.asset_uid
    doc["_uuid"] = instance_uuid
    doc["_attachments"] = list(attachments or [])
    doc["_status"] = STATUS
    doc["_geolocation"] = geolocation(answers, geopoint_paths or [])
    doc["_submission_time"] = submitted_at
    if legacy:
        doc["_tags"] = []
        doc["_notes"] = []
    doc["_validation_status"] = {}
    doc["_submitted_by"] = submitted_by
    return doc


def edited(previous: Mapping[str, Any], answers: Mapping[str, Any], *, instance_uuid: str,
           attachments: list[dict] | None = None, geopoint_paths: list[str] | None = None,
           version_uid: str | None = None) -> dict:
    """The next version of a submission (§3.6): same `_id`, `_submission_time`, `_submitted_by`,
    `_validation_status` and `meta/rootUuid`; new `_uuid`/`meta/instanceID`; `meta/deprecatedID` =
    the previous instanceID; answers replaced wholesale."""
    ids = KoboIds(asset_uid=previous["_xform_id_string"], version_uid=version_uid or previous["__version__"],
                  xform_uuid=previous["formhub/uuid"])
    doc = envelope(answers, ids=ids, submission_id=previous["_id"], instance_uuid=instance_uuid,
                   submitted_at=previous["_submission_time"], submitted_by=previous["_submitted_by"],
                   root_uuid=previous["meta/rootUuid"].removeprefix("uuid:"),
                   deprecated_uuid=previous["_uuid"], attachments=attachments, geopoint_paths=geopoint_paths,
                   legacy="_tags" in previous)
    doc["_validation_status"] = previous.get("_validation_status", {})
    return doc


# Keys every document carries (tests and the sandbox check against this list).
ENVELOPE_KEYS = ("_id", "formhub/uuid", "__version__", "meta/instanceID", "meta/rootUuid", "_xform_id_string",
                 "_uuid", "_attachments", "_status", "_geolocation", "_submission_time", "_validation_status",
                 "_submitted_by")

__all__ = ["ENVELOPE_KEYS", "KoboIds", "attachment_docs", "device_time", "edited", "envelope", "geolocation",
           "kobo_ids", "kobo_time", "new_uuid"]
