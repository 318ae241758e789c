-- Account controls (lockout, deactivation, roles) in the read models.
ALTER TABLE user_directory ADD COLUMN locked_until timestamptz;
CREATE INDEX user_directory_status_idx ON user_directory (status);
