"""`desbumi-sync pull`, `status` and `assets`: the Kobo server ↔ the local store."""

from __future__ import annotations

import re
import sys

import click

from ..errors import InputError
from .output import AppState, format_option, pass_state, print_json

_UID = re.compile(r"^a[A-Za-z0-9]{15,}$")


def _client(state: AppState):
    from ..kobo import KoboClient

    return KoboClient.connect(state.config.server_url)


def _form_id_of(asset: dict) -> str:
    content = asset.get("content") or {}
    settings = content.get("settings") or {}
    if isinstance(settings, list):
        settings = settings[0] if settings else {}
    return str(settings.get("id_string") or settings.get("form_id") or "")


def resolve_assets(state: AppState, client, names: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """FORM arguments -> (asset uid, form_id): a form_id from [assets] in desbumi.toml, or a raw uid.

    Without arguments: every asset in [assets], else every deployed survey the token can see.
    """
    configured = dict(state.config.assets)
    if names:
        out = []
        for name in names:
            if name in configured:
                out.append((configured[name], name))
            elif _UID.match(name):
                out.append((name, next((f for f, u in configured.items() if u == name), None)))
            else:
                known = ", ".join(sorted(configured)) or "none"
                raise InputError(f"{name}: not a form_id in [assets] of desbumi.toml nor an asset uid "
                                 f"(configured forms: {known}).",
                                 hint="Add `form_id = \"<asset uid>\"` under [assets], or give the uid "
                                      "(see `desbumi-sync assets`).")
        return out
    if configured:
        return [(uid, form_id) for form_id, uid in sorted(configured.items())]
    found = [(a["uid"], None) for a in client.assets.list() if a.get("has_deployment") or a.get("deployment__active")]
    if not found:
        raise InputError(f"No deployed survey on {state.config.server_url} is visible to this token.",
                         hint="Deploy a form (`desbumi-sync forms deploy FORM`) or check the token's account.")
    return found


class _Progress:
    """A one-line progress display on stderr, only when a person watches and --quiet is off."""

    def __init__(self, state: AppState, label: str):
        self.enabled = not state.quiet and sys.stderr.isatty()
        self.label = label
        self.shown = False

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        of = f"/{total}" if total else ""
        click.echo(f"\r{self.label}: {stage} {done}{of}   ", err=True, nl=False)
        self.shown = True

    def close(self) -> None:
        if self.shown:
            click.echo("", err=True)


@click.command()
@click.argument("names", nargs=-1, metavar="[FORM]...")
@click.option("--full", is_flag=True, help="Fetch every submission again (the store keeps what it has).")
@click.option("--reconcile/--no-reconcile", default=True, show_default=True,
              help="Sweep for edits and deletions made on the server since the last pull.")
@click.option("--attachments", is_flag=True, help="Also download photos, audio and audit files.")
@click.option("--page-size", type=click.IntRange(1, 30000), default=1000, show_default=True,
              help="Submissions per request; smaller pages suit a weak connection (the server may lower it).")
@format_option("text", "json")
@pass_state
def pull(state: AppState, names, full, reconcile, attachments, page_size, output_format):
    """Bring submissions from the Kobo server into the local store, incrementally.

    FORM is a form_id under [assets] in desbumi.toml or an asset uid; without FORM every configured
    asset is pulled. Interrupted at any point, the next pull continues from the last committed page.
    """
    from ..pull import pull_asset
    from ..store import Store

    summaries = []
    with _client(state) as client, Store.open(state.config.store_dir) as store:
        for uid, form_id in resolve_assets(state, client, names):
            progress = _Progress(state, form_id or uid)
            try:
                summaries.append(pull_asset(client, store, uid, form_id=form_id, full=full, reconcile=reconcile,
                                            attachments=attachments, limit=page_size, progress=progress))
            finally:
                progress.close()
    if output_format == "json":
        print_json([s.to_dict() for s in summaries])
        return
    for s in summaries:
        line = (f"{s.form_id or s.asset_uid}: {s.new} new, {s.edited} edited, {s.deleted} deleted, "
                f"{s.unchanged} unchanged — {s.requests} requests, {s.retries} retries, {s.seconds:.1f} s")
        if s.undeleted:
            line += f", {s.undeleted} back after deletion"
        if s.attachments_downloaded or s.attachments_present:
            line += f"; attachments: {s.attachments_downloaded} downloaded, {s.attachments_present} already here"
        click.echo(line)
        for note in s.notes:
            state.say(f"  note: {note}")


@click.command()
@format_option("text", "json")
@pass_state
def status(state: AppState, output_format):
    """Per form in the local store: submissions, deleted, edited, versions, last pull, attachments pending."""
    from ..store import Store

    store_dir = state.config.store_dir
    if not (store_dir / "desbumi.sqlite").exists():
        rows: list[dict] = []
    else:
        with Store.open(store_dir, create=False) as store:
            rows = store.status()
    if output_format == "json":
        print_json(rows)
        return
    if not rows:
        state.say(f"The store {store_dir} is empty: run `desbumi-sync pull` first.")
        return
    click.echo(f"{'form':28} {'asset':24} {'subm.':>7} {'deleted':>7} {'edited':>6} {'vers.':>5} "
               f"{'att. pending':>12}  last pull")
    for r in rows:
        click.echo(f"{(r.get('form_id') or '')[:28]:28} {r['asset_uid'][:24]:24} {r['submissions']:>7} "
                   f"{r['deleted']:>7} {r['edited']:>6} {r['versions']:>5} {r['attachments_pending']:>12}  "
                   f"{r.get('last_pull') or 'never'}")


@click.command()
@format_option("text", "json")
@pass_state
def assets(state: AppState, output_format):
    """Forms on the Kobo server visible to the token: uid, form id, version, submissions."""
    with _client(state) as client:
        # The list has no `content` (KOBO_API.md §2.1): the form id needs one detail request per form.
        listed = [client.assets.get(a["uid"]) if "content" not in a else a for a in client.assets.list()]
        rows = [{"uid": a.get("uid"), "form_id": _form_id_of(a), "name": a.get("name"),
                 "deployed_version_id": a.get("deployed_version_id"),
                 "deployment_status": a.get("deployment_status"),
                 "submissions": a.get("deployment__submission_count")} for a in listed]
    if output_format == "json":
        print_json(rows)
        return
    for r in rows:
        click.echo(f"{r['uid']}  {(r['form_id'] or '-'):24} {str(r['deployed_version_id'] or '-'):24} "
                   f"{str(r['submissions'] if r['submissions'] is not None else '-'):>7}  {r['name'] or ''}")
