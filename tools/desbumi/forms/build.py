"""`forms build` and `forms bump`: versioned, reproducible builds of the instruments into forms/.

    forms/<form_id>/<version>/form.xlsx       byte copy of the source spreadsheet (what Kobo deploys)
                             /form.xml        the XForm pyxform compiled from it
                             /media/...       files from '<stem>-media/' beside the source
                             /manifest.json   ids, versions of the tools, sha256 and size of every file
    forms/index.json                          every build: form_id, version, title, source, hashes

A build is written into a hidden temporary folder beside its final place and renamed into place, so an
interrupted build never leaves a half-written version folder. A source whose sha256 is already in the
index is skipped before anything is compiled: a no-change rebuild only hashes files.

Version convention (ODK's): settings.version is YYYYMMDDNN, the date of the change and a two-digit
counter for that day (2026112801, 2026112802, ...). ODK Collect only offers a form update when the
version changes, so a changed source must carry a higher version than its last build;
`bump_version` (the CLI's `forms bump FORM`) writes the next one into the spreadsheet.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__ as DESBUMI_VERSION
from ..errors import InputError
from .check import CheckResult, check_form
from .findings import ERROR, Finding
from .sources import media_dir_for
from .versions import (
    is_higher,
    last_build,
    load_index,
    next_version,
    version_key,
    write_index,
)
from .workbook import SETTINGS, XLSForm, cell_text, normalise_header, read_xlsform

BUILT, UPDATED, SKIPPED, REFUSED = "built", "updated", "skipped", "refused"
MANIFEST = "manifest.json"
FORM_XLSX, FORM_XML, MEDIA = "form.xlsx", "form.xml", "media"
_SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass
class BuildOutcome:
    """What `forms build` did with one source. The CLI renders it; nothing here prints."""

    source: Path
    status: str  # BUILT | UPDATED (media only) | SKIPPED | REFUSED
    form_id: str = ""
    version: str = ""
    path: Path | None = None  # the version folder (built, or the existing one when skipped)
    reasons: list[str] = field(default_factory=list)  # one sentence each: why skipped or refused
    findings: list[Finding] = field(default_factory=list)  # from the check (warnings when built)
    next_version: str = ""  # the version to use, when refused for its version
    validate_skipped: str = ""  # why ODK Validate did not run, if it did not

    @property
    def ok(self) -> bool:
        return self.status != REFUSED


# --------------------------------------------------------------------------- building

def build_forms(sources: list[Path], forms_dir: Path, *, validate: bool = True,
                project_root: Path | None = None,
                generated_media: dict[str, list[str]] | None = None) -> list[BuildOutcome]:
    """Build each source in turn (see build_form); the index is read once and kept current."""
    forms_dir = Path(forms_dir)
    index = load_index(forms_dir)
    outcomes = []
    for source in sources:
        outcome = _build(Path(source), forms_dir, index, validate=validate, check_result=None,
                         project_root=project_root, generated_media=generated_media)
        outcomes.append(outcome)
    return outcomes


def build_form(source: Path, forms_dir: Path, *, validate: bool = True,
               check_result: CheckResult | None = None, project_root: Path | None = None,
               generated_media: dict[str, list[str]] | None = None) -> BuildOutcome:
    """Check one XLSForm and, when it is clean and its version is new, write its version folder.

    `check_result` lets a caller that already ran `check_form` on this source avoid a second check
    (it is used only if its sha256 still matches the file).
    """
    forms_dir = Path(forms_dir)
    return _build(Path(source), forms_dir, load_index(forms_dir), validate=validate,
                  check_result=check_result, project_root=project_root, generated_media=generated_media)


def _build(source: Path, forms_dir: Path, index: list[dict], *, validate: bool,
           check_result: CheckResult | None, project_root: Path | None,
           generated_media: dict[str, list[str]] | None) -> BuildOutcome:
    if not source.is_file():
        raise InputError(f"{source}: no such file.")
    data = source.read_bytes()  # one read: the hash and the copy are of the same bytes
    digest = hashlib.sha256(data).hexdigest()

    # 1. unchanged? decided from the hash and the index alone: nothing is compiled or written
    for entry in index:
        if entry.get("source_sha256") == digest and (forms_dir / str(entry.get("path", ""))).is_dir():
            changed = _refresh_media(forms_dir / entry["path"], source)
            if changed:
                return BuildOutcome(source=source, status=UPDATED, form_id=str(entry["form_id"]),
                                    version=str(entry["version"]), path=forms_dir / entry["path"],
                                    reasons=[f"media changed beside the source ({', '.join(changed)}): the build's "
                                             "media/ and manifest were updated, same version — ODK allows new "
                                             "media without a new version; `forms deploy` sends them"])
            return BuildOutcome(source=source, status=SKIPPED, form_id=str(entry["form_id"]),
                                version=str(entry["version"]), path=forms_dir / entry["path"],
                                reasons=[f"unchanged since the build of version {entry['version']} "
                                         f"(forms/{entry['path']})"])

    # 2. the version must be new for a changed source
    form = check_result.form if check_result is not None and check_result.form is not None else read_xlsform(source)
    form_id, version = form.form_id, form.version.strip()
    refusal = _version_refusal(source, form, forms_dir, index, digest)
    if refusal is not None:
        return refusal

    # 3. check (lint + pyxform + ODK Validate); any error refuses the build
    if check_result is None or check_result.source_sha256 != digest:
        check_result = check_form(source, forms_dir=forms_dir, validate=validate,
                                  generated_media=generated_media)
    if check_result.xform is None or not check_result.ok:
        errors = [f for f in check_result.findings if f.severity == ERROR]
        reason = (f"{len(errors)} error(s) found by the check; fix them and build again"
                  if errors else "pyxform produced no XForm")
        return BuildOutcome(source=source, status=REFUSED, form_id=form_id, version=version,
                            reasons=[f"{_name(form)} was not built: {reason}."],
                            findings=list(check_result.findings),
                            validate_skipped=check_result.validate_skipped)

    # 4. write the version folder atomically, then record it in the index
    root = project_root if project_root is not None else forms_dir.parent
    final = forms_dir / form_id / version
    if final.exists():
        existing = _read_manifest(final)
        if existing.get("source", {}).get("sha256") == digest:
            _record(index, forms_dir, form, digest, source, root)
            return BuildOutcome(source=source, status=SKIPPED, form_id=form_id, version=version, path=final,
                                reasons=[f"forms/{form_id}/{version} already holds this source; "
                                         "its entry in forms/index.json was restored"])
        wanted = _version_to_use(form, forms_dir, index)
        return BuildOutcome(
            source=source, status=REFUSED, form_id=form_id, version=version, next_version=wanted,
            reasons=[f"{_name(form)}: forms/{form_id}/{version} already exists from a different source "
                     f"(it is not in forms/index.json). Set settings.version to {wanted} "
                     f"(`desbumi-sync forms bump {form_id}`) and build again."])
    _write_build(final, data, digest, source, form, check_result.xform, root)
    _record(index, forms_dir, form, digest, source, root)
    return BuildOutcome(source=source, status=BUILT, form_id=form_id, version=version, path=final,
                        findings=list(check_result.findings), validate_skipped=check_result.validate_skipped)


def _name(form: XLSForm) -> str:
    return f"form '{form.form_id}' ({form.path.name})"


def _version_refusal(source: Path, form: XLSForm, forms_dir: Path, index: list[dict],
                     digest: str) -> BuildOutcome | None:
    form_id, version = form.form_id, form.version.strip()
    if not _SAFE_PART.match(form_id):
        return BuildOutcome(source=source, status=REFUSED, form_id=form_id, version=version,
                            reasons=[f"{_name(form)}: form_id {form_id!r} cannot name a folder; use letters, "
                                     "digits and underscores (sheet 'settings', column 'form_id')."])
    if not version:
        wanted = _version_to_use(form, forms_dir, index)
        return BuildOutcome(source=source, status=REFUSED, form_id=form_id, next_version=wanted,
                            reasons=[f"{_name(form)} has no settings.version; set it to {wanted} "
                                     f"(`desbumi-sync forms bump {form_id}`) and build again."])
    if not _SAFE_PART.match(version):
        wanted = _version_to_use(form, forms_dir, index)
        return BuildOutcome(source=source, status=REFUSED, form_id=form_id, version=version, next_version=wanted,
                            reasons=[f"{_name(form)}: settings.version {version!r} cannot name a folder; "
                                     f"use ODK's YYYYMMDDNN, e.g. {wanted}."])
    last = _last_build(index, form_id)
    if last is not None and str(last.get("source_sha256")) != digest and not is_higher(version, str(last["version"])):
        wanted = _version_to_use(form, forms_dir, index)
        return BuildOutcome(
            source=source, status=REFUSED, form_id=form_id, version=version, next_version=wanted,
            reasons=[f"{_name(form)} changed since its build of version {last['version']}, but its "
                     f"settings.version is {version}, not higher; ODK Collect would not offer the update. "
                     f"Set settings.version to {wanted} (`desbumi-sync forms bump {form_id}`) and build again."])
    return None


def _last_build(index: list[dict], form_id: str) -> dict | None:
    builds = [b for b in index if b.get("form_id") == form_id]
    return max(builds, key=lambda b: version_key(str(b.get("version", "")))) if builds else None


def _version_to_use(form: XLSForm, forms_dir: Path, index: list[dict] | None = None,
                    today: dt.date | None = None) -> str:
    last = _last_build(index if index is not None else load_index(forms_dir), form.form_id)
    return version_to_use(form.version.strip(), str(last["version"]) if last else None, today)


def version_to_use(current: str, last_built: str | None = None, today: dt.date | None = None) -> str:
    """The next YYYYMMDDNN above both the source's version and the last build's."""
    highest = current
    if last_built and (not current or is_higher(last_built, current)):
        highest = last_built
    try:
        return next_version(highest, today)
    except ValueError:  # a number that is not YYYYMMDDNN but already above today's: count on from it
        digits = re.fullmatch(r"(.*?)(\d+)", highest)
        if digits:
            return f"{digits.group(1)}{int(digits.group(2)) + 1:0{len(digits.group(2))}d}"
        return next_version("", today)


def _relative(path: Path, root: Path) -> str:
    path, root = Path(os.path.abspath(path)), Path(os.path.abspath(root))
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _file_entry(data: bytes) -> dict:
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def _media_files(source: Path) -> list[Path]:
    folder = media_dir_for(source)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith((".", "~$")))


def _refresh_media(folder: Path, source: Path) -> list[str]:
    """Bring a build's media in line with `<stem>-media/` beside its (unchanged) source.

    Only files that came from beside the source (listed in the manifest) are replaced or removed;
    files `forms preload` wrote into the build's media/ are not in the manifest and are left alone.
    Returns the names changed, [] when the media were already current (nothing is written then).
    """
    manifest = _read_manifest(folder)
    files: dict[str, dict] = dict(manifest.get("files") or {})
    current = {f"{MEDIA}/{p.name}": p.read_bytes() for p in _media_files(source)}
    changed = sorted(name for name, data in current.items()
                     if files.get(name, {}).get("sha256") != hashlib.sha256(data).hexdigest())
    removed = sorted(name for name in files if name.startswith(f"{MEDIA}/") and name not in current)
    if not changed and not removed:
        return []
    for name in changed:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(current[name])
        os.replace(tmp, target)
        files[name] = _file_entry(current[name])
    for name in removed:
        (folder / name).unlink(missing_ok=True)
        files.pop(name)
    manifest["files"] = dict(sorted(files.items()))
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, folder / MANIFEST)
    return [name.split("/", 1)[1] for name in changed + removed]


def _write_build(final: Path, data: bytes, digest: str, source: Path, form: XLSForm, xform: str,
                 root: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        files: dict[str, dict] = {}
        (tmp / FORM_XLSX).write_bytes(data)
        files[FORM_XLSX] = _file_entry(data)
        xml = xform.encode("utf-8")
        (tmp / FORM_XML).write_bytes(xml)
        files[FORM_XML] = _file_entry(xml)
        media = _media_files(source)
        if media:
            (tmp / MEDIA).mkdir()
            for item in media:
                content = item.read_bytes()
                (tmp / MEDIA / item.name).write_bytes(content)
                files[f"{MEDIA}/{item.name}"] = _file_entry(content)
        manifest = {
            "form_id": form.form_id,
            "version": form.version.strip(),
            "title": form.settings.get("form_title", ""),
            "languages": form.languages,
            "default_language": form.default_language,
            "pyxform_version": _pyxform_version(),
            "desbumi_version": DESBUMI_VERSION,
            "source": {"path": _relative(source, root), "sha256": digest},
            "files": dict(sorted(files.items())),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.chmod(0o755)  # mkdtemp makes it 0700; a build folder is an ordinary, shareable folder
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _record(index: list[dict], forms_dir: Path, form: XLSForm, digest: str, source: Path,
            root: Path) -> None:
    version = form.version.strip()
    entry = {"form_id": form.form_id, "version": version, "title": form.settings.get("form_title", ""),
             "source": _relative(source, root), "source_sha256": digest, "path": f"{form.form_id}/{version}"}
    index[:] = [b for b in index if not (b.get("form_id") == form.form_id and str(b.get("version")) == version)]
    index.append(entry)
    write_index(forms_dir, index)


def _read_manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _pyxform_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pyxform")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


def read_manifest(folder: Path) -> dict:
    """The manifest.json of a version folder (an InputError when it is missing or broken)."""
    path = Path(folder) / MANIFEST
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read ({exc}); rebuild the form or restore it from git.") from exc


# --------------------------------------------------------------------------- forms bump

def next_version_for(source: Path, forms_dir: Path | None = None, today: dt.date | None = None) -> str:
    """The version `forms bump` would write: above the source's own and its last build in forms/."""
    form = read_xlsform(source)
    last = last_build(forms_dir, form.form_id) if forms_dir else None
    return version_to_use(form.version.strip(), last.version if last else None, today)


