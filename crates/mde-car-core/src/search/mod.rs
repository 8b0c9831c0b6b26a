//! Search over the asset graph (being written): IP, CIDR, host name, MAC and IP-at-a-time
//! queries, the IP timeline, asset detail and the computed asset risk.
