"""The Kobo client: one `KoboSession` (the only HTTP path in desbumi) behind one facade.

    client = KoboClient.connect("https://kf.kobotoolbox.org")     # token from KOBO_TOKEN / keyring
    client.assets.list(); client.assets.get(uid); client.assets.versions(uid); client.assets.version(uid, v)
    client.submissions.after(uid, last_id, 1000)  -> Page   (keyset on _id)
    client.submissions.sweep(uid, 1000)           -> Iterator[Page]   (_id, _uuid, _validation_status)
    client.attachments.download(url, path)        -> (sha256, size)
    client.files.list/upload/delete/sync(uid, …)
    client.deploy.import_xlsform(path) / deploy(uid) / publish(path, media, asset_uid=…)
    client.session.counters()                     -> {"requests": n, "retries": m}
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .assets import Asset, AssetsService
from .attachments import Attachment, AttachmentsService, attachments_of, safe_attachment_path
from .deploy import DeployResult, DeployService
from .files import FilesService, MediaPlan, plan_media
from .session import KoboSession
from .submissions import Page, SubmissionsService
from .token import resolve_token


class KoboClient:
    def __init__(self, session: KoboSession):
        self.session = session
        self.assets = AssetsService(session)
        self.submissions = SubmissionsService(session)
        self.attachments = AttachmentsService(session)
        self.files = FilesService(session)
        self.deploy = DeployService(session, self.assets, self.files)

    @classmethod
    def connect(cls, server_url: str, token: str | None = None, *, environ: Mapping[str, str] | None = None,
                **session_options: Any) -> KoboClient:
        """A client for `server_url`; the token defaults to KOBO_TOKEN or the keyring entry for the host."""
        if token is None:
            token = resolve_token(os.environ if environ is None else environ, server_url=server_url)
        return cls(KoboSession(server_url, token, **session_options))

    def me(self) -> dict:
        """The account the token belongs to (GET /me/): the cheapest token check (401 if invalid)."""
        return self.session.get_json(self.session.root_url("me"))

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> KoboClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"KoboClient({self.session!r})"


__all__ = [
    "Asset", "Attachment", "DeployResult", "KoboClient", "KoboSession", "MediaPlan", "Page",
    "attachments_of", "plan_media", "resolve_token", "safe_attachment_path",
]
