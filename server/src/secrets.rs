//! Secrets at rest: AES-256-GCM (the `aes-gcm` crate) under the server's
//! key, each sealed value bound to what it belongs to (its tenant), so a
//! sealed value copied to another tenant's row does not open.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::path::Path;

const VERSION: &str = "v1:";

pub struct Sealer {
    cipher: Aes256Gcm,
    /// Signs bearer tokens (`token`), derived from the same key.
    mac: [u8; 32],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(…)")
    }
}

impl Sealer {
    pub fn from_key(key: &[u8; 32]) -> Sealer {
        use sha2::{Digest, Sha256};
        Sealer {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)),
            mac: Sha256::new()
                .chain_update(b"trellis token key\0")
                .chain_update(key)
                .finalize()
                .into(),
        }
    }

    /// A sealer with a random key (tests, and nothing that must outlive the process).
    pub fn random() -> Sealer {
        let key = Aes256Gcm::generate_key(OsRng);
        Sealer::from_key(&key.into())
    }

    /// A bearer token for `context` (HMAC-SHA256, base64url): every server
    /// with the same key makes and accepts the same token, nothing is stored.
    pub fn token(&self, context: &str) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&self.mac)
            .expect("any key length");
        mac.update(context.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `token` is `context`'s token (compared in constant time).
    pub fn check_token(&self, context: &str, token: &str) -> bool {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use hmac::Mac;
        let Ok(given) = URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&self.mac)
            .expect("any key length");
        mac.update(context.as_bytes());
        mac.verify_slice(&given).is_ok()
    }

    /// The configured key (base64 of 32 bytes); without one, the key in
    /// `<data-dir>/secret.key`, made on first start. Servers sharing one
    /// database must share the key: configure it.
    pub fn load(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Sealer> {
        let decode = |text: &str, from: &str| -> anyhow::Result<Sealer> {
            let bytes = STANDARD
                .decode(text.trim())
                .map_err(|e| anyhow::anyhow!("{from} is not base64: {e}"))?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| anyhow::anyhow!("{from} must be 32 bytes (base64), for AES-256"))?;
            Ok(Sealer::from_key(&key))
        };
        if let Some(text) = configured {
            return decode(text, "TRELLIS_SECRET_KEY");
        }
        let file = data_dir.join("secret.key");
        if let Ok(text) = std::fs::read_to_string(&file) {
            return decode(&text, &file.display().to_string());
        }
        std::fs::create_dir_all(data_dir)?;
        let key = Aes256Gcm::generate_key(OsRng);
        let text = STANDARD.encode(key);
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&file)?;
            out.write_all(text.as_bytes())?;
        }
        tracing::warn!(file = %file.display(), "made a new key for secrets at rest; set TRELLIS_SECRET_KEY when several servers share the database");
        decode(&text, &file.display().to_string())
    }

    /// Seals `plain` for `context`: `v1:` and base64 of nonce and ciphertext.
    pub fn seal(&self, context: &str, plain: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of a small value cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{VERSION}{}", STANDARD.encode(out))
    }

    /// Opens a value sealed for `context`.
    pub fn open(&self, context: &str, sealed: &str) -> anyhow::Result<String> {
        let data = sealed
            .strip_prefix(VERSION)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|d| d.len() > 12)
            .ok_or_else(|| anyhow::anyhow!("a sealed secret is malformed"))?;
        let (nonce, body) = data.split_at(12);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("a sealed secret does not open with this server's key"))?;
        Ok(String::from_utf8(plain)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_context_and_with_their_key() {
        let sealer = Sealer::random();
        let sealed = sealer.seal("tenant-a", "external-id-123");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("external-id-123"));
        assert_ne!(
            sealed,
            sealer.seal("tenant-a", "external-id-123"),
            "fresh nonce each time"
        );
        assert_eq!(sealer.open("tenant-a", &sealed).unwrap(), "external-id-123");
        assert!(sealer.open("tenant-b", &sealed).is_err());
        assert!(Sealer::random().open("tenant-a", &sealed).is_err());
        assert!(sealer.open("tenant-a", "v1:garbage").is_err());
    }

    #[test]
    fn tokens_check_only_for_their_context_and_key() {
        let sealer = Sealer::from_key(&[7; 32]);
        let token = sealer.token("airflow:t1:run-1");
        assert_eq!(token, Sealer::from_key(&[7; 32]).token("airflow:t1:run-1"));
        assert!(sealer.check_token("airflow:t1:run-1", &token));
        assert!(!sealer.check_token("airflow:t1:run-2", &token));
        assert!(!Sealer::from_key(&[8; 32]).check_token("airflow:t1:run-1", &token));
        assert!(!sealer.check_token("airflow:t1:run-1", "not base64 !"));
        assert!(!sealer.check_token("airflow:t1:run-1", ""));
    }

    #[test]
    fn the_key_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = Sealer::load(None, dir.path()).unwrap();
        let sealed = first.seal("t", "s");
        let again = Sealer::load(None, dir.path()).unwrap();
        assert_eq!(again.open("t", &sealed).unwrap(), "s");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("secret.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(
            Sealer::load(Some("c2hvcnQ="), dir.path()).is_err(),
            "too short a key is refused"
        );
    }
}
