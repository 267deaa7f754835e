"""The local store: one SQLite file, `<store dir>/desbumi.sqlite`, written by nothing else.

    with Store.open(store_dir) as store:
        store.save_asset(asset_json, form_id="desbumi_ekonomi_y2")
        store.save_version(uid, vuid, content, date_deployed)
        run = store.start_run(uid)
        while page := fetch(query={"_id": {"$gt": store.cursor(uid)}}):
            store.apply_page(uid, page, run)           # one transaction, cursor included
        plan = store.apply_sweep(uid, seen, run)        # seen: _id -> (_uuid, _validation_status)
        store.apply_docs(uid, fetch_ids(plan.changed_uuid_ids), run)
        store.finish_run(run, status="ok", requests=n, retries=r)

The file is in WAL mode with `foreign_keys=ON`, `synchronous=NORMAL` and a busy timeout; every write
is one transaction (BEGIN IMMEDIATE), so a crash, Ctrl-C or kill -9 leaves the state of the last
commit. New files use 16 KiB pages (documents of 2-10 KiB pack without waste). Nothing is ever deleted: a submission gone from the server is marked (`deleted_at`), an edit
adds a version. The schema is versioned (`schema_version`; ordered scripts in `schema.MIGRATIONS`): an
older file is migrated on open, a newer one is refused with InputError.

Tables (Kobo names in brackets, KOBO_API.md §2–3):

- `assets` — uid, form_id (the project's name for the form), name, url, deployed_version_id,
  version_id, asset_json (the asset detail as last fetched), last_seen.
- `asset_versions` — asset_uid, version_uid, date_deployed (NULL when never deployed), content_json.
  Every content version is kept: old submissions are flattened with the form they were made with.
- `submissions` — one row per submission: asset_uid + id [`_id`] (primary key; edits keep it),
  instance_id [`_uuid`] of the current version, root_uuid [meta/rootUuid], version [`__version__`],
  submission_time, submitted_by, validation_status (canonical JSON), first_seen_run,
  last_changed_run, deleted_at (NULL, or when a sweep found it gone) and deleted_run.
- `submission_versions` — every instanceID ever seen: asset_uid, submission_id, instance_id,
  deprecated_id [meta/deprecatedID: the version it replaced], version, raw (the document as Kobo sent
  it, compact JSON), seen_run. The current document is the row whose instance_id is the submission's:
  the raw JSON is stored once, not again in `submissions`. Key (asset_uid, submission_id,
  instance_id), indexed on (asset_uid, instance_id) for deprecatedID look-ups.
- `attachments` — asset_uid, submission_id, instance_id (newest version listing it), server_key
  [`uid`, else 'id:<id>', else 'name:<filename>'], question_xpath, filename (as given), basename
  [media_file_basename], mimetype, download_url, is_deleted, and once downloaded: local_path (relative
  to the store directory), size, sha256, downloaded_at. Pending = not downloaded, not deleted on the
  server, listed by the current version of a not-deleted submission.
- `sync_runs` — id, asset_uid (NULL for a run over several), started_at, finished_at, status
  (running / ok / failed / interrupted), new, edited, deleted, undeleted, unchanged, requests,
  retries, pages, errors, pid and host (to tell a crashed run from one still going).
- `pull_cursors` — per asset: last_id (largest `_id` committed by a keyset page), page_limit (the
  largest page the server was seen to serve: its clamp), updated_run.
- `schema_version` — one row per migration applied.

Submissions are identified by `_id`. A document with a known `_id` and the same `_uuid` is
unchanged; another, never-seen `_uuid` is an edit (new version row, current pointer moved); a
`_uuid` already seen as an older version is stale and ignored. Times are UTC ISO 8601 with `Z`.
"""

from .model import (
    AssetRecord,
    AssetVersion,
    Attachment,
    PageResult,
    Run,
    SubmissionRecord,
    SubmissionVersion,
    SweepPlan,
    canonical_json,
    plan_sweep,
)
from .schema import CURRENT_VERSION, MIGRATIONS
from .store import DB_NAME, Store

__all__ = ["CURRENT_VERSION", "DB_NAME", "MIGRATIONS", "AssetRecord", "AssetVersion", "Attachment", "PageResult",
           "Run", "Store", "SubmissionRecord", "SubmissionVersion", "SweepPlan", "canonical_json", "plan_sweep"]
