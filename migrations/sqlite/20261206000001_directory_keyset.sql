-- Admin search pages by keyset, each shape of search walking one index in
-- order (see src/store/directory.rs). SQLite compares text byte-wise
-- (BINARY) by default, so these serve prefix ranges and their order.
DROP INDEX user_directory_email_prefix_idx;
DROP INDEX user_directory_username_prefix_idx;
DROP INDEX user_directory_status_idx;
CREATE INDEX user_directory_email_idx ON user_directory (email);
CREATE INDEX user_directory_username_idx ON user_directory (lower(username));
-- Everyone, oldest first; and everyone of one status.
CREATE INDEX user_directory_created_idx ON user_directory (created_at, user_id);
CREATE INDEX user_directory_status_created_idx ON user_directory (status, created_at, user_id);
-- Locked accounts, soonest to unlock first (only rows that ever had a lock).
CREATE INDEX user_directory_locked_idx ON user_directory (locked_until, user_id)
 WHERE status = 'active' AND locked_until IS NOT NULL;
