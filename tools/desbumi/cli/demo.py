"""`desbumi-sync demo`: the whole chain, as far as it is built, on a fresh output folder."""

from __future__ import annotations

from pathlib import Path

import click

from .output import AppState, pass_state


@click.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("desbumi-demo"),
              show_default=True, help="Folder for everything the demo makes (emptied first).")
@pass_state
def demo(state: AppState, out_dir: Path):
    """Run the chain end to end on synthetic data and print where the results are."""
    state.say("demo: coming")
