//! Test-only private keys (`test-keys/README.md`): tests make certificates from them at run
//! time (rcgen), register those with the simulator and import them into the client. They
//! protect nothing.

/// An RSA-2048 key, PKCS#8 PEM.
pub const RSA_A: &str = include_str!("../test-keys/rsa-a.key.pem");
/// Another RSA-2048 key, PKCS#8 PEM: the "wrong key" of the tests.
pub const RSA_B: &str = include_str!("../test-keys/rsa-b.key.pem");
/// A P-256 EC key, PKCS#8 PEM: the unsupported kind.
pub const EC_P256: &str = include_str!("../test-keys/ec-p256.key.pem");
