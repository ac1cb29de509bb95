-- Times are epoch seconds from AMCI's clock, as in the SQLite schema.
CREATE TABLE idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
    owner TEXT NOT NULL,
    status INTEGER,
    body BYTEA,
    created_at DOUBLE PRECISION NOT NULL,
    claimed_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_created ON idempotency (created_at);
CREATE TABLE cards (
    scope TEXT NOT NULL,
    token TEXT NOT NULL,
    customer TEXT NOT NULL,
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month INTEGER NOT NULL,
    exp_year INTEGER NOT NULL,
    livemode BOOLEAN NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (scope, token)
);
CREATE TABLE payments (
    scope TEXT NOT NULL,
    id TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    capture BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    reference TEXT,
    livemode BOOLEAN NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (scope, id)
);
