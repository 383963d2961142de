-- Access control: CSRF tokens bound to sessions, single sign-on subjects,
-- API tokens, and the audit log.

-- The value a browser must echo in `X-CSRF-Token` on every state-changing
-- request it makes with this session's cookie.
ALTER TABLE sessions ADD COLUMN csrf_token TEXT NOT NULL DEFAULT '';
-- How the session was opened: `password` or `oidc`.
ALTER TABLE sessions ADD COLUMN method TEXT NOT NULL DEFAULT 'password';

-- `<issuer> <subject>` of a user who signs in through OIDC.
ALTER TABLE users ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX users_oidc_subject ON users (oidc_subject);

-- Tokens for automation: one tenant, a role no higher than the owner's,
-- stored as a SHA-256 hash; the token itself is shown once.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'tenant_admin')),
    token_hash   TEXT NOT NULL UNIQUE,
    -- the first characters of the token, so a listing can tell tokens apart
    prefix       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id);

-- Who did what, when. Rows are only ever inserted. `tenant_id` is NULL for
-- events outside any tenant (sign-in, platform administration).
CREATE TABLE audit_events (
    id        TEXT PRIMARY KEY,
    tenant_id TEXT REFERENCES tenants (id) ON DELETE CASCADE,
    at        TEXT NOT NULL,
    actor_id  TEXT,
    actor     TEXT NOT NULL,
    via       TEXT NOT NULL CHECK (via IN ('session', 'token', 'password', 'oidc', 'system')),
    action    TEXT NOT NULL,
    target    TEXT,
    detail    TEXT
);
CREATE INDEX audit_events_tenant ON audit_events (tenant_id, at);
CREATE INDEX audit_events_actor ON audit_events (actor_id, at);
