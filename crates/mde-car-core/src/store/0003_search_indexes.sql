-- Indexes of the Explorer's queries (the `search` module). Every search starts from an index:
-- an address (ip_addresses.address, unique), a range of addresses (the same index), a host name
-- prefix (hostnames.name, unique NOCASE) or a MAC (mac_addresses.address, unique); the links
-- are then read through their *_by_* indexes, and each hit's alerts and vulnerabilities by key.

-- A hit's active alerts by severity, answered from the index alone (no table reads).
CREATE INDEX alerts_by_device_status ON alerts (connection_id, device_id, status, severity);

-- `mde-car asset <Defender device id>` across every connection.
CREATE INDEX assets_by_device_id ON assets (device_id);
