"""Form versions and the build index forms/index.json.

Convention (ODK's): `settings.version` is YYYYMMDDNN — the date of the change and a two-digit
counter for that day, e.g. 2026112801. ODK Collect only offers an update when the version changes,
so a changed source must carry a higher version than its last build.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..checksums import sha256_file  # noqa: F401 (build, check and tests read it from here)

INDEX_NAME = "index.json"
_PARTS = re.compile(r"(\d+)")


@dataclass(frozen=True)
class LastBuild:
    """The newest build of a form_id in forms/ (from forms/index.json)."""

    version: str
    source_sha256: str


def version_key(version: str) -> tuple:
    """Compare versions as ODK designers mean them: digit runs numerically, the rest as text.

    Each part is tagged (1, number) or (0, text) so that any two versions compare instead of raising
    TypeError, and a number outranks text: moving from 'v2' to ODK's 2026112801 is an increase.
    """
    return tuple((1, int(p)) if p.isdigit() else (0, p) for p in _PARTS.split(version.strip()) if p != "")


def is_higher(new: str, old: str) -> bool:
    return version_key(new) > version_key(old)


def next_version(current: str, today: dt.date | None = None) -> str:
    """The next YYYYMMDDNN after `current`: today's date with counter 01, or current + 1."""
    stamp = (today or dt.date.today()).strftime("%Y%m%d")
    candidate = f"{stamp}01"
    if current.isdigit() and len(current) == 10 and not is_higher(candidate, current):
        return str(int(current) + 1)
    if current and not is_higher(candidate, current):
        raise ValueError(f"version {current!r} is not of the form YYYYMMDDNN and is already above {candidate}")
    return candidate


def load_index(forms_dir: Path) -> list[dict]:
    """Every build recorded in forms/index.json (empty when nothing was built yet)."""
    path = Path(forms_dir) / INDEX_NAME
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        from ..errors import InputError

        raise InputError(f"{path}: the build index cannot be read ({exc}); restore it from git.") from exc
    return list(data.get("builds", []))


def last_build(forms_dir: Path, form_id: str) -> LastBuild | None:

    builds = [b for b in load_index(forms_dir) if b.get("form_id") == form_id]
    if not builds:
        return None
    newest = max(builds, key=lambda b: version_key(str(b.get("version", ""))))
    return LastBuild(version=str(newest["version"]), source_sha256=str(newest.get("source_sha256", "")))


def write_index(forms_dir: Path, builds: list[dict]) -> Path:
    """Rewrite forms/index.json in a stable order (form_id, then version)."""
    path = Path(forms_dir) / INDEX_NAME
    ordered = sorted(builds, key=lambda b: (b["form_id"], version_key(str(b["version"]))))
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"builds": ordered}, indent=2, ensure_ascii=False) + "\n"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
