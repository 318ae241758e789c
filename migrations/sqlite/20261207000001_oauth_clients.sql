-- Services registered to call /oauth/introspect with HTTP basic auth
-- (RFC 6749 section 2.3.1): the client id and the SHA-256 of its secret, a
-- random 256-bit value shown once at registration (see src/oauth_clients.rs).
CREATE TABLE oauth_clients (
    client_id   TEXT PRIMARY KEY,
    secret_hash BLOB NOT NULL,
    created_at  TEXT NOT NULL
);
