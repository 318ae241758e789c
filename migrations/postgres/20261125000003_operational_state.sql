-- State that must not live in events: secrets (even hashed codes are kept
-- out of the log so a leaked log cannot be brute-forced offline against the
-- 10^6 code space) and short-lived counters.

-- One-time codes, stored only as HMAC-SHA256(server secret, code). A new
-- code for the same purpose and subject replaces the old one.
CREATE TABLE one_time_codes (
    purpose         text        NOT NULL,
    subject         text        NOT NULL,
    code_mac        bytea       NOT NULL,
    expires_at      timestamptz NOT NULL,
    failed_attempts integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (purpose, subject)
);

-- Cooldowns ("not again within 60 s"), keyed by a hash of what they guard,
-- shared by every instance.
CREATE TABLE cooldowns (
    key   text PRIMARY KEY,
    until timestamptz NOT NULL
);

-- JWT signing keys. The private key is sealed with XChaCha20-Poly1305 under
-- a key derived from IDENTITY_SECRET; the public key is published in JWKS.
CREATE TABLE signing_keys (
    kid                text PRIMARY KEY,
    algorithm          text        NOT NULL,
    public_key         bytea       NOT NULL,
    sealed_private_key bytea       NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    retired_at         timestamptz
);
