-- Challenges are no longer stored (issue 9, throughput): a nonce carries its expiry and the liveness method asked for,
-- sealed with the service's challenge key over the key, fleet, driver and block it is for (src/challenge.rs), and is
-- used once by the UNIQUE nonce of `checkins`. Challenges outstanding at the upgrade are refused as unknown: the
-- device asks for a new one.
DROP TABLE challenges;

-- Secrets the service makes on its first start and its replicas share. 'challenge': the challenge key (base64url of
-- 32 random bytes).
CREATE TABLE service_secrets (
    id TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The driver's failed attempts, counted for every check-in (the fleet's attempt limit): only the failures are indexed.
CREATE INDEX checkins_failures ON checkins (fleet, driver, received_at) WHERE outcome IN ('no_match', 'spoof_suspected');
