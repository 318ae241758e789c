-- The influencer dashboard (projection `influencer_dashboard`): facts per
-- code, referred user, conversion and ledger bucket, summed when read. The
-- tables hold facts rather than running totals so that the figures are
-- plain sums of what the events say, and replaying from zero gives them
-- again.

-- Every code an influencer has held; deactivated codes stay listed.
CREATE TABLE influencer_codes (
    influencer_id uuid        NOT NULL,
    -- upper-case, as in unique_claims
    normalized    text        NOT NULL,
    -- as the influencer claimed it
    code          text        NOT NULL,
    -- generated or vanity
    kind          text        NOT NULL,
    active        boolean     NOT NULL,
    claimed_at    timestamptz NOT NULL,
    PRIMARY KEY (influencer_id, normalized)
);

-- One row per attributed user.
CREATE TABLE influencer_referrals (
    user_id       uuid PRIMARY KEY,
    influencer_id uuid        NOT NULL,
    normalized    text        NOT NULL,
    signed_up_at  timestamptz NOT NULL,
    verified_at   timestamptz
);
CREATE INDEX influencer_referrals_influencer_idx
    ON influencer_referrals (influencer_id, signed_up_at);

-- One row per conversion of a referred user (earning or not).
CREATE TABLE influencer_conversions (
    external_id      text PRIMARY KEY,
    influencer_id    uuid        NOT NULL,
    user_id          uuid        NOT NULL,
    normalized       text        NOT NULL,
    currency         text        NOT NULL,
    amount_minor     bigint      NOT NULL,
    commission_minor bigint      NOT NULL,
    occurred_at      timestamptz NOT NULL,
    refunded_at      timestamptz
);
CREATE INDEX influencer_conversions_influencer_idx
    ON influencer_conversions (influencer_id, occurred_at);

-- Ledger totals per currency. Pending earnings are kept per release day
-- (influencer_pending), so a read counts the buckets whose day has come as
-- available, exactly like the Ledger aggregate, even before a command has
-- released them.
CREATE TABLE influencer_balances (
    influencer_id uuid   NOT NULL,
    currency      text   NOT NULL,
    available     bigint NOT NULL DEFAULT 0,
    paid          bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (influencer_id, currency)
);
CREATE TABLE influencer_pending (
    influencer_id uuid   NOT NULL,
    currency      text   NOT NULL,
    release_on    date   NOT NULL,
    amount        bigint NOT NULL,
    PRIMARY KEY (influencer_id, currency, release_on)
);

-- Applicants and influencers for the admin list: the display name from the
-- latest application, the program status and the commission rate.
CREATE TABLE influencer_profiles (
    influencer_id       uuid PRIMARY KEY,
    display_name        text        NOT NULL,
    -- pending, rejected, active or suspended
    status              text        NOT NULL,
    commission_rate_bps bigint,
    approved_at         timestamptz
);
CREATE INDEX influencer_profiles_name_idx
    ON influencer_profiles (lower(display_name) text_pattern_ops);
