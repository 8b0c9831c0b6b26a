-- Data types Defender answered it does not offer a connection (a 404: no licence for it, or
-- absent in that cloud). The sync skips them until `checked_at` is a day old, and a test of
-- the connection checks again; an answer with the data removes the row.
CREATE TABLE unavailable_data (
    connection_id TEXT    NOT NULL,
    kind          TEXT    NOT NULL,  -- a watermark's name: alerts, network, logons, vulnerabilities
    reason        TEXT    NOT NULL,  -- Defender's answer, in words
    since         INTEGER NOT NULL,  -- ms: first answered so
    checked_at    INTEGER NOT NULL,  -- ms: last answered so
    PRIMARY KEY (connection_id, kind)
);
