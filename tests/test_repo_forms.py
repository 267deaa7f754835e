"""The committed builds in forms/ match the committed sources in xlsform_src/."""

from pathlib import Path

from desbumi.forms.sources import instrument_paths
from desbumi.forms.versions import load_index, sha256_file

ROOT = Path(__file__).resolve().parents[1]


def test_every_instrument_has_a_build_of_its_current_source():
    index = load_index(ROOT / "forms")
    built = {(b["form_id"], b["source_sha256"]) for b in index}
    sources = instrument_paths(ROOT / "xlsform_src")
    assert sources, "xlsform_src/ holds the instruments"
    for source in sources:
        digest = sha256_file(source)
        assert any(sha == digest for _, sha in built), (
            f"{source.name} changed since its last build: run `desbumi-sync forms bump` and `forms build`")


def test_build_manifests_hash_their_files():
    import hashlib
    import json

    for manifest in (ROOT / "forms").glob("*/*/manifest.json"):
        data = json.loads(manifest.read_text(encoding="utf-8"))
        for name, entry in data["files"].items():
            assert hashlib.sha256((manifest.parent / name).read_bytes()).hexdigest() == entry["sha256"], name


def test_committed_builds_carry_the_current_media_beside_each_instrument():
    import hashlib
    import json

    index = load_index(ROOT / "forms")
    for source in instrument_paths(ROOT / "xlsform_src"):
        digest = sha256_file(source)
        (entry,) = [b for b in index if b["source_sha256"] == digest]
        manifest = json.loads((ROOT / "forms" / entry["path"] / "manifest.json").read_text(encoding="utf-8"))
        media = source.with_name(f"{source.stem}-media")
        for path in sorted(media.glob("*")) if media.is_dir() else []:
            recorded = manifest["files"].get(f"media/{path.name}", {}).get("sha256")
            assert recorded == hashlib.sha256(path.read_bytes()).hexdigest(), (
                f"{path} changed since the build: run `desbumi-sync forms build`")
