"""desbumi.synth.meal: a synthetic MEAL programme over the six MEAL forms, in Kobo's JSON shape.

One programme is generated per module (about half a second) and looked at from every side: validity
against the forms, participant IDs, pre/post scores, duplicates, activity totals, capacity rounds,
MSC consent, the Kobo envelope and the JSON files.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics
from collections import Counter, defaultdict

import pytest

from desbumi.mel.participant_id import is_valid_participant_id
from desbumi.synth import ENVELOPE_KEYS, Plan, validate_submissions
from desbumi.synth.meal import MEAL_FORMS, MealDynamics, answer_key, meal_forms, meal_programme, write_meal_json
from desbumi.synth.yearone import villages
from test_instruments_meal_tests import KEYS  # the answer keys, written independently of the spreadsheets

SEED = 11
WG = ("wg_lihat", "wg_dengar", "wg_jalan", "wg_ingat", "wg_rawat", "wg_komunikasi")
TESTS = ("mel_tes_gedsi", "mel_tes_digital")


@pytest.fixture(scope="module")
def forms():
    return meal_forms()


@pytest.fixture(scope="module")
def programme(forms):
    return meal_programme(SEED, participants=120, msc_stories=30, forms=forms)


def consented(programme):
    return [s for s in programme["mel_registrasi"].submissions if s["izin/setuju"] == "1"]


def test_deterministic_for_a_seed(programme, forms):
    again = meal_programme(SEED, participants=120, msc_stories=30, forms=forms)
    assert set(again) == set(MEAL_FORMS) == set(programme)
    for form_id in MEAL_FORMS:
        assert again[form_id].submissions == programme[form_id].submissions, form_id
        assert again[form_id].truth == programme[form_id].truth, form_id
    assert again.activities == programme.activities and again.period == programme.period
    other = meal_programme(SEED + 1, participants=120, msc_stories=30, forms=forms)
    assert other["mel_registrasi"].submissions != programme["mel_registrasi"].submissions


def test_every_submission_is_valid_against_its_form(programme, forms):
    for form_id in MEAL_FORMS:
        docs = programme[form_id].submissions
        assert docs, form_id
        assert validate_submissions(Plan(forms[form_id]), docs) == {}, form_id


def test_kobo_envelope_ids_and_times(programme):
    start, end = programme.period
    all_ids = []
    for form_id in MEAL_FORMS:
        docs = programme[form_id].submissions
        ids = [d["_id"] for d in docs]
        assert ids == sorted(ids), form_id  # one server-wide sequence, rising per form
        times = [d["_submission_time"] for d in docs]
        assert times == sorted(times), form_id
        assert start.isoformat() <= times[0] and times[-1] <= end.isoformat(), form_id
        for doc in docs:
            assert set(ENVELOPE_KEYS) <= set(doc)
            assert doc["start"] <= doc["end"] and doc["today"] == doc["start"][:10]
        assert [t["_id"] for t in programme[form_id].truth] == ids
        all_ids += ids
    assert len(all_ids) == len(set(all_ids))


def test_people_and_registrations_look_like_the_programme(programme):
    regs = programme["mel_registrasi"].submissions
    people = {s["peserta/id_peserta"]: s for s in consented(programme)}
    assert len(people) >= 100
    women = sum(s["peserta/jenis_kelamin"] == "2" for s in people.values()) / len(people)
    assert 0.6 <= women <= 0.8
    disabled = sum(any(s[f"wgss/{w}"] in ("3", "4") for w in WG) for s in people.values())
    assert disabled >= 1 and disabled <= 0.2 * len(people)
    refused = [s for s in regs if s["izin/setuju"] == "0"]
    assert 0 < len(refused) < 0.08 * len(regs)  # consent mostly yes
    assert all("peserta/nama_peserta" not in s for s in refused)
    returnees = Counter(s["peserta/status_migran"] for s in consented(programme) if s["pelatihan/jenis_pelatihan"] == "2")
    assert returnees["1"] > 0.6 * sum(returnees.values())
    districts = {s["peserta/kab"] for s in people.values()}
    assert len(districts) >= 3
    assert not any(s["kehadiran/hadir_penuh"] == "1" for s in consented(programme)
                   if s["kehadiran/jml_hadir"] != s["pelatihan/jml_hari"])
    assert any(s["kehadiran/hadir_penuh"] == "0" for s in consented(programme))


def test_participant_ids_are_luhn_valid_and_stable(programme):
    issued: dict[str, str] = {}  # id -> start date of the training where the form issued it
    for s in sorted(consented(programme), key=lambda s: s["pelatihan/tgl_mulai"]):
        pid = s["peserta/id_peserta"]
        assert is_valid_participant_id(pid), pid
        if s["peserta/status_id"] == "2":
            assert pid not in issued, f"{pid} issued twice"
            issued[pid] = s["pelatihan/tgl_mulai"]
        else:  # a card shown again: the ID was issued at this or an earlier training
            assert issued.get(pid, "9999") <= s["pelatihan/tgl_mulai"], pid
    assert any(s["peserta/status_id"] == "1" for s in consented(programme))  # returning participants
    registered = {(s["pelatihan/kode_kegiatan"], s["peserta/id_peserta"]) for s in consented(programme)}
    for form_id in TESTS:
        for doc in programme[form_id].submissions:
            assert is_valid_participant_id(doc["tes/id_peserta"])
            assert (doc["tes/kode_kegiatan"], doc["tes/id_peserta"]) in registered
    # the same person keeps the ID across registrations, pre- and post-tests
    ids_of = defaultdict(set)
    for form_id in ("mel_registrasi", *TESTS):
        for truth in programme[form_id].truth:
            if truth["id_peserta"]:
                ids_of[truth["person"]].add(truth["id_peserta"])
    assert ids_of and all(len(ids) == 1 for ids in ids_of.values())


def test_a_few_duplicate_registrations(programme):
    counts = Counter((s["pelatihan/kode_kegiatan"], s["peserta/id_peserta"]) for s in consented(programme))
    twice = [key for key, n in counts.items() if n > 1]
    assert len(twice) >= 1 and len(twice) <= 0.06 * len(counts)
    truth = [t for t in programme["mel_registrasi"].truth if t["kind"] == "duplicate"]
    assert sorted((t["kode_kegiatan"], t["id_peserta"]) for t in truth) == sorted(twice)
    by_id = {s["_id"]: s for s in programme["mel_registrasi"].submissions}
    for t in truth:
        original = by_id[t["duplicate_of"]]
        assert original["peserta/id_peserta"] == t["id_peserta"] and t["duplicate_of"] < t["_id"]


def _scores(programme, form_id):
    pre, post = {}, {}
    for doc in programme[form_id].submissions:
        key = (doc["tes/kode_kegiatan"], doc["tes/id_peserta"])
        (pre if doc["tes/fase"] == "1" else post)[key] = int(doc["pengetahuan/skor"])
    return pre, post


@pytest.mark.parametrize("form_id", TESTS)
def test_post_tests_mostly_above_pre_tests_and_some_missing(programme, form_id):
    pre, post = _scores(programme, form_id)
    assert len(pre) >= 30 and len(post) >= 30
    assert statistics.mean(post.values()) > statistics.mean(pre.values()) + 10
    gains = [post[k] - pre[k] for k in pre if k in post]
    assert len(gains) >= 25
    assert sum(g > 0 for g in gains) >= 0.7 * len(gains)
    assert any(g <= 0 for g in gains)  # not everyone improves
    assert set(pre) - set(post), "some participants should lack the post-test"
    assert set(post) - set(pre), "late arrivals have a post-test only"
    attending = {(s["pelatihan/kode_kegiatan"], s["peserta/id_peserta"]) for s in consented(programme)
                 if s["pelatihan/jenis_pelatihan"] == ("1" if form_id.endswith("gedsi") else "2")}
    assert len(pre) >= 0.8 * len(attending)


@pytest.mark.parametrize("form_id", TESTS)
def test_scores_equal_the_form_calculation(programme, forms, form_id):
    key = {path.rsplit("/", 1)[-1]: codes for path, codes in answer_key(forms[form_id]).items()}
    assert key == {item: (str(code),) for item, code in KEYS[form_id].items()}
    for doc, truth in zip(programme[form_id].submissions, programme[form_id].truth):
        right = sum(doc[f"pengetahuan/{item}"] == str(code) for item, code in KEYS[form_id].items())
        score = math.floor(100 * right / len(KEYS[form_id]) + 0.5)
        assert doc["pengetahuan/jml_benar"] == str(right) == str(truth["jml_benar"])
        assert doc["pengetahuan/skor"] == str(score) == str(truth["skor"])
        assert doc["tes/id_peserta_ulang"] == doc["tes/id_peserta"] and doc["tes/kab"] == doc["tes/id_peserta"][:4]


def test_activity_reports_match_their_registrations(programme):
    regs = programme["mel_registrasi"].submissions
    reports = {d["kegiatan/kode_kegiatan"]: d for d in programme["mel_kegiatan"].submissions}
    assert len(reports) == len(programme["mel_kegiatan"].submissions) == len(programme.activities)
    trainings = {s["pelatihan/kode_kegiatan"] for s in regs}
    assert trainings <= set(reports)
    assert set(reports) - trainings  # other activities have a report only
    kinds = set()
    for code in trainings:
        report = reports[code]
        mine = [s for s in regs if s["pelatihan/kode_kegiatan"] == code]
        people = {s["peserta/id_peserta"]: s for s in mine if s["izin/setuju"] == "1"}
        refused = sum(s["izin/setuju"] == "0" for s in mine)
        women = sum(s["peserta/jenis_kelamin"] == "2" for s in people.values())
        disabled = sum(any(s[f"wgss/{w}"] in ("3", "4") for w in WG) for s in people.values())
        assert int(report["peserta/total_peserta"]) == len(people) + refused, code
        assert women <= int(report["peserta/total_perempuan"]) <= women + refused, code
        assert int(report["peserta/total_disabilitas"]) == disabled, code
        assert report["kegiatan/jenis_kegiatan"] == mine[0]["pelatihan/jenis_pelatihan"]
        assert report["kegiatan/tgl_mulai"] == mine[0]["pelatihan/tgl_mulai"]
        assert {s["peserta/kab"] for s in people.values()} == {report["kegiatan/kab"]}
        assert report["kegiatan/tgl_selesai"] < report["_submission_time"]
        kinds.add(report["kegiatan/jenis_kegiatan"])
    assert kinds == {"1", "2"}
    assert {a["kode_kegiatan"]: a["participants"] for a in programme.activities} == {
        code: int(d["peserta/total_peserta"]) for code, d in reports.items()}


def test_village_capacity_rises_between_rounds(programme):
    found, _ = villages()
    desa = {code for items in found.values() for code, _name in items}
    score = defaultdict(dict)
    for doc in programme["mel_kapasitas_desa"].submissions:
        score[doc["identitas/desa"]][doc["identitas/putaran"]] = float(doc["ringkasan/skor_total"])
    assert set(score) == desa and all(set(rounds) == {"1", "2"} for rounds in score.values())
    first = [rounds["1"] for rounds in score.values()]
    second = [rounds["2"] for rounds in score.values()]
    assert statistics.mean(second) > statistics.mean(first)
    assert sum(b > a for a, b in zip(first, second)) >= 0.7 * len(first)
    assert all(1 <= v <= 4 for v in first + second)


def test_msc_consent_mostly_yes(programme):
    docs = programme["mel_msc"].submissions
    consent = Counter(d["persetujuan/izin_cerita"] for d in docs)
    assert len(docs) == 30 and consent["1"] + consent["2"] >= 0.7 * len(docs) and consent["3"] >= 1
    assert all("cerita_msc/cerita" not in d for d in docs if d["persetujuan/izin_cerita"] == "3")
    told_by_participants = [t for t in programme["mel_msc"].truth if t["id_peserta"]]
    assert len(told_by_participants) >= 0.5 * len(docs)


def test_other_shapes_and_rounds(forms):
    small = meal_programme(3, participants=12, months=8, forms=forms,
                           dynamics=MealDynamics(capacity_rounds=3, duplicates=0.0))
    rounds = Counter(d["identitas/putaran"] for d in small["mel_kapasitas_desa"].submissions)
    assert set(rounds) == {"1", "2", "3"}
    assert small.people == 12
    start, end = small.period
    assert (end - start).days < 8 * 31
    assert not any(t["kind"] == "duplicate" for t in small["mel_registrasi"].truth)
    fixed = meal_programme(3, participants=12, start=dt.date(2025, 1, 6), forms=forms)
    assert fixed.period[0] == dt.date(2025, 1, 6)
    assert min(d["_submission_time"] for r in fixed.values() for d in r.submissions) >= "2025-01-06"


def test_write_json_files(programme, tmp_path):
    written = write_meal_json(programme, tmp_path / "submissions")
    assert {path.name for path in written} == {f"{form_id}.json" for form_id in MEAL_FORMS}
    for path, count in written.items():
        data = json.loads(path.read_text(encoding="utf-8"))
        assert isinstance(data, list) and len(data) == count
        assert data == programme[path.stem].submissions
