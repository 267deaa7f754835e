"""Where the Kobo API token comes from: KOBO_TOKEN, else the system keyring. Never desbumi.toml.

The keyring is optional: it is imported only when KOBO_TOKEN is unset, and a missing package or a
machine without a keyring backend simply means "not there".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from ..config import DEFAULT_SERVER
from ..errors import InputError

KEYRING_SERVICE = "desbumi"


def resolve_token(environ: Mapping[str, str] = os.environ, *, server_url: str | None = None,
                  keyring_module=None) -> str:
    """The token for `server_url` (default: DESBUMI_SERVER or the default server).

    Order: KOBO_TOKEN; then the keyring entry with service "desbumi" and user = the server host.
    Missing → InputError saying how to set it. The token itself never appears in any message.
    """
    server_url = server_url or environ.get("DESBUMI_SERVER") or DEFAULT_SERVER
    host = urlsplit(server_url).hostname or server_url
    token = (environ.get("KOBO_TOKEN") or "").strip()
    source = "KOBO_TOKEN"
    if not token:
        token = (_from_keyring(host, keyring_module) or "").strip()
        source = f"the keyring entry desbumi/{host}"
    if not token:
        raise InputError(
            f"No Kobo API token for {host}: KOBO_TOKEN is not set and the keyring has no entry "
            f"(service 'desbumi', user '{host}').",
            hint=("Copy your API key from Kobo (Account Settings → Security → API key, or "
                  f"{server_url.rstrip('/')}/token/?format=json while logged in) and set it in the "
                  "environment, e.g. `export KOBO_TOKEN=...` in your shell profile, or store it once with "
                  f"`keyring set desbumi {host}`. Never put it in desbumi.toml."))
    if any(ch.isspace() for ch in token):
        raise InputError(f"The token from {source} contains spaces or line breaks, so Kobo would reject it.",
                         hint="Copy the API key again: it is one word of letters and digits.")
    return token


def _from_keyring(host: str, keyring_module=None) -> str | None:
    module = keyring_module
    if module is None:
        try:
            import keyring as module  # optional dependency
        except ImportError:
            return None
    try:
        return module.get_password(KEYRING_SERVICE, host)
    except Exception:  # no backend, locked store, D-Bus missing: treat as "no entry"
        return None
