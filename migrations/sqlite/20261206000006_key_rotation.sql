-- Signing-key rotation: a new key is published (in the JWKS) at
-- created_at and signs from activates_at (NULL: from its creation, as the
-- first key); a replaced key leaves the JWKS at retired_at, once every
-- token it signed has expired (see src/auth/keys.rs).
ALTER TABLE signing_keys ADD COLUMN activates_at TEXT;
