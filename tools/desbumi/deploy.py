"""`forms deploy FORM`: the newest build of a form in forms/ onto the Kobo server, and remember where.

    build = find_build(forms_dir, "desbumi_ekonomi_y2")        # forms/<id>/<version>/{form.xlsx, media/}
    report = deploy_build(client, build, asset_uid, on_asset=remember)   # import → media → (re)deploy
    set_asset_in_config(Path("desbumi.toml"), build.form_id, report.asset_uid)

What one deploy does (KOBO_API.md §4–5), each step skipped when the server already has its result:

1. the asset: the uid from [assets] in desbumi.toml (else the one the store remembers for the form);
   none means a new project;
2. import the build's form.xlsx (`library=false`, with `destination` for an existing asset) and poll
   the import — skipped when the asset's current content already carries this build's
   `settings.version` (a build's version names its content: `forms build` refuses a changed source
   without a higher version), unless `force`;
3. form media by md5: new files uploaded, changed ones deleted and uploaded again (Kobo has no
   replace), identical ones kept, files only on the server left alone;
4. deploy: POST the first time, PATCH with the asset's *current* version_id after; a media-only change
   redeploys the same version (Collect sees new media only after a redeploy); then confirm.

So a second deploy with nothing changed costs three GETs and writes nothing on the server.

The media are the regular files directly in the build's media/ folder — what `forms build` copied
and what `forms preload` wrote there. Per-district folders (`preload --split-by district`) belong to
per-district deployments and are not uploaded. A media file the compiled form names
(`jr://file-csv/…`, `jr://images/…`) but the folder lacks stops the deploy (`allow_missing_media`
overrides), because phones would get a form whose preload lookups come back empty.

Remembering the asset: `set_asset_in_config` edits desbumi.toml as text, touching one line — see its
docstring for the rule; the CLI also records the asset in the store.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checksums import sha256_file
from .errors import ConfigError, InputError
from .forms.versions import load_index, version_key

FORM_XLSX, FORM_XML, MEDIA, MANIFEST = "form.xlsx", "form.xml", "media", "manifest.json"
DEFAULT_POLL = 0.5  # seconds between import polls (real imports take a few seconds)
DEFAULT_TIMEOUT = 300.0
_MEDIA_REF = re.compile(r"jr://(?:file|file-csv|images|audio|video)/([^\"'<>\s]+)")


# =========================================================================== the build to deploy

@dataclass(frozen=True)
class Build:
    """The newest build of one form: forms/<form_id>/<version>/."""

    form_id: str
    version: str
    title: str
    folder: Path
    xlsx: Path
    media: tuple[Path, ...]  # regular files directly in media/, sorted by name
    media_subfolders: tuple[str, ...] = ()  # e.g. per-district preload folders (not deployed)
    referenced_media: tuple[str, ...] = ()  # media names the compiled XForm points at

    @property
    def missing_media(self) -> list[str]:
        present = {p.name for p in self.media}
        return [name for name in self.referenced_media if name not in present]


def find_build(forms_dir: Path, form_id: str) -> Build:
    """The highest version of `form_id` in forms/index.json, checked against its manifest."""
    forms_dir = Path(forms_dir)
    builds = [b for b in load_index(forms_dir) if b.get("form_id") == form_id]
    if not builds:
        known = sorted({str(b.get("form_id")) for b in load_index(forms_dir) if b.get("form_id")})
        listed = f" (built forms: {', '.join(known)})" if known else ""
        raise InputError(f"Form '{form_id}' has no build in {forms_dir}{listed}: there is nothing to deploy.",
                         hint=f"Run `desbumi-sync forms build {form_id}` first (and `desbumi-sync forms preload "
                              f"--year1 FILE` when the form reads a preload CSV), then deploy again.")
    newest = max(builds, key=lambda b: version_key(str(b.get("version", ""))))
    version = str(newest.get("version", ""))
    folder = forms_dir / str(newest.get("path") or f"{form_id}/{version}")
    xlsx = folder / FORM_XLSX
    rebuild = f"Run `desbumi-sync forms build {form_id}` again, or restore {folder} from git."
    if not xlsx.is_file():
        raise InputError(f"forms/index.json lists {form_id} {version}, but {xlsx} is missing.", hint=rebuild)
    manifest = _read_manifest(folder, rebuild)
    expected = ((manifest.get("files") or {}).get(FORM_XLSX) or {}).get("sha256")
    if expected and expected != sha256_file(xlsx):
        raise InputError(f"{xlsx} is not the file its build recorded (its sha256 differs from {folder / MANIFEST}); "
                         f"a build folder is never edited by hand.",
                         hint=f"Edit the source in xlsform_src/ and run `desbumi-sync forms bump {form_id}` and "
                              f"`forms build {form_id}`.")
    if str(manifest.get("form_id") or form_id) != form_id or str(manifest.get("version") or version) != version:
        raise InputError(f"{folder / MANIFEST} says {manifest.get('form_id')} {manifest.get('version')}, "
                         f"but forms/index.json says {form_id} {version}.", hint=rebuild)
    media_dir = folder / MEDIA
    media, subfolders = [], []
    if media_dir.is_dir():
        for item in sorted(media_dir.iterdir()):
            if item.name.startswith((".", "~$")):
                continue
            if item.is_dir():
                subfolders.append(item.name)
            elif item.is_file():
                media.append(item)
    xml = folder / FORM_XML
    referenced = referenced_media(xml.read_text(encoding="utf-8")) if xml.is_file() else []
    return Build(form_id=form_id, version=version, title=str(manifest.get("title") or newest.get("title") or ""),
                 folder=folder, xlsx=xlsx, media=tuple(media), media_subfolders=tuple(subfolders),
                 referenced_media=tuple(referenced))


def referenced_media(xform: str) -> list[str]:
    """File names a compiled XForm loads from the form's media (pulldata CSVs, *_from_file lists,
    media labels), in order of first mention."""
    seen: dict[str, None] = {}
    for match in _MEDIA_REF.finditer(xform):
        seen.setdefault(match.group(1).rsplit("/", 1)[-1], None)
    return list(seen)


def _read_manifest(folder: Path, hint: str) -> dict:
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} cannot be read ({exc}).", hint=hint) from exc
    return data if isinstance(data, dict) else {}


# =========================================================================== the server side

def content_settings(asset: dict | None) -> dict:
    content = (asset or {}).get("content") or {}
    settings = content.get("settings") if isinstance(content, dict) else None
    if isinstance(settings, list):  # very old assets: settings as a one-row list
        settings = settings[0] if settings else {}
    return settings if isinstance(settings, dict) else {}


def _version_text(value: Any) -> str:
    text = str(value if value is not None else "").strip()
    return text[:-2] if re.fullmatch(r"\d+\.0", text) else text  # a numeric cell read as a float


def server_form_version(asset: dict | None) -> str:
    """The XLSForm `settings.version` of the asset's current content ('' when absent)."""
    return _version_text(content_settings(asset).get("version"))


