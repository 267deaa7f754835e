"""The DESBUMI training participant ID: `KKKK-NNNN-C`, e.g. `3509-0012-2`.

- `KKKK` the participant's district, Kemendagri code without the dot (3212 3305 3307 3509 3510
  5202 5313 — Lembata is 5313, not its BPS code 5308);
- `NNNN` the next free serial (0001–9999) in that district's participant register book;
- `C` a Luhn check digit (ISO/IEC 7812, as on bank cards) over the eight digits `KKKKNNNN`.

Luhn: from the right of the eight digits, double every other digit starting with the last one
(so the 2nd, 4th, 6th and 8th digits counted from the left), subtract 9 from any doubled value above
9, add everything up; the check digit is what brings the total to a multiple of 10. It catches every
single wrong digit and every swap of two neighbouring digits except 0↔9.

The person keeps the ID for every session, training, pre-test and post-test. The XLSForms compute
(mel_registrasi, for a new participant) and validate (all three MEAL training forms) the same digit
in XPath; `tests/test_instruments_meal_tests.py` holds the two to agreement with this module.
"""

from __future__ import annotations

import re

from ..errors import InputError

DISTRICTS = ("3212", "3305", "3307", "3509", "3510", "5202", "5313")
PATTERN = re.compile("(" + "|".join(DISTRICTS) + r")-([0-9]{4})-([0-9])")


def check_digit(digits: str) -> int:
    """The Luhn check digit of a string of digits (the eight digits `KKKKNNNN` for an ID)."""
    if not digits.isascii() or not digits.isdigit():
        raise InputError(f"check_digit needs digits only, not {digits!r}.")
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:  # the rightmost digit and every other one from there are doubled
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return (10 - total % 10) % 10


def make_participant_id(district: str | int, serial: int) -> str:
    """`make_participant_id(3509, 12)` -> '3509-0012-2'."""
    district = str(district).replace(".", "")
    if district not in DISTRICTS:
        raise InputError(f"District {district!r} is not a DESBUMI district; use one of {', '.join(DISTRICTS)} "
                         f"(Kemendagri codes without the dot).")
    if not isinstance(serial, int) or not 1 <= serial <= 9999:
        raise InputError(f"Serial {serial!r} must be a whole number from 1 to 9999.")
    body = f"{district}{serial:04d}"
    return f"{district}-{serial:04d}-{check_digit(body)}"


def is_valid_participant_id(text: str) -> bool:
    """True when `text` is `KKKK-NNNN-C` with a DESBUMI district, a serial above 0000 and the right check digit."""
    match = PATTERN.fullmatch(text or "")
    if not match or match.group(2) == "0000":
        return False
    return check_digit(match.group(1) + match.group(2)) == int(match.group(3))
