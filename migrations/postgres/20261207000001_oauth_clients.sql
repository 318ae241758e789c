-- Services registered to call /oauth/introspect with HTTP basic auth
-- (RFC 6749 section 2.3.1): the client id and the SHA-256 of its secret, a
-- random 256-bit value shown once at registration (see src/oauth_clients.rs).
CREATE TABLE oauth_clients (
    client_id   text PRIMARY KEY,
    secret_hash bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
