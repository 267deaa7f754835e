"""`desbumi-sync demo`: the whole chain, as far as it is built, on a fresh output folder."""

from __future__ import annotations

from pathlib import Path

import click

from ..demo import run_demo
from .forms import report_builds
from .output import AppState, display_path, pass_state


@click.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("desbumi-demo"),
              show_default=True, help="Folder for everything the demo makes (a previous demo folder is emptied).")
@click.option("--respondents", type=click.IntRange(10, 100_000), default=300, show_default=True,
              help="Size of the synthetic year-one cross-section.")
@click.option("--seed", type=int, default=2026, show_default=True, help="Seed of the synthetic data.")
@click.option("--no-validate", is_flag=True, help="Skip ODK Validate (faster).")
@pass_state
def demo(state: AppState, out_dir: Path, respondents: int, seed: int, no_validate: bool):
    """Run the chain end to end on synthetic data and print where the results are.

    Today: check and build every instrument; seed a Kobo sandbox with a synthetic year one, year-two
    panel interviews and a MEAL programme; preload year one into the year-two form; serve the sandbox
    on loopback and pull everything into a local store.
    """
    result = run_demo(out_dir, state.config.xlsform_src, state.config.panel_dir, validate=not no_validate,
                      respondents=respondents, seed=seed, progress=state.say)
    report_builds(state, result.builds, "text")
    if result.pulls:
        click.echo(f"\nPulled from the sandbox at {result.server_url}:")
        for s in result.pulls:
            click.echo(f"  {s.form_id:22} {s.new:>6} new, {s.requests:>4} requests, "
                       f"{s.attachments_downloaded:>4} attachments, {s.seconds:5.2f} s")
    out = result.out_dir
    click.echo(f"\nDemo output in {display_path(out)}/:")
    click.echo(f"  {display_path(out / 'forms')}/  deployable builds and forms/index.json")
    for path in result.year1_files:
        click.echo(f"  {display_path(path)}  synthetic year-one cross-section")
    for path in result.preload_files:
        click.echo(f"  {display_path(path)}  preloaded year-one respondents (offline list for the phones)")
    if result.pulls:
        click.echo(f"  {display_path(out / 'sandbox')}/  the sandbox's data (serve it again: "
                   f"desbumi-sync sandbox serve --data {display_path(out / 'sandbox')})")
        click.echo(f"  {display_path(out / 'store')}/  the local store (desbumi-sync --store "
                   f"{display_path(out / 'store')} status)")
