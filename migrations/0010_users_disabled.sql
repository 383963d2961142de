-- A platform admin may disable a user: from then on none of the user's
-- sessions or API tokens is accepted and sign-in is refused, until the
-- user is enabled again. NULL: the user is enabled.
ALTER TABLE users ADD COLUMN disabled_at TEXT;
