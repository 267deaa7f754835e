"""Lint rules, family g: personal data (UU PDP 27/2022) and the interview metadata every survey keeps.

A `pii` column (yes/no) marks identifying questions; the exports leave them out unless asked by
name. A question that looks identifying but carries no `pii` value would silently leak, so it is
flagged. Looking identifying means: its name or a label mentions a person's name, NIK/KTP, a
phone number, a passport, an address or a GPS location (Indonesian and English words, matched as
whole words), or its type records a location (geopoint, geotrace, geoshape).

Obvious false positives are left alone:
- a name or address of something that is not a person — `nama_usaha`, "nama desa", "business
  name", "name of your village", "alamat kantor" — is recognised by the word next to the keyword
  (usaha, business, toko, shop, desa, village, kabupaten, district, company, agency, school, …);
- only questions that take a free value are considered (text, integer, decimal, barcode and the
  hidden calculate/hidden fields a preload fills): a select from a fixed list ("Apakah punya HP?")
  records a category, not an identifier, and a note holds no value;
- a phone word in a number question counts only beside a number word ("nomor HP", "phone number"),
  so "Berapa jam pakai HP per hari?" is not taken for a phone number.
"""

from __future__ import annotations

import re

from ..findings import ERROR, WARNING, Finding
from ..structure import Item
from .base import LintContext, rule

PII_INVALID = rule("pii-invalid", ERROR, "a pii cell holds something other than yes or no")
PII_UNMARKED = rule("pii-unmarked", WARNING, "a question that looks identifying has no pii value")
PII_COLUMN_MISSING = rule("pii-column-missing", WARNING, "the survey sheet has no pii column")
METADATA_MISSING = rule("metadata-missing", WARNING, "the survey lacks a start, end, today or deviceid question")
RULES = (PII_INVALID, PII_UNMARKED, PII_COLUMN_MISSING, METADATA_MISSING)

PII_VALUES = ("yes", "no")
METADATA = {
    "start": "when the interview started",
    "end": "when it was last saved",
    "today": "the interview date",
    "deviceid": "which phone collected it",
}
LOCATION_TYPES = {"geopoint", "geotrace", "geoshape", "start-geopoint", "background-geopoint"}
FREE_VALUE_TYPES = {"text", "integer", "decimal", "barcode", "calculate", "hidden"}

# What each kind of identifier is called, as whole lower-case words of a name or label.
KINDS: dict[str, set[str]] = {
    "a person's name": {"nama", "namanya", "name", "names", "fullname", "namalengkap", "surname"},
    "a NIK / identity card number": {"nik", "ktp", "kependudukan", "nokk"},
    "a phone number": {"telepon", "telpon", "telp", "tlp", "phone", "handphone", "ponsel", "hp", "nohp",
                       "notelp", "whatsapp", "wa", "nowa"},
    "a passport number": {"paspor", "passport", "nopaspor"},
    "an address": {"alamat", "address", "alamatnya"},
    "a GPS location": {"gps", "koordinat", "coordinate", "coordinates", "lokasi", "location", "latitude",
                       "longitude", "geopoint"},
}
PHONE = "a phone number"
NUMBER_WORDS = {"nomor", "nomer", "no", "nmr", "number", "num", "nr"}
# A keyword next to one of these words names a thing, not a person.
NOT_PERSONAL = {
    "usaha", "business", "toko", "shop", "warung", "store", "desa", "village", "kelurahan", "dusun",
    "kabupaten", "kab", "kecamatan", "kec", "district", "subdistrict", "regency", "provinsi", "province",
    "kota", "city", "negara", "country", "perusahaan", "company", "organisasi", "organization",
    "organisation", "lembaga", "institution", "sekolah", "school", "agen", "agency", "pjtki", "p3mi",
    "kantor", "office", "aplikasi", "app", "produk", "product", "program", "kelompok", "group", "bank",
}
# Words skipped when looking for the neighbour of a keyword ("name of your village").
FILLERS = {"of", "the", "your", "his", "her", "their", "its", "my", "this", "that", "a", "an", "dari", "anda",
           "nya", "full", "lengkap"}