def server_form_id(asset: dict | None) -> str:
    settings = content_settings(asset)
    return str(settings.get("id_string") or settings.get("form_id") or "").strip()


@dataclass
class DeployReport:
    """What one deploy did; the CLI renders it, nothing here prints."""

    form_id: str
    version: str
    asset_uid: str = ""
    asset_url: str = ""
    asset_source: str = "new"  # where the uid came from: config | store | new
    form: str = ""  # created (a new asset) | replaced (imported into the asset) | unchanged
    uploaded: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    server_only: list[str] = field(default_factory=list)
    deployment: str = ""  # deployed (first time) | redeployed | unchanged
    version_id: str = ""  # the asset version now deployed
    requests: int = 0
    notes: list[str] = field(default_factory=list)
    asset: dict = field(default_factory=dict, repr=False)  # the asset JSON as last fetched
    remembered: dict = field(default_factory=dict)  # filled by the caller: config / store

    @property
    def changed(self) -> bool:
        return self.form != "unchanged" or self.deployment != "unchanged" or bool(self.uploaded or self.replaced)

    def to_dict(self) -> dict:
        return {"form_id": self.form_id, "version": self.version, "asset_uid": self.asset_uid,
                "asset_url": self.asset_url, "asset_source": self.asset_source, "form": self.form,
                "media": {"uploaded": self.uploaded, "replaced": self.replaced, "kept": self.kept,
                          "server_only": self.server_only},
                "deployment": self.deployment, "version_id": self.version_id, "changed": self.changed,
                "requests": self.requests, "remembered": self.remembered, "notes": self.notes}


