-- Risky graph operations (issue 4): checkpoints and the new job type.
-- Service tables only (schema kg_api): backups do not change.

-- A checkpoint is a full backup of the graph taken by a worker before a risky
-- operation, kept in temp storage as .checkpoint_<job_id>_<YYYYMMDD_HHMMSS>.json.
-- One row per job (a retried job reuses its row). status:
--   ready            the operation is running; the file is complete
--   kept             the operation failed and the graph was rolled back to it,
--                    or the user asked to keep it (--keep-checkpoint)
--   rollback_failed  the operation failed AND the rollback failed: restore it by hand
CREATE TABLE kg_api.checkpoints (
    checkpoint_id  uuid PRIMARY KEY,
    job_id         uuid NOT NULL,
    job_type       text NOT NULL,
    username       text NOT NULL,
    file_name      text NOT NULL,
    path           text NOT NULL,
    bytes          bigint NOT NULL DEFAULT 0,
    status         text NOT NULL CHECK (status IN ('ready', 'kept', 'rollback_failed')),
    reason         text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    kept_at        timestamptz
);
CREATE INDEX checkpoints_kept_idx ON kg_api.checkpoints (kept_at DESC) WHERE status <> 'ready';

ALTER TABLE kg_api.jobs DROP CONSTRAINT IF EXISTS jobs_job_type_check;
ALTER TABLE kg_api.jobs ADD CONSTRAINT jobs_job_type_check
    CHECK (job_type IN ('backup', 'restore', 'stitch', 'prune', 'ontology_delete'));

-- Rows a backup file cannot carry, saved with the checkpoint so that a rollback
-- is exact: instances that evidence no concept (a backup's instance record names
-- its concept) and ontologies without sources (a backup lists ontologies through
-- their sources). Re-inserted inside the rollback's transaction.
CREATE TABLE kg_api.checkpoint_rows (
    checkpoint_id  uuid NOT NULL REFERENCES kg_api.checkpoints (checkpoint_id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('instance', 'ontology')),
    key            text NOT NULL,
    quote          text,
    source_id      text
);
CREATE INDEX checkpoint_rows_idx ON kg_api.checkpoint_rows (checkpoint_id);

-- --external-deps defer: instance links and relationships that name concepts
-- neither the backup nor the graph holds, kept aside until those concepts
-- arrive (any later restore connects what has become connectable). Not part
-- of backups. created_by / connected_by name the job, so that a rollback to a
-- checkpoint undoes exactly what that job did here.
CREATE TABLE kg_api.pending_links (
    pending_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind               text NOT NULL CHECK (kind IN ('instance', 'relationship')),
    instance_id        text,
    quote              text,
    source_id          text,
    concept_id         text,
    from_id            text,
    to_id              text,
    relationship_type  text,
    properties         jsonb,
    missing            text[] NOT NULL,
    created_by         uuid NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    connected_by       uuid,
    connected_at       timestamptz
);
CREATE INDEX pending_links_waiting_idx ON kg_api.pending_links (kind) WHERE connected_by IS NULL;
