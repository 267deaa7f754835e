"""Which XLSForm a FORM argument means: a form_id in xlsform_src/, or a path to any workbook."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .workbook import read_xlsform

XLSFORM_SUFFIXES = (".xlsx",)

# The MEL indicator table sits beside the instruments (it names them and their fields) but is not an
# XLSForm. It is told apart by this fixed file name, not by its content: sniffing for a 'survey' sheet
# would silently skip an instrument that lost its survey sheet instead of reporting it.
INDICATOR_TABLE = "mel_indicators.xlsx"


def is_indicator_table(path: Path) -> bool:
    """Is this workbook the MEL indicator table (checked by `forms check`, never built)?"""
    return Path(path).name.lower() == INDICATOR_TABLE


def media_dir_for(source: Path) -> Path:
    """Media shipped with an instrument live beside it in '<stem>-media/' (ODK Collect's convention)."""
    return source.with_name(f"{source.stem}-media")


def instrument_paths(xlsform_src: Path) -> list[Path]:
    """Every instrument in xlsform_src/, sorted; Excel's lock files (~$x.xlsx) and the indicator
    table (INDICATOR_TABLE) are not instruments."""
    if not xlsform_src.is_dir():
        return []
    return sorted(p for p in xlsform_src.iterdir()
                  if p.suffix.lower() in XLSFORM_SUFFIXES and not p.name.startswith(("~$", ".")) and p.is_file()
                  and not is_indicator_table(p))


def form_ids(xlsform_src: Path) -> dict[str, Path]:
    """form_id (settings sheet, else file stem) -> source path, for every instrument."""
    out: dict[str, Path] = {}
    for path in instrument_paths(xlsform_src):
        try:
            form_id = read_xlsform(path).form_id
        except InputError:
            form_id = path.stem
        out.setdefault(form_id, path)
        out.setdefault(path.stem, path)
    return out


def resolve_forms(arguments: list[str] | tuple[str, ...], xlsform_src: Path, cwd: Path | None = None) -> list[Path]:
    """FORM arguments -> source paths; no arguments means every instrument in xlsform_src/."""
    if not arguments:
        paths = instrument_paths(xlsform_src)
        if not paths:
            raise InputError(f"No XLSForm (.xlsx) found in {xlsform_src}.",
                             hint="Put instruments in xlsform_src/ or name a file: desbumi-sync forms check path/to/form.xlsx")
        return paths
    cwd = cwd or Path.cwd()
    known: dict[str, Path] | None = None
    resolved: list[Path] = []
    for argument in arguments:
        candidate = Path(argument)
        if not candidate.is_absolute():
            candidate = cwd / candidate
        if candidate.suffix.lower() in (".xlsx", ".xls") or candidate.exists():
            if not candidate.is_file():
                raise InputError(f"{argument}: no such file.")
            resolved.append(candidate)
            continue
        if known is None:
            known = form_ids(xlsform_src)
            if (xlsform_src / INDICATOR_TABLE).is_file():  # `forms check mel_indicators` names the table
                known.setdefault(Path(INDICATOR_TABLE).stem, xlsform_src / INDICATOR_TABLE)
        if argument not in known:
            names = ", ".join(sorted(known)) or "none"
            raise InputError(f"{argument}: not a form_id in {xlsform_src} nor a file (known forms: {names}).")
        resolved.append(known[argument])
    return list(dict.fromkeys(resolved))