def deploy_build(client, build: Build, asset_uid: str | None = None, *, asset_source: str = "config",
                 force: bool = False, allow_missing_media: bool = False,
                 on_asset: Callable[[str], None] | None = None,
                 poll: float = DEFAULT_POLL, timeout: float = DEFAULT_TIMEOUT) -> DeployReport:
    """Put `build` on the server as asset `asset_uid` (a new project when None); see the module doc.

    `on_asset(uid)` is called as soon as a new asset exists, before media and deployment, so a deploy
    that fails later still leaves the uid remembered and the next run continues into the same asset.
    """
    report = DeployReport(form_id=build.form_id, version=build.version,
                          asset_source=asset_source if asset_uid else "new")
    report.notes.extend(check_media(build, allow_missing_media))
    before = client.session.counters()["requests"]
    try:
        asset = None
        if asset_uid:
            asset = client.assets.get(asset_uid)
            _check_asset(asset, build, asset_uid, asset_source, force)
        if asset is None or force or server_form_version(asset) != build.version:
            uid = client.deploy.import_xlsform(build.xlsx, asset_uid, name=build.title or build.form_id,
                                               poll=poll, timeout=timeout)
            report.form = "replaced" if asset_uid else "created"
            if asset_uid and uid != asset_uid:
                raise InputError(f"Kobo imported {build.xlsx} into asset {uid}, not into {asset_uid}.")
            if not asset_uid and on_asset is not None:
                on_asset(uid)
        else:
            uid = asset_uid
            report.form = "unchanged"
        report.asset_uid = uid
        plan = client.files.sync(uid, list(build.media))
        report.uploaded = [p.name for p in plan.upload]
        report.replaced = [p.name for _, p in plan.replace]
        report.kept = list(plan.unchanged)
        report.server_only = list(plan.extra)
        result = client.deploy.deploy(uid, redeploy_same=plan.changed)
        report.deployment, report.version_id = result.action, result.version_id
        if report.form == "unchanged" and result.action == "unchanged" and asset is not None:
            report.asset = asset
        else:
            report.asset = client.assets.get(uid)
        report.asset_url = str(report.asset.get("url") or client.assets.url(uid))
    finally:
        report.requests = client.session.counters()["requests"] - before
    return report


def check_media(build: Build, allow_missing: bool = False) -> list[str]:
    """Refuse a build whose form reads a media file it lacks (InputError); notes for the report."""
    notes = []
    missing = build.missing_media
    if missing and not allow_missing:
        where = build.folder / MEDIA
        split = (f" It has per-district folders ({', '.join(build.media_subfolders)}), which belong to "
                 f"per-district deployments.") if build.media_subfolders else ""
        raise InputError(f"{build.form_id} {build.version} reads {', '.join(missing)} from its media, but {where} "
                         f"has no such file: phones would get a form whose lookups come back empty.{split}",
                         hint=f"Write the preload CSV with `desbumi-sync forms preload --year1 FILE --form "
                              f"{build.form_id}` (or put the file into {where}), then deploy again; "
                              f"--allow-missing-media deploys without it.")
    if missing:
        notes.append(f"deployed without {', '.join(missing)} (the form reads it; --allow-missing-media)")
    if build.media_subfolders:
        notes.append(f"media subfolders not uploaded: {', '.join(build.media_subfolders)}")
    return notes


def _check_asset(asset: dict, build: Build, uid: str, source: str, force: bool) -> None:
    """Refuse to overwrite an asset that is plainly another form (a wrong uid in [assets])."""
    kind = asset.get("asset_type")
    where = "[assets] in desbumi.toml" if source == "config" else "the local store"
    if kind and kind != "survey":
        raise InputError(f"Asset {uid} ({where} for {build.form_id}) is a library {kind}, not a survey project; "
                         f"a form cannot be deployed into it.",
                         hint=f"Fix or remove `{build.form_id} = \"{uid}\"` under [assets] in desbumi.toml "
                              f"(without it, a new project is created).")
    other = server_form_id(asset)
    if other and other not in (build.form_id, uid) and not force:
        raise InputError(f"Asset {uid} ({where} for {build.form_id}) holds the form '{other}' "
                         f"(“{asset.get('name') or ''}”), not {build.form_id}; deploying would replace it.",
                         hint="Fix the uid under [assets] in desbumi.toml (`desbumi-sync assets` lists the "
                              "projects), or pass --force to replace that form on purpose.")


# =========================================================================== remembering the uid

def remembered_in_store(store_dir: Path, form_id: str) -> str | None:
    """The asset uid the local store holds for `form_id`, when exactly one; None when none.

    Several assets with that form_id (e.g. one per district) are ambiguous: InputError."""
    from .store import DB_NAME, Store

    if not (Path(store_dir) / DB_NAME).is_file():
        return None
    with Store.open(store_dir, create=False) as store:
        uids = sorted(a.uid for a in store.assets() if a.form_id == form_id)
    if len(uids) > 1:
        raise InputError(f"The local store knows {len(uids)} assets for {form_id} ({', '.join(uids)}); "
                         f"desbumi cannot tell which one to deploy into.",
                         hint=f"Say which under [assets] in desbumi.toml: {form_id} = \"<asset uid>\".")
    return uids[0] if uids else None


def remember_in_store(store_dir: Path, asset: dict, form_id: str) -> Path:
    from .store import Store

    with Store.open(store_dir) as store:
        store.save_asset(asset, form_id=form_id)
        return store.path


