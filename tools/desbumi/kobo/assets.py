"""Assets (projects) and their content versions: `/api/v2/assets/…`.

Results are the server's JSON, untouched (the store keeps it raw); `Asset.from_json` reads the few
fields desbumi relies on, leniently, across server versions (KOBO_API.md §2, §9 items 7-9, 13).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .session import KoboSession

LIST_PAGE = 100


@dataclass(frozen=True)
class Asset:
    """The fields of an asset desbumi uses; everything else stays in `raw`."""

    uid: str
    name: str | None
    asset_type: str | None
    version_id: str | None
    deployed_version_id: str | None
    has_deployment: bool
    deployment_active: bool
    deployment_status: str | None
    submission_count: int | None
    deployment_uuid: str | None
    url: str | None
    data_url: str | None
    raw: dict = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Asset:
        deployed = body.get("deployed_version_id")
        return cls(
            uid=body["uid"],
            name=body.get("name"),
            asset_type=body.get("asset_type"),
            version_id=body.get("version_id"),
            deployed_version_id=deployed,
            # older list payloads lack has_deployment: a deployed version id implies one
            has_deployment=bool(body.get("has_deployment", deployed is not None)),
            deployment_active=bool(body.get("deployment__active", False)),
            deployment_status=body.get("deployment_status"),
            submission_count=body.get("deployment__submission_count"),
            # deployment__uuid appeared in 2.025.29; older servers have none (deployment__identifier is a URL)
            deployment_uuid=body.get("deployment__uuid"),
            url=body.get("url"),
            data_url=body.get("data"),
            raw=body,
        )

    @property
    def is_current_version_deployed(self) -> bool:
        return self.has_deployment and self.deployment_active and self.deployed_version_id == self.version_id


class AssetsService:
    def __init__(self, session: KoboSession):
        self.session = session

    def url(self, uid: str) -> str:
        return self.session.api_url("assets", uid)

    def iter(self, *, q: str | None = "asset_type:survey", limit: int = LIST_PAGE) -> Iterator[dict]:
        """Every asset the token can see (surveys only by default; Kobo filters types with `q`)."""
        params: dict[str, Any] = {"limit": limit}
        if q:
            params["q"] = q
        return self.session.iter_list(self.session.api_url("assets"), params=params)

    def list(self, *, q: str | None = "asset_type:survey", limit: int = LIST_PAGE) -> list[dict]:
        return list(self.iter(q=q, limit=limit))

    def get(self, uid: str) -> dict:
        return self.session.get_json(self.url(uid))

    def versions(self, uid: str, *, limit: int = LIST_PAGE) -> list[dict]:
        """Version list, newest first; `date_deployed` is False for never-deployed versions."""
        return list(self.session.iter_list(self.session.api_url("assets", uid, "versions"),
                                           params={"limit": limit}))

    def version(self, uid: str, vuid: str) -> dict:
        """One version with its `content` (needed to flatten submissions made with it)."""
        return self.session.get_json(
            self.session.api_url("assets", uid, "versions", vuid),
            not_found=(f"version {vuid} of asset {uid} was not found: the version uid is wrong, or the asset "
                       f"uid/token is (Kobo hides private assets behind 404)."))
