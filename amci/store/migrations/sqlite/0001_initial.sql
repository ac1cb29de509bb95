-- The schema AMCI had before versioned migrations: IF NOT EXISTS, so a file made by that
-- version is adopted as version 1 unchanged.
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
    owner TEXT NOT NULL,
    status INTEGER,
    body BLOB,
    created_at REAL NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS idempotency_created ON idempotency (created_at);
CREATE TABLE IF NOT EXISTS cards (
    scope TEXT NOT NULL,
    token TEXT NOT NULL,
    customer TEXT NOT NULL,
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month INTEGER NOT NULL,
    exp_year INTEGER NOT NULL,
    livemode INTEGER NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (scope, token)
);
CREATE TABLE IF NOT EXISTS payments (
    scope TEXT NOT NULL,
    id TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    capture INTEGER NOT NULL,
    status TEXT NOT NULL,
    reference TEXT,
    livemode INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (scope, id)
);
