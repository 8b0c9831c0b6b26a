-- The leases still open, by address. When a device takes an address, the sync ends whoever else
-- holds it open; without this index that look-up read every lease the address ever had, which
-- grows with the history (a DHCP pool's addresses have thousands) and made large syncs
-- quadratic. Open leases per address are one or two, so the partial index stays small.
CREATE INDEX ip_leases_open_by_ip ON ip_leases (ip_id) WHERE until IS NULL;
