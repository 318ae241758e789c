-- A claim its owner stopped using but keeps until `held_until`: a username
-- changed for another stays reserved to its account for a while (see
-- `src/store/claims.rs`). NULL: a claim in use, kept for good.
ALTER TABLE unique_claims ADD COLUMN held_until timestamptz;
