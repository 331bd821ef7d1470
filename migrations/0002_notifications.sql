-- Webhook notifications: a durable outbox, written in the same transaction
-- as the change it reports and delivered by the daemon with retries.
-- Derived data (not part of the ledger): rows are updated as they are delivered.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    webhook         TEXT    NOT NULL,
    seq             INTEGER NOT NULL,
    body            TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    delivered_at    TEXT,
    gave_up_at      TEXT,
    last_error      TEXT
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE delivered_at IS NULL AND gave_up_at IS NULL;
