-- Whether a lease ended because another device's report showed its address (a DHCP hand-over)
-- rather than because the holder's own report no longer did. If the holder reports the address
-- again, the address is shared — home networks behind different routers hand the same
-- 192.168.x.y to many laptops at once — and the lease reopens instead of both devices' leases
-- flapping at every report.
ALTER TABLE ip_leases ADD COLUMN ended_by_takeover INTEGER NOT NULL DEFAULT 0;