def bump_version(source: Path, today: dt.date | None = None, *, forms_dir: Path | None = None) -> tuple[str, str]:
    """Write the next version into settings.version of the XLSForm, in place; returns (old, new).

    Only that one cell changes (the column is added to the settings sheet when missing); the
    workbook is saved to a temporary file beside it and renamed over the original.
    """
    from openpyxl import load_workbook

    source = Path(source)
    old_form = read_xlsform(source)
    old = old_form.version.strip()
    new = next_version_for(source, forms_dir, today)
    book = load_workbook(source)
    try:
        ws = next((w for w in book.worksheets if w.title.strip().lower() == SETTINGS), None)
        if ws is None:
            ws = book.create_sheet(SETTINGS)
        column = None
        last_used = 0
        for cell in ws[1] if ws.max_row >= 1 else ():
            text = cell_text(cell.value).strip()
            if text:
                last_used = cell.column
                if normalise_header(text) == "version":
                    column = cell.column
                    break
        if column is None:
            column = last_used + 1
            ws.cell(row=1, column=column, value="version")
        target = ws.cell(row=_settings_data_row(ws), column=column)
        target.value = int(new) if isinstance(target.value, (int, float)) and new.isdigit() else new
        tmp = source.with_name(f".{source.stem}.bump.tmp{source.suffix}")
        try:
            book.save(tmp)
            os.replace(tmp, source)
        except OSError as exc:
            raise InputError(f"{source}: could not write the new version {new} ({exc}).",
                             hint="Close the workbook in Excel or LibreOffice and run the bump again.") from exc
        finally:
            if tmp.exists():
                tmp.unlink()
    finally:
        book.close()
    return old, new


def _settings_data_row(ws) -> int:
    """The row pyxform reads settings from: the first non-empty row under the header, else row 2."""
    for row in range(2, (ws.max_row or 1) + 1):
        if any(cell_text(c.value).strip() for c in ws[row]):
            return row
    return 2


__all__ = ["BUILT", "SKIPPED", "REFUSED", "BuildOutcome", "build_form", "build_forms", "bump_version",
           "next_version_for", "version_to_use", "read_manifest"]