def check(ctx: LintContext) -> list[Finding]:
    return [*invalid_values(ctx), *unmarked(ctx), *column_missing(ctx), *metadata_missing(ctx)]


def _has_pii_column(ctx: LintContext) -> bool:
    return "pii" in ctx.form.survey.headers


def invalid_values(ctx: LintContext) -> list[Finding]:
    """Only yes/no (any case): the export filter must not guess what 'y', 'true' or 'maybe' meant."""
    found: list[Finding] = []
    for item in ctx.items:
        value = item.row["pii"].strip()
        if value and value.lower() not in PII_VALUES:
            found.append(ctx.at(PII_INVALID, item.row, "pii",
                                f"pii of '{item.name or item.type.base}' is '{value}'; write yes (identifying: "
                                f"kept out of exports unless asked for by name) or no. Only yes and no are "
                                f"accepted, not true/false or 1/0."))
    return found


def words(text: str) -> list[str]:
    """'namaResp_2 (HP)' -> ['nama', 'resp', '2', 'hp']: lower-case words, camelCase and _ split."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", text or "")
    return re.findall(r"[a-z]+|\d+", spaced.lower())


def identifier_kind(item: Item, texts: list[str]) -> str:
    """Which kind of personal identifier the question seems to hold, '' when none."""
    if item.type.base in LOCATION_TYPES:
        return "a GPS location"
    if item.type.base not in FREE_VALUE_TYPES:
        return ""
    for text in [item.name, *texts]:
        tokens = words(text)
        for kind, keywords in KINDS.items():
            for index, token in enumerate(tokens):
                if token not in keywords or _names_a_thing(tokens, index):
                    continue
                if kind == PHONE and item.type.base != "text" and token not in ("nohp", "notelp", "nowa") \
                        and not NUMBER_WORDS & set(tokens):
                    continue
                return kind
    return ""


def _names_a_thing(tokens: list[str], index: int) -> bool:
    """'nama usaha', 'village name', 'name of your village': the neighbouring word is not a person."""
    after = next((t for t in tokens[index + 1:] if t not in FILLERS), "")
    before = next((t for t in reversed(tokens[:index]) if t not in FILLERS), "")
    return after in NOT_PERSONAL or before in NOT_PERSONAL


def unmarked(ctx: LintContext) -> list[Finding]:
    """A question that looks identifying must say so (pii yes) or say it is not (pii no)."""
    label_columns = [c for c in ctx.form.survey.headers if c.partition("::")[0] == "label"]
    found: list[Finding] = []
    for item in ctx.items:
        if not item.is_field or item.row["pii"].strip():
            continue
        kind = identifier_kind(item, [item.row[c] for c in label_columns])
        if kind:
            found.append(ctx.at(PII_UNMARKED, item.row, "pii",
                                f"'{item.name}' ({item.type.base}) looks like {kind} but has no pii value. "
                                f"Write yes in its pii cell so exports leave it out unless asked for by name, "
                                f"or no if it does not identify anyone."))
    return found


def column_missing(ctx: LintContext) -> list[Finding]:
    """Without a pii column nothing is marked, so an export cannot tell what to withhold."""
    if _has_pii_column(ctx) or not any(item.is_field for item in ctx.items):
        return []
    return [ctx.at(PII_COLUMN_MISSING, None, "pii",
                   "the survey sheet has no 'pii' column, so no question is marked as identifying. Add a column "
                   "headed 'pii' and write yes for names, NIK, phone and passport numbers, addresses and GPS, no "
                   "for the rest.", sheet=ctx.form.survey.name)]


def metadata_missing(ctx: LintContext) -> list[Finding]:
    """start/end/today/deviceid let QA check interview length, date and device; they cost nothing."""
    present = {item.type.base.removeprefix("uri:") for item in ctx.items}
    return [ctx.at(METADATA_MISSING, None, "",
                   f"the form has no '{kind}' question ({meaning}); add a row with type '{kind}' and name "
                   f"'{kind}' near the top of the survey sheet.", sheet=ctx.form.survey.name)
            for kind, meaning in METADATA.items() if kind not in present]
