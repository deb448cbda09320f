-- The service's own tables: users and tokens, and jobs. The job row is the
-- source of truth for a job's state; the broker only delivers work.

-- bcrypt through pgcrypto's crypt()/gen_salt('bf'): the hashing runs in the
-- database, off the gateway's event loop, with no extra Swift dependency.
CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE kg_api.users (
    username       text PRIMARY KEY,
    password_hash  text NOT NULL,
    role           text NOT NULL CHECK (role IN ('admin', 'reader')),
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Only a SHA-256 of each token is stored: a leaked table grants nothing.
CREATE TABLE kg_api.tokens (
    token_hash   bytea PRIMARY KEY,
    username     text NOT NULL REFERENCES kg_api.users (username) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX tokens_username_idx ON kg_api.tokens (username);

CREATE TABLE kg_api.jobs (
    job_id        uuid PRIMARY KEY,
    job_type      text NOT NULL CHECK (job_type IN ('backup', 'restore', 'stitch', 'prune')),
    status        text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    username      text NOT NULL,
    params        jsonb NOT NULL DEFAULT '{}',
    progress      jsonb NOT NULL DEFAULT '{}',
    result        jsonb,
    error         text,
    attempts      integer NOT NULL DEFAULT 0,
    worker_id     text,
    heartbeat_at  timestamptz,
    temp_file     text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    completed_at  timestamptz
);
CREATE INDEX jobs_user_created_idx ON kg_api.jobs (username, created_at DESC);
CREATE INDEX jobs_status_idx ON kg_api.jobs (status);
