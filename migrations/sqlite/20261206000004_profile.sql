-- What `GET /me` shows of the profile a person keeps: a display name and
-- a locale (BCP 47), both optional.
ALTER TABLE user_directory ADD COLUMN display_name TEXT;
ALTER TABLE user_directory ADD COLUMN locale TEXT;
