-- The last connection test of each connection (the card's "last result" before any sync).
CREATE TABLE connection_tests (
    connection_id TEXT PRIMARY KEY NOT NULL,
    tested_at     TEXT NOT NULL,      -- RFC 3339 UTC
    report        TEXT NOT NULL       -- JSON of probe::TestReport; never holds a secret or token
);
