-- influencer_applications: the review queue of the influencer program and
-- each applicant's own list, built from the Influencer aggregate's events
-- (projection `influencer_applications`).
--
-- An applicant may apply again after a rejection, so one influencer stream
-- (keyed by the user id) holds several applications. Each is identified by
-- a UUID v5 of the stream id and the sequence of its ApplicationSubmitted
-- event: stable across rebuilds, with no id needed in the event itself.
CREATE TABLE influencer_applications (
    id            uuid PRIMARY KEY,
    user_id       uuid        NOT NULL,
    display_name  text        NOT NULL,
    channels      jsonb       NOT NULL,
    pitch         text        NOT NULL,
    -- pending, approved or rejected
    status        text        NOT NULL,
    submitted_at  timestamptz NOT NULL,
    decided_at    timestamptz,
    -- the deciding admin's user id, as recorded in the event
    decided_by    text,
    -- why it was rejected
    reason        text,
    -- the code issued at approval
    referral_code text
);
-- The admin queue: pending first-come first-served.
CREATE INDEX influencer_applications_status_idx
    ON influencer_applications (status, submitted_at, id);
CREATE INDEX influencer_applications_user_idx
    ON influencer_applications (user_id, submitted_at);
