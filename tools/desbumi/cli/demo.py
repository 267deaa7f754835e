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
@click.option("--no-validate", is_flag=True, help="Skip ODK Validate (faster).")
@pass_state
def demo(state: AppState, out_dir: Path, no_validate: bool):
    """Run the chain end to end and print where the results are.

    Today: check and build every instrument into OUT/forms/ (ODK Validate included).
    """
    result = run_demo(out_dir, state.config.xlsform_src, state.config.panel_dir, validate=not no_validate, progress=state.say)
    report_builds(state, result.builds, "text")
    state.say(f"\nDemo output: {display_path(result.out_dir)}/")
    state.say("  forms/        deployable builds (form.xlsx, form.xml, media/, manifest.json)")
    state.say("  forms/index.json  every build with its source sha256")
