"""Putting an XLSForm on the server: import → poll → media → deploy (POST first time, PATCH after) → confirm.

KOBO_API.md §4: imports must say `library=false` (the default makes a library block), run
asynchronously and are polled; deployment is POST once and PATCH with the asset's *current*
`version_id` afterwards (any other version id is an unhandled 500 on the server); media changes need
a redeploy of the same version to reach Collect.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, RefusedError, TransportError
from .assets import Asset, AssetsService
from .files import FilesService, MediaPlan
from .session import KoboSession

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class DeployResult:
    asset_uid: str
    version_id: str
    action: str  # "deployed" (first time), "redeployed", "unchanged"
    media: MediaPlan | None = None


class DeployService:
    def __init__(self, session: KoboSession, assets: AssetsService | None = None, files: FilesService | None = None):
        self.session = session
        self.assets = assets or AssetsService(session)
        self.files = files or FilesService(session)

    # -- import -------------------------------------------------------------------------------------

    def import_xlsform(self, path: str | Path, destination_uid: str | None = None, *, name: str | None = None,
                       poll: float = 1.0, timeout: float = 300.0) -> str:
        """Upload an XLSForm as a project (or as the new content of `destination_uid`); the asset uid."""
        path = Path(path)
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise InputError(f"Cannot read the XLSForm {path}: {exc.strerror}.") from exc
        data = {"library": "false", "name": name or path.stem}
        if destination_uid:
            data["destination"] = self.assets.url(destination_uid)
        task = self.session.request("POST", self.session.api_url("imports"), data=data,
                                    files={"file": (path.name, content, XLSX_MIME)})
        if not isinstance(task, dict) or not task.get("uid"):
            raise RefusedError(f"POST {self.session.api_url('imports')}: the server did not start an import "
                               f"of {path.name} (answer: {str(task)[:200]}).")
        task_url = task.get("url") or self.session.api_url("imports", task["uid"])
        polls = max(1, math.ceil(timeout / poll)) if poll > 0 else 1
        status = task.get("status")
        for _ in range(polls + 1):
            if status in ("complete", "error"):
                break
            self.session.sleep(poll)
            task = self.session.get_json(task_url)
            status = task.get("status")
        else:
            raise TransportError(f"The import of {path.name} ({task_url}) did not finish within {timeout:g} s "
                                 f"(last status: {status}).",
                                 hint="The server is busy; run the deploy again later (it is safe to repeat).")
        messages = task.get("messages") or {}
        if status == "error":
            error_type = messages.get("error_type") or "error"
            error = messages.get("error") or "no reason given"
            if error_type == "PermissionDenied":
                raise RefusedError(f"Kobo refused to import {path.name} into asset {destination_uid}: {error}",
                                   status=403, hint="The token's account needs 'Edit form' on that project.")
            raise InputError(f"Kobo could not import {path.name}: {error_type}: {error}",
                             hint="Run `desbumi-sync forms check` on the form and fix what it reports.")
        for key in ("created", "updated"):
            entries = messages.get(key) or []
            if entries and isinstance(entries[0], dict) and entries[0].get("uid"):
                return entries[0]["uid"]
        if destination_uid:
            return destination_uid
        raise RefusedError(f"The import of {path.name} completed but Kobo did not say which asset it created "
                           f"({task_url}).")

    # -- deployment ---------------------------------------------------------------------------------

    def deploy(self, uid: str, *, redeploy_same: bool = False) -> DeployResult:
        """Deploy the asset's current version; does nothing if it is already deployed and active,
        unless `redeploy_same` (media changed: Collect sees new media only after a redeploy)."""
        asset = Asset.from_json(self.assets.get(uid))
        version_id = asset.version_id
        if not version_id:
            raise RefusedError(f"Asset {uid} has no version to deploy (the server sent no version_id).")
        if asset.is_current_version_deployed and not redeploy_same:
            return DeployResult(uid, version_id, "unchanged")
        url = self.session.api_url("assets", uid, "deployment")
        body = {"active": True, "version_id": version_id}
        first = not asset.has_deployment
        try:
            self._send("POST" if first else "PATCH", url, body)
        except RefusedError as exc:
            if exc.status != 405:  # 405 = we guessed wrong about an existing deployment: use the other verb
                raise
            first = not first
            self._send("POST" if first else "PATCH", url, body)
        confirmed = Asset.from_json(self.assets.get(uid))
        if confirmed.deployed_version_id != version_id or not confirmed.deployment_active:
            raise RefusedError(
                f"Deploying asset {uid} did not take: the server reports deployed version "
                f"{confirmed.deployed_version_id} (active: {confirmed.deployment_active}), expected {version_id}.",
                hint="Someone may have changed the form at the same time; run the deploy again.")
        return DeployResult(uid, version_id, "deployed" if first else "redeployed")

    def _send(self, method: str, url: str, body: dict) -> dict:
        try:
            # a repeated POST is harmless here: the second one gets 405 and we switch to PATCH
            return self.session.request(method, url, json=body, idempotent=True)
        except RefusedError as exc:
            if exc.status == 500 and method == "PATCH":
                exc.hint = ("Kobo answers 500 when the version_id sent is not the asset's current one "
                            "(kobotoolbox/kpi#2205): the form probably changed meanwhile; run the deploy again.")
            if exc.status == 400:
                exc.hint = "Kobo could not build the form; run `desbumi-sync forms check` and fix what it reports."
            raise

    # -- the whole flow -----------------------------------------------------------------------------

    def publish(self, xlsform: str | Path, media: Iterable[Path] = (), *, asset_uid: str | None = None,
                poll: float = 1.0, timeout: float = 300.0) -> DeployResult:
        """Import the XLSForm (into `asset_uid` if given), sync media by md5, then (re)deploy if needed.

        Repeating it when the server already has this content and this media changes nothing.
        """
        uid = self.import_xlsform(xlsform, asset_uid, poll=poll, timeout=timeout)
        plan = self.files.sync(uid, list(media))
        result = self.deploy(uid, redeploy_same=plan.changed)
        result.media = plan
        return result
