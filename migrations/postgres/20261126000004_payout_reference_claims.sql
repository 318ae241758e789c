-- Payout references became unique (claim kind `payout_reference`, taken by
-- each `PayoutRecorded` in the same transaction) after payouts had been
-- recorded without claims. Claim the references of those earlier payouts
-- now, the first payout of each keeping it, so none of them can be paid
-- again. References longer than the new limit of 255 characters cannot be
-- reused anyway (the ledger refuses them) and are left unclaimed.
INSERT INTO unique_claims (kind, value, owner_id, claimed_at)
SELECT DISTINCT ON (payload->'PayoutRecorded'->>'reference')
       'payout_reference',
       payload->'PayoutRecorded'->>'reference',
       aggregate_id,
       recorded_at
  FROM events
 WHERE aggregate_type = 'ledger'
   AND event_type = 'identity.ledger.PayoutRecorded'
   AND char_length(payload->'PayoutRecorded'->>'reference') BETWEEN 1 AND 255
 ORDER BY payload->'PayoutRecorded'->>'reference', position
ON CONFLICT (kind, value) DO NOTHING;
