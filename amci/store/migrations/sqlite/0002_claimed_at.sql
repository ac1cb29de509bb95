-- When the current owner claimed an in-flight key (a takeover restarts the clock); NULL in rows
-- written before this version, read as created_at.
ALTER TABLE idempotency ADD COLUMN claimed_at REAL;
