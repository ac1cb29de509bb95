-- Notifications: Stripe events seen, the outbox with per-subject sequence numbers, the test-mode
-- webhook endpoints AMCI registered (whsec_ sealed), and the Stripe keys it fetches objects with
-- (sealed). Times are epoch seconds from AMCI's clock.
CREATE TABLE stripe_keys (
    scope TEXT PRIMARY KEY,
    sealed BYTEA NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE webhook_endpoints (
    scope TEXT PRIMARY KEY,
    subscription TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    url TEXT NOT NULL,
    sealed_secret BYTEA NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX webhook_endpoints_subscription ON webhook_endpoints (subscription);
CREATE TABLE webhook_events (
    event TEXT PRIMARY KEY,
    received_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX webhook_events_received ON webhook_events (received_at);
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    subscription TEXT NOT NULL,
    scope TEXT,
    type TEXT NOT NULL,
    subject TEXT NOT NULL,
    payment TEXT,
    card TEXT,
    sequence INTEGER NOT NULL,
    dedupe TEXT NOT NULL,
    event TEXT NOT NULL,
    livemode BOOLEAN NOT NULL,
    event_object BYTEA NOT NULL,
    body BYTEA,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL,
    lease_until DOUBLE PRECISION,
    last_error TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    delivered_at DOUBLE PRECISION,
    UNIQUE (subscription, dedupe),
    UNIQUE (subscription, subject, sequence)
);
CREATE INDEX notifications_due ON notifications (state, next_attempt_at);
CREATE INDEX notifications_created ON notifications (subscription, created_at);
CREATE INDEX payments_reference ON payments (scope, reference);
