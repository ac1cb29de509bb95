-- The shared GCRA: one row per bucket (an account's mode, or one endpoint of it) holding its
-- theoretical arrival time in the database server's epoch seconds. UNLOGGED: after a database
-- crash the buckets start empty, which only forgets at most one second of history.
CREATE UNLOGGED TABLE rate_limits (
    bucket TEXT PRIMARY KEY,
    tat DOUBLE PRECISION NOT NULL
);
