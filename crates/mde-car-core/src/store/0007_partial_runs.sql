-- A run may end as 'partial': devices and every data type that could be read were saved,
-- others kept what was known and the run's notes say why. SQLite cannot change a CHECK
-- constraint in place, so the table is rebuilt with the same columns, rows and index.
CREATE TABLE sync_runs_new (
    id            INTEGER PRIMARY KEY,
    connection_id TEXT    NOT NULL,
    mode          TEXT    NOT NULL CHECK (mode IN ('full', 'incremental')),
    trigger       TEXT    NOT NULL,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    status        TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'cancelled', 'interrupted')),
    error_code    TEXT,
    error         TEXT,
    api_calls     TEXT    NOT NULL DEFAULT '{}',  -- JSON: endpoint -> calls
    throttled_ms  INTEGER NOT NULL DEFAULT 0,     -- time spent waiting on rate limits
    changes       TEXT    NOT NULL DEFAULT '{}',  -- JSON: entity -> {added, updated, deactivated}
    notes         TEXT    NOT NULL DEFAULT '[]'   -- JSON: skipped data types and warnings, in words
);
INSERT INTO sync_runs_new SELECT id, connection_id, mode, trigger, started_at, finished_at, status,
    error_code, error, api_calls, throttled_ms, changes, notes FROM sync_runs;
DROP TABLE sync_runs;
ALTER TABLE sync_runs_new RENAME TO sync_runs;
CREATE INDEX sync_runs_by_connection ON sync_runs (connection_id, started_at DESC);
