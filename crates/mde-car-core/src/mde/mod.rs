//! The Defender for Endpoint client (being written): token cache, rate budget, retries, paging,
//! and the endpoints the sync reads. Its wire types never leave this module.
