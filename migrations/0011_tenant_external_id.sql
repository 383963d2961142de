-- Each tenant's external id for AWS: made by Trellis (32 random bytes,
-- base64url) the first time it is needed, sent with every AssumeRole into
-- the tenant's roles and shown to its admins for their trust policies; a
-- tenant never chooses it (AWS's confused-deputy guidance). NULL until then.
ALTER TABLE tenants ADD COLUMN aws_external_id TEXT;
-- Connections no longer carry an external id of their own.
ALTER TABLE connections DROP COLUMN external_id;
