-- The fleet service schema. One file for SQLite and PostgreSQL: only TEXT and BIGINT columns, ids are random text,
-- times are unix seconds. Every single-use or monotonic fact has a constraint behind it (see the comments).

-- Per-fleet policy. A row is created with the defaults when a fleet is first named (an enrollment code).
CREATE TABLE fleets (
    id TEXT PRIMARY KEY,
    failed_attempt_limit BIGINT NOT NULL DEFAULT 10,     -- no_match/spoof_suspected per driver per rolling 24 h
    accepted_key_kinds TEXT NOT NULL DEFAULT 'ed25519',  -- comma-separated key algorithms the fleet accepts
    code_ttl_secs BIGINT NOT NULL DEFAULT 86400,
    challenge_ttl_secs BIGINT NOT NULL DEFAULT 600,
    erasure_max_age_secs BIGINT NOT NULL DEFAULT 2592000,
    created_at BIGINT NOT NULL
);

CREATE TABLE drivers (
    fleet TEXT NOT NULL REFERENCES fleets(id),
    id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts_cleared_at BIGINT NOT NULL DEFAULT 0,       -- failed attempts before this do not count to the limit
    PRIMARY KEY (fleet, id)
);

-- Enrollment codes, stored as the code binding (SHA-256 of the normalised code), never in clear.
CREATE TABLE enrollment_codes (
    code_hash TEXT PRIMARY KEY,
    fleet TEXT NOT NULL,
    driver TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    used_by_kid TEXT,
    created_by TEXT NOT NULL
);

-- Device keys. A key has an algorithm and an optional attestation record (hardware-backed keys, later).
CREATE TABLE device_keys (
    kid TEXT PRIMARY KEY,
    fleet TEXT NOT NULL,
    driver TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    public_key TEXT NOT NULL,                           -- base64url of the raw key
    attestation TEXT,                                   -- key-attestation record (certificate chain), NULL today
    status TEXT NOT NULL,                               -- active | revoked | erased
    last_counter BIGINT NOT NULL DEFAULT 0,             -- highest counter accepted from this key
    registered_at BIGINT NOT NULL,
    status_changed_at BIGINT NOT NULL,
    registration_hash TEXT NOT NULL UNIQUE,             -- statement hash of the registration statement
    registration_response TEXT NOT NULL,                -- the stored answer (idempotent resubmission)
    code_hash TEXT NOT NULL UNIQUE,                     -- a code registers exactly one key
    consent_notice TEXT NOT NULL,
    consent_at BIGINT NOT NULL,
    model_manifest TEXT NOT NULL
);
-- One active key per driver, whatever the interleaving of registrations.
CREATE UNIQUE INDEX device_keys_one_active ON device_keys (fleet, driver) WHERE status = 'active';
CREATE INDEX device_keys_driver ON device_keys (fleet, driver);

-- Challenges: single-use nonces bound to a key, its driver and a block.
CREATE TABLE challenges (
    nonce TEXT PRIMARY KEY,
    kid TEXT NOT NULL,
    fleet TEXT NOT NULL,
    driver TEXT NOT NULL,
    block TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    used_by TEXT                                        -- statement hash of the check-in that used it
);

-- Every verified check-in, whatever its outcome.
CREATE TABLE checkins (
    id TEXT PRIMARY KEY,
    statement_hash TEXT NOT NULL UNIQUE,
    nonce TEXT NOT NULL UNIQUE,                         -- a nonce is used once
    kid TEXT NOT NULL,
    fleet TEXT NOT NULL,
    driver TEXT NOT NULL,
    block TEXT NOT NULL,
    counter BIGINT NOT NULL,
    counter_gap BIGINT NOT NULL,                        -- counters skipped since the last accepted one
    outcome TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    liveness BIGINT NOT NULL,
    verdict TEXT NOT NULL,                              -- accepted | review | refused
    reason TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    evidence TEXT NOT NULL,
    UNIQUE (kid, counter)                               -- a counter value is accepted once per key
);
CREATE INDEX checkins_driver ON checkins (fleet, driver, received_at);
CREATE INDEX checkins_received ON checkins (received_at);

CREATE TABLE erasures (
    kid TEXT PRIMARY KEY,                               -- a key is erased once
    statement_hash TEXT NOT NULL UNIQUE,
    fleet TEXT NOT NULL,
    driver TEXT NOT NULL,
    counter BIGINT NOT NULL,
    erased_at BIGINT NOT NULL,                          -- iat of the receipt
    received_at BIGINT NOT NULL,
    evidence TEXT NOT NULL
);

-- The review queue: everything a person has to look at.
CREATE TABLE reviews (
    id TEXT PRIMARY KEY,
    fleet TEXT NOT NULL,
    driver TEXT NOT NULL,
    kid TEXT,
    kind TEXT NOT NULL,                                 -- no_match | spoof_suspected | locked_out | counter_gap
                                                        -- | attempt_limit | driver_request
    checkin_id TEXT,
    request_hash TEXT UNIQUE,                           -- statement hash of a driver's review request
    request_id TEXT,                                    -- its `rid`
    request_ref TEXT,                                   -- the statement a driver's request refers to
    detail TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    status TEXT NOT NULL,                               -- open | resolved
    resolution TEXT,                                    -- cleared | upheld
    note TEXT,
    resolved_at BIGINT,
    resolved_by TEXT,
    evidence TEXT,                                      -- the fleet's receipt of a driver's request
    resolution_evidence TEXT
);
CREATE INDEX reviews_status ON reviews (status, created_at);
CREATE UNIQUE INDEX reviews_request_id ON reviews (kid, request_id);
CREATE INDEX reviews_driver ON reviews (fleet, driver);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,                                -- admin:<token id> | device:<kid> | system
    action TEXT NOT NULL,
    fleet TEXT,
    driver TEXT,
    kid TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

CREATE TABLE admin_tokens (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE admin_sessions (
    session_hash TEXT PRIMARY KEY,
    token_id TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- The fleet's own signing key (Ed25519, PKCS#8 base64url), made on first start. One row.
CREATE TABLE fleet_keys (
    id TEXT PRIMARY KEY,                                -- 'current'
    kid TEXT NOT NULL,
    pkcs8 TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
