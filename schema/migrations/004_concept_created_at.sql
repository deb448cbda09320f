-- Concepts record when they were created. Rows that predate this column, and
-- concepts restored from backups written before it, have NULL (unknown).
-- Backups: converter v3 → v4 adds "created_at": null to older concepts.

ALTER TABLE kg.concepts ADD COLUMN created_at timestamptz;
ALTER TABLE kg.concepts ALTER COLUMN created_at SET DEFAULT now();
