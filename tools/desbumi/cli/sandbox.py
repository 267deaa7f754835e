"""`desbumi-sync sandbox …`: the Kobo-compatible sandbox server and its synthetic data.

Both commands print shell-style settings on stdout (`DESBUMI_SERVER=…`, `KOBO_TOKEN=…`) so a script
can pick them up; everything else goes to stderr. The token printed is the sandbox's own fake one,
derived from the seed: it opens nothing but the sandbox.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from .output import AppState, display_path, pass_state

DEFAULT_DATA = Path("desbumi-sandbox")


@click.group()
def sandbox():
    """A Kobo-compatible server on loopback, seeded with synthetic data, for tests, the demo and training."""


def _emit(name: str, value: str) -> None:
    click.echo(f"{name}={value}")
    sys.stdout.flush()


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; a non-loopback address also needs --public.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0 picks a free one; the URL is printed).")
@click.option("--data", "data_dir", type=click.Path(path_type=Path, file_okay=False), default=DEFAULT_DATA,
              show_default=True, help="Sandbox folder (from `sandbox seed`); an empty or new one starts empty.")
@click.option("--faults", metavar="SPEC", default=None,
              help="Seeded faults, e.g. 500:0.05,502:0.02,429:0.05@2,reset:0.02,truncate:0.02,slow:0.05@2s")
@click.option("--fault-seed", type=int, default=0, show_default=True, help="Seed of the fault schedule.")
@click.option("--page-mode", type=click.Choice(["modern", "legacy"]), default="modern", show_default=True,
              help="Data pages as kpi 2.026.03+ (default 100, max 1000) or older servers (30000).")
@click.option("--import-polls", type=click.IntRange(0, 1000), default=None,
              help="Polls an XLSForm import stays 'processing' before it completes (default 1).")
@click.option("--public", is_flag=True,
              help="Allow a non-loopback --host. The sandbox's users and tokens are public knowledge.")
@pass_state
def serve(state: AppState, host: str, port: int, data_dir: Path, faults: str | None, fault_seed: int,
          page_mode: str, import_polls: int | None, public: bool):
    """Serve the Kobo API (KOBO_API.md) until Ctrl-C, from the sandbox folder --data.

    Prints DESBUMI_SERVER=<url> and KOBO_TOKEN=<the owner's token> on stdout. Changes made while it
    runs (imports, deployments, submissions added, edited or deleted through /__sandbox__/…) are kept
    in the folder's runtime/ layer.
    """
    from ..sandbox import SandboxServer, SandboxState
    from ..sandbox.faults import FaultPlan
    from ..sandbox.server import check_host

    check_host(host, public)  # a public address or a bad spec fails before anything is created
    plan = FaultPlan.parse(faults, fault_seed)
    sandbox_state = SandboxState.open(data_dir)
    if import_polls is not None:
        sandbox_state.configure(import_polls=import_polls)
    server = SandboxServer(sandbox_state, host, port, faults=plan, page_mode=page_mode, allow_public=public)
    _emit("DESBUMI_SERVER", server.url)
    _emit("KOBO_TOKEN", server.token)
    assets = sandbox_state.assets
    count = sum(sandbox_state.count(uid) for uid in assets)
    state.say(f"Sandbox Kobo server on {server.url} — {len(assets)} asset(s), {count} submission(s) from "
              f"{display_path(data_dir)}/; {page_mode} data pages; faults: {plan.describe()}.")
    if not assets:
        state.say("The folder has no forms yet: `desbumi-sync sandbox seed --data DIR` fills one.")
    if state.verbose:
        for user in sandbox_state.users.values():
            state.say(f"  user {user.username}: password {user.password}")
    state.say("Admin routes under /__sandbox__/ (see desbumi/sandbox/server.py). Ctrl-C stops it.")

    def _terminate(signum, frame):  # SIGTERM stops as Ctrl-C does: the state is saved
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        state.say("Sandbox stopped.")
    finally:
        signal.signal(signal.SIGTERM, previous)


@sandbox.command("seed")
@click.option("--data", "data_dir", type=click.Path(path_type=Path, file_okay=False), default=DEFAULT_DATA,
              show_default=True, help="Folder to (re)create; a non-empty folder not made by a seed is refused.")
@click.option("--respondents", type=click.IntRange(1, 1_000_000), default=300, show_default=True,
              help="Size of the synthetic year-one cross-section the year-two panel follows.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the synthetic data and tokens.")
@pass_state
def seed(state: AppState, data_dir: Path, respondents: int, seed: int):
    """Fill a sandbox folder with every built form (forms/), synthetic submissions and the year one.

    Writes the year-one cross-section it seeded from into DIR/year1/ (csv, xlsx, dta, sav) and prints
    KOBO_TOKEN=<the owner's token> on stdout.
    """
    from ..sandbox.seed import seed_data_dir

    cfg = state.config
    state.say(f"Seeding {display_path(data_dir)}/ with {respondents} year-one respondents (seed {seed})…")
    result = seed_data_dir(data_dir, respondents=respondents, seed=seed, forms_dir=cfg.forms_dir,
                           xlsform_src=cfg.xlsform_src, panel_dir=cfg.panel_dir)
    for form_id, uid in result.assets.items():
        edits = result.edits.get(form_id, 0)
        extra = f", {edits} earlier version(s) of edited ones" if edits else ""
        state.say(f"  {form_id:<24} {uid}  {result.counts.get(form_id, 0)} submission(s){extra}")
    for path in result.year1_files:
        state.say(f"  {display_path(path)}  year-one cross-section")
    for note in result.notes:
        state.say(f"  note: {note}")
    state.say(f"Serve it with: desbumi-sync sandbox serve --data {display_path(data_dir)}")
    _emit("KOBO_TOKEN", result.token)
