-- The audit trail: who did what, when, from where, and how it ended.
-- Service table only: backups do not change (no converter).
CREATE TABLE kg_api.audit (
    audit_id        bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    -- The user name as given: a failed login may name a user that does not exist.
    actor           text,
    -- e.g. login, logout, tokens.revoke, backup, restore, backup.finished, stitch, prune
    action          text NOT NULL,
    -- What it acted on: a job id, a user name, an ontology.
    target          text,
    -- success, failure, accepted, refused, completed, failed, cancelled
    outcome         text NOT NULL,
    remote_address  text,
    detail          text
);
CREATE INDEX audit_at_idx ON kg_api.audit (at DESC, audit_id DESC);
CREATE INDEX audit_actor_at_idx ON kg_api.audit (actor, at DESC);
CREATE INDEX audit_action_at_idx ON kg_api.audit (action, at DESC);

-- A job ends on a worker, at a gateway (cancel) or in the janitor: one trigger
-- records every move to a terminal state, whichever process made it, in the
-- same transaction as the move.
CREATE FUNCTION kg_api.audit_job_end() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IN ('completed', 'failed', 'cancelled') AND OLD.status IS DISTINCT FROM NEW.status THEN
        INSERT INTO kg_api.audit (actor, action, target, outcome, detail)
        VALUES (NEW.username, NEW.job_type || '.finished', NEW.job_id::text, NEW.status,
                nullif(concat_ws('; ',
                    CASE WHEN NEW.params->>'dry_run' = 'true' THEN 'dry run' END,
                    left(NEW.error, 2000)), ''));
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER jobs_audit_end AFTER UPDATE OF status ON kg_api.jobs
    FOR EACH ROW EXECUTE FUNCTION kg_api.audit_job_end();
