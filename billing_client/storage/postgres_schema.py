"""The billing client's schema on PostgreSQL: one entry per SQLite migration, same number.

Entry N creates the same tables and columns as ``sqlite.MIGRATIONS[N-1]`` (a test compares
them), with PostgreSQL's types: every INTEGER is a BIGINT (money in minor units, epoch seconds,
0/1 flags — the same values SQLite keeps). ``transactions.rowid`` is PostgreSQL's stand-in for
SQLite's implicit rowid (insertion order among rows created in the same second).

Applied by ``postgres.migrate`` in one transaction under an advisory lock, recorded in
``billing_schema_version``. Append only.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE payment_systems (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        processor TEXT NOT NULL,
        login_sealed TEXT NOT NULL,
        api_key_sealed TEXT NOT NULL,
        api_key_masked TEXT NOT NULL,
        test_mode BIGINT NOT NULL,
        enabled_methods TEXT NOT NULL,
        data_protection TEXT NOT NULL,
        created BIGINT NOT NULL,
        updated BIGINT NOT NULL
    );
    CREATE TABLE currencies (
        code TEXT PRIMARY KEY,
        payment_system_id TEXT NOT NULL REFERENCES payment_systems(id),
        minimum_minor BIGINT NOT NULL,
        updated BIGINT NOT NULL
    );
    CREATE INDEX currencies_ps ON currencies(payment_system_id);
    CREATE TABLE customers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        email TEXT,
        currency TEXT NOT NULL,
        created BIGINT NOT NULL,
        updated BIGINT NOT NULL
    );
    CREATE TABLE cards (
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL REFERENCES customers(id),
        payment_system_id TEXT NOT NULL REFERENCES payment_systems(id),
        storage TEXT NOT NULL,
        token TEXT,
        amci_customer TEXT,
        sealed TEXT,
        brand TEXT NOT NULL,
        last4 TEXT NOT NULL,
        exp_month BIGINT,
        exp_year BIGINT,
        created BIGINT NOT NULL,
        deleted BIGINT NOT NULL DEFAULT 0
    );
    CREATE INDEX cards_customer ON cards(customer_id, deleted);
    CREATE INDEX cards_ps ON cards(payment_system_id, deleted);
    CREATE TABLE transactions (
        rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL REFERENCES customers(id),
        payment_system_id TEXT,
        operation TEXT NOT NULL,
        parent_id TEXT REFERENCES transactions(id),
        card_id TEXT,
        card_source TEXT,
        card_brand TEXT,
        card_last4 TEXT,
        currency TEXT NOT NULL,
        amount_minor BIGINT,
        amount_captured_minor BIGINT NOT NULL DEFAULT 0,
        amount_refunded_minor BIGINT NOT NULL DEFAULT 0,
        status TEXT NOT NULL,
        description TEXT,
        idempotency_key TEXT NOT NULL UNIQUE,
        request_scope TEXT,
        request_key TEXT,
        request_fingerprint TEXT,
        request_sealed TEXT,
        card_fingerprint TEXT,
        amci_payment TEXT,
        amci_charge TEXT,
        amci_refund TEXT,
        amci_status TEXT,
        error_type TEXT,
        error_code TEXT,
        error_param TEXT,
        decline_code TEXT,
        message TEXT,
        http_status BIGINT,
        attempts BIGINT NOT NULL DEFAULT 0,
        created BIGINT NOT NULL,
        updated BIGINT NOT NULL
    );
    CREATE UNIQUE INDEX transactions_request
        ON transactions(request_scope, request_key) WHERE request_key IS NOT NULL;
    CREATE INDEX transactions_customer ON transactions(customer_id, created);
    CREATE INDEX transactions_parent ON transactions(parent_id);
    CREATE INDEX transactions_status ON transactions(status);
    CREATE INDEX transactions_pending ON transactions(created) WHERE status = 'pending';
    """,
    """
    CREATE TABLE api_tokens (
        name TEXT PRIMARY KEY,
        token_sha256 TEXT NOT NULL UNIQUE,
        created BIGINT NOT NULL
    );
    """,
    """
    ALTER TABLE transactions ADD COLUMN next_attempt_at BIGINT;
    CREATE INDEX transactions_due
        ON transactions((COALESCE(next_attempt_at, created)), created) WHERE status = 'pending';
    """,
    """
    ALTER TABLE transactions ADD COLUMN action_url TEXT;
    ALTER TABLE transactions ADD COLUMN return_url TEXT;
    ALTER TABLE transactions ADD COLUMN retryable BIGINT;
    ALTER TABLE transactions ADD COLUMN off_session BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE transactions ADD COLUMN save_card BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE transactions ADD COLUMN capture_before BIGINT;
    ALTER TABLE cards ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
    ALTER TABLE cards ADD COLUMN action_url TEXT;
    ALTER TABLE cards ADD COLUMN off_session_ready BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE cards ADD COLUMN message TEXT;
    """,
    """
    CREATE TABLE admins (
        username TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        created BIGINT NOT NULL,
        updated BIGINT NOT NULL
    );
    CREATE TABLE customer_logins (
        customer_id TEXT PRIMARY KEY REFERENCES customers(id),
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        updated BIGINT NOT NULL
    );
    CREATE TABLE sessions (
        id_sha256 TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created BIGINT NOT NULL,
        last_seen BIGINT NOT NULL
    );
    CREATE TABLE login_failures (
        key TEXT PRIMARY KEY,
        failures BIGINT NOT NULL,
        first_at BIGINT NOT NULL
    );
    CREATE TABLE audit (
        seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at BIGINT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        object_type TEXT NOT NULL,
        object_id TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX audit_object ON audit(object_type, object_id, seq);
    """,
    """
    CREATE TABLE amci_notifications (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        payment TEXT,
        sequence BIGINT NOT NULL,
        applied BIGINT NOT NULL,
        received BIGINT NOT NULL
    );
    ALTER TABLE transactions ADD COLUMN amci_sequence BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE transactions ADD COLUMN dispute_id TEXT;
    ALTER TABLE transactions ADD COLUMN dispute_status TEXT;
    ALTER TABLE transactions ADD COLUMN dispute_reason TEXT;
    ALTER TABLE transactions ADD COLUMN dispute_amount_minor BIGINT;
    CREATE INDEX transactions_amci_payment ON transactions(amci_payment);
    """,
    """
    ALTER TABLE transactions ADD COLUMN reconcile_until BIGINT;
    """,
)
