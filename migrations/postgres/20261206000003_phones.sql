-- A verified phone number signs in like an email address: login by phone
-- looks it up here. Unique, as its claim is (a partial index: most
-- accounts have none).
ALTER TABLE login_lookup ADD COLUMN phone TEXT;
CREATE UNIQUE INDEX login_lookup_phone_idx ON login_lookup (phone) WHERE phone IS NOT NULL;
-- What `GET /me` shows: the number most recently added, and whether it is
-- verified yet.
ALTER TABLE user_directory ADD COLUMN phone TEXT;
ALTER TABLE user_directory ADD COLUMN phone_verified BOOLEAN NOT NULL DEFAULT FALSE;