_HEADER = re.compile(r"^\s*\[(?!\[)\s*(?P<name>[^\]#]*?)\s*\]\s*(?:#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")
_KEY_LINE = re.compile(r"""^(?P<indent>[ \t]*)(?P<key>[A-Za-z0-9_-]+|"[^"\\]*"|'[^']*')[ \t]*=[ \t]*(?P<value>.*)$""")
_SIMPLE_VALUE = re.compile(r"""^(?P<q>["'])(?P<text>[^"'\\\n]*)(?P=q)(?P<rest>[ \t]*(?:#.*)?)$""")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
ASSETS = "assets"


def _unquote(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] and key[0] in "\"'" else key


def _toml_key(key: str) -> str:
    if _BARE_KEY.match(key):
        return key
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def set_asset_text(text: str, form_id: str, uid: str, *, origin: str = "desbumi.toml") -> str:
    """`text` (a desbumi.toml) with `form_id = "uid"` in its [assets] table, everything else untouched.

    The rule — a minimal, line-based edit, checked by parsing:
    - a line `form_id = "…"` (bare or quoted key) inside [assets]: only its value changes; the key's
      spelling, indentation and a trailing comment stay;
    - no such line: `form_id = "uid"` goes right after the last key line of [assets] (after the
      header when the table is empty), so comments and blank lines that follow stay where they are;
    - no [assets] table: one is appended at the end of the file, after a blank line;
    - the file's line endings (LF or CRLF) are kept, and a missing final newline is not added except
      where a line is appended;
    - the result must parse to the same TOML with only assets.<form_id> set; anything else (assets
      written as dotted keys or an inline table, a value that is not a plain one-line string) is
      refused with a ConfigError asking for a hand edit, and nothing is written.
    """
    try:
        before = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin} is not valid TOML ({exc}); it was not changed.") from exc
    if (before.get(ASSETS) or {}).get(form_id) == uid:
        return text
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    entry = f'{_toml_key(form_id)} = "{uid}"'
    manual = ConfigError(f"{origin}: desbumi could not add `{entry}` to [assets] safely (the table is written "
                         f"in a form it does not edit); the file was not changed.",
                         hint=f"Add the line `{entry}` under [assets] by hand.")

    start = next((i for i, line in enumerate(lines)
                  if (m := _HEADER.match(line.rstrip("\r\n"))) and _unquote(m.group("name")) == ASSETS), None)
    if start is None:
        if ASSETS in before:
            raise manual
        tail = "" if not text or text.endswith(("\n", "\r")) else newline
        gap = newline if text.strip() else ""
        new_text = f"{text}{tail}{gap}[{ASSETS}]{newline}{entry}{newline}"
    else:
        end = next((i for i in range(start + 1, len(lines)) if _ANY_HEADER.match(lines[i])), len(lines))
        last_key, target = start, None
        for i in range(start + 1, end):
            body = lines[i].rstrip("\r\n")
            stripped = body.strip()
            if not stripped or stripped.startswith("#"):
                continue
            last_key = i
            m = _KEY_LINE.match(body)
            if m and _unquote(m.group("key")) == form_id:
                target = (i, m)
        if target is not None:
            i, m = target
            value = _SIMPLE_VALUE.match(m.group("value"))
            if value is None:
                raise manual
            ending = lines[i][len(lines[i].rstrip("\r\n")):]
            lines[i] = f'{m.group("indent")}{m.group("key")} = "{uid}"{value.group("rest")}{ending}'
        else:
            anchor = lines[last_key]
            if not anchor.endswith(("\n", "\r")):
                lines[last_key] = anchor + newline
            lines.insert(last_key + 1, entry + newline)
        new_text = "".join(lines)
    try:
        after = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError:
        raise manual from None
    expected = {**before, ASSETS: {**(before.get(ASSETS) or {}), form_id: uid}}
    if after != expected:
        raise manual
    return new_text


def set_asset_in_config(path: Path, form_id: str, uid: str) -> bool:
    """Record `form_id = "uid"` under [assets] in `path` (created when absent); True when written.

    The file is replaced atomically (a temporary file beside it, then a rename), keeping its mode."""
    path = Path(path)
    try:
        with path.open("r", encoding="utf-8", newline="") as fh:
            text = fh.read()
        existed = True
    except FileNotFoundError:
        text, existed = "", False
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {path} to remember the asset uid: {exc}.") from exc
    if not existed:
        text = ("# desbumi-sync settings (see README). `forms deploy` records each form's Kobo asset here.\n")
    new_text = set_asset_text(text, form_id, uid, origin=str(path))
    if existed and new_text == text:
        return False
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(new_text)
            if existed:
                os.chmod(tmp, path.stat().st_mode & 0o7777)
            else:
                os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(f"Cannot write {path} to remember the asset uid {uid}: {exc.strerror or exc}.",
                          hint=f"Add `{_toml_key(form_id)} = \"{uid}\"` under [assets] by hand.") from exc
    return True
