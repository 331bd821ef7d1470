//! C2SP signed notes with Ed25519 keys: key files, vkeys, signing and
//! verifying (https://c2sp.org/signed-note), and Ed25519 cosignatures
//! (https://c2sp.org/tlog-cosignature).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

/// Signature type byte of an Ed25519 note signature.
const ED25519: u8 = 0x01;
/// Signature type byte of an Ed25519 cosignature (tlog-cosignature v1).
const COSIGNATURE_V1: u8 = 0x04;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    #[error("{0}")]
    Format(String),
    #[error("no signature by {name}+{id:08x} on the checkpoint")]
    Unsigned { name: String, id: u32 },
    #[error(
        "the signature by {0} does not verify: the checkpoint text was altered or signed by another key"
    )]
    BadSignature(String),
}

fn key_id(name: &str, kind: u8, public: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', kind]);
    h.update(public);
    let d = h.finalize();
    let mut id = [0u8; 4];
    id.copy_from_slice(d.get(..4).unwrap_or(&[0; 4]));
    u32::from_be_bytes(id)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('+') && !name.chars().any(char::is_whitespace)
}

/// A private signing key with its name.
pub struct Signer {
    pub name: String,
    key: SigningKey,
}

impl Signer {
    /// A new random key.
    pub fn generate(name: &str) -> Result<Signer, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::Format(format!(
                "key name `{name}` must be non-empty, without spaces or `+` (e.g. example.org/newsledger)"
            )));
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| NoteError::Format(format!("no randomness for a key: {e}")))?;
        Ok(Signer {
            name: name.to_string(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The key file's text: `PRIVATE+KEY+<name>+<id>+<base64(0x01||seed)>`
    /// (the format of Go's golang.org/x/mod/sumdb/note).
    pub fn to_skey(&self) -> String {
        let mut material = vec![ED25519];
        material.extend_from_slice(&self.key.to_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id(),
            B64.encode(material)
        )
    }

    pub fn from_skey(text: &str) -> Result<Signer, NoteError> {
        let bad = || {
            NoteError::Format(
                "not a newsledger/note signing key (expected PRIVATE+KEY+NAME+ID+KEY; create one with `newsledger key generate`)".into(),
            )
        };
        let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or_else(bad)?;
        // Names hold no '+'; the base64 key material may.
        let mut parts = rest.splitn(3, '+');
        let name = parts.next().ok_or_else(bad)?;
        let id = parts.next().ok_or_else(bad)?;
        let material = parts.next().ok_or_else(bad)?;
        let bytes = B64.decode(material).map_err(|_| bad())?;
        let (kind, seed) = bytes.split_first().ok_or_else(bad)?;
        let seed: [u8; 32] = seed.try_into().map_err(|_| bad())?;
        if *kind != ED25519 || !valid_name(name) {
            return Err(bad());
        }
        let s = Signer {
            name: name.to_string(),
            key: SigningKey::from_bytes(&seed),
        };
        if format!("{:08x}", s.id()) != id {
            return Err(NoteError::Format(
                "the key file's key ID does not match its key (the file was altered)".into(),
            ));
        }
        Ok(s)
    }

    /// Reads a key file: a regular file (never a FIFO or a device, which
    /// could block or never end), of at most 4 KiB, readable by its owner
    /// only (a key others can read signs for whoever read it).
    pub fn load(path: &Path) -> Result<Signer, String> {
        use std::io::Read;
        let shown = path.display();
        // Opened without blocking (a FIFO would wait for a writer), then
        // checked as opened, so nothing can be swapped in between.
        let mut options = std::fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc_nonblock());
        let file = options
            .open(path)
            .map_err(|e| format!("cannot read the signing key {shown}: {e}"))?;
        let meta = file
            .metadata()
            .map_err(|e| format!("cannot read the signing key {shown}: {e}"))?;
        if !meta.is_file() {
            return Err(format!(
                "the signing key {shown} is not a regular file (give the file `newsledger key generate` wrote)"
            ));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(format!(
                    "the signing key {shown} can be read by others (mode {mode:o}): run `chmod 600 {shown}`"
                ));
            }
        }
        let mut text = String::new();
        file.take(4096)
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the signing key {shown}: {e}"))?;
        Signer::from_skey(&text).map_err(|e| format!("signing key {shown}: {e}"))
    }

    pub fn id(&self) -> u32 {
        key_id(&self.name, ED25519, self.key.verifying_key().as_bytes())
    }

    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            kind: ED25519,
            key: self.key.verifying_key(),
        }
    }

    /// Signs a note text (which ends in a newline): the text, a blank line,
    /// and this key's signature line.
    pub fn sign(&self, text: &str) -> String {
        let sig = self.key.sign(text.as_bytes());
        let mut blob = self.id().to_be_bytes().to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        format!("{text}\n\u{2014} {} {}\n", self.name, B64.encode(blob))
    }

    /// An Ed25519 cosignature line (tlog-cosignature v1) over a checkpoint
    /// body at POSIX time `time`; what a witness returns.
    pub fn cosign(&self, body: &str, time: u64) -> String {
        let msg = format!("cosignature/v1\ntime {time}\n{body}");
        let sig = self.key.sign(msg.as_bytes());
        let id = key_id(
            &self.name,
            COSIGNATURE_V1,
            self.key.verifying_key().as_bytes(),
        );
        let mut blob = id.to_be_bytes().to_vec();
        blob.extend_from_slice(&time.to_be_bytes());
        blob.extend_from_slice(&sig.to_bytes());
        format!("\u{2014} {} {}", self.name, B64.encode(blob))
    }

    /// The vkey of this key used as a witness (cosignature type 0x04).
    pub fn cosigner_vkey(&self) -> String {
        vkey(
            &self.name,
            COSIGNATURE_V1,
            self.key.verifying_key().as_bytes(),
        )
    }
}

fn vkey(name: &str, kind: u8, public: &[u8; 32]) -> String {
    let mut material = vec![kind];
    material.extend_from_slice(public);
    format!(
        "{name}+{:08x}+{}",
        key_id(name, kind, public),
        B64.encode(material)
    )
}

/// A public verifier key (`<name>+<hex id>+<base64(type||key)>`).
#[derive(Debug, Clone)]
pub struct NoteVerifier {
    pub name: String,
    kind: u8,
    key: VerifyingKey,
}

/// `O_NONBLOCK` (opening a FIFO returns at once).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn libc_nonblock() -> i32 {
    libc::O_NONBLOCK
}

/// `O_NONBLOCK` where the libc crate is not linked (Linux's value; BSDs
/// and macOS use 4).
#[cfg(all(unix, not(all(target_os = "linux", target_env = "gnu"))))]
fn libc_nonblock() -> i32 {
    if cfg!(target_os = "linux") { 0o4000 } else { 4 }
}

impl std::fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&vkey(&self.name, self.kind, self.key.as_bytes()))
    }
}

impl std::str::FromStr for NoteVerifier {
    type Err = NoteError;

    fn from_str(s: &str) -> Result<Self, NoteError> {
        let bad = |why: &str| NoteError::Format(format!("verifier key `{}`: {why}", s.trim()));
        let mut parts = s.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(material)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected NAME+HEXID+BASE64KEY"));
        };
        let bytes = B64
            .decode(material)
            .map_err(|_| bad("the key is not base64"))?;
        let (kind, public) = bytes.split_first().ok_or_else(|| bad("empty key"))?;
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| bad("not an Ed25519 key (32 bytes)"))?;
        if *kind != ED25519 && *kind != COSIGNATURE_V1 {
            return Err(bad(
                "only Ed25519 keys (type 0x01, or 0x04 for witnesses) are supported",
            ));
        }
        if format!("{:08x}", key_id(name, *kind, &public)) != id {
            return Err(bad("the key ID does not match the key"));
        }
        let key =
            VerifyingKey::from_bytes(&public).map_err(|_| bad("not a valid Ed25519 point"))?;
        Ok(NoteVerifier {
            name: name.to_string(),
            kind: *kind,
            key,
        })
    }
}

impl NoteVerifier {
    pub fn id(&self) -> u32 {
        key_id(&self.name, self.kind, self.key.as_bytes())
    }

    pub fn is_cosigner(&self) -> bool {
        self.kind == COSIGNATURE_V1
    }

    /// Verifies a signature line of `note` by this key over `text`. For a
    /// cosigner key the line's timestamp is returned.
    pub fn verify_line(&self, text: &str, line: &SigLine) -> Result<Option<u64>, NoteError> {
        let bad = || NoteError::BadSignature(self.name.clone());
        if self.kind == COSIGNATURE_V1 {
            let (time, sig) = line.sig.split_at_checked(8).ok_or_else(bad)?;
            let time = u64::from_be_bytes(time.try_into().map_err(|_| bad())?);
            let sig = Signature::from_slice(sig).map_err(|_| bad())?;
            let msg = format!("cosignature/v1\ntime {time}\n{text}");
            self.key.verify(msg.as_bytes(), &sig).map_err(|_| bad())?;
            return Ok(Some(time));
        }
        let sig = Signature::from_slice(&line.sig).map_err(|_| bad())?;
        self.key.verify(text.as_bytes(), &sig).map_err(|_| bad())?;
        Ok(None)
    }
}

/// One signature line: key name, key ID, signature bytes after the ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigLine {
    pub name: String,
    pub id: u32,
    pub sig: Vec<u8>,
    /// The line as written.
    pub line: String,
}

impl SigLine {
    pub fn parse(line: &str) -> Result<SigLine, NoteError> {
        let bad = || NoteError::Format(format!("`{line}` is not a note signature line"));
        let rest = line.strip_prefix("\u{2014} ").ok_or_else(bad)?;
        let (name, b64) = rest.split_once(' ').ok_or_else(bad)?;
        let bytes = B64.decode(b64).map_err(|_| bad())?;
        if bytes.len() < 5 || !valid_name(name) {
            return Err(bad());
        }
        let (id, sig) = bytes.split_at(4);
        Ok(SigLine {
            name: name.to_string(),
            id: u32::from_be_bytes(id.try_into().map_err(|_| bad())?),
            sig: sig.to_vec(),
            line: line.to_string(),
        })
    }
}

/// A note split into its text and signature lines.
#[derive(Debug, Clone)]
pub struct Note {
    pub text: String,
    pub sigs: Vec<SigLine>,
}

impl Note {
    pub fn parse(note: &str) -> Result<Note, NoteError> {
        if note.chars().any(|c| c.is_control() && c != '\n') {
            return Err(NoteError::Format(
                "a signed note must not hold control characters other than newline".into(),
            ));
        }
        let (text, sigs) = note.split_once("\n\n").ok_or_else(|| {
            NoteError::Format("no blank line between the note text and its signatures".into())
        })?;
        let sigs = sigs
            .strip_suffix('\n')
            .ok_or_else(|| NoteError::Format("the last signature line has no newline".into()))?;
        let sigs = sigs
            .split('\n')
            .map(SigLine::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Note {
            text: format!("{text}\n"),
            sigs,
        })
    }

    /// Checks the signature of `key` (the first line with its name and ID).
    pub fn verify(&self, key: &NoteVerifier) -> Result<Option<u64>, NoteError> {
        let line = self
            .sigs
            .iter()
            .find(|s| s.name == key.name && s.id == key.id())
            .ok_or_else(|| NoteError::Unsigned {
                name: key.name.clone(),
                id: key.id(),
            })?;
        key.verify_line(&self.text, line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_round_trip_and_tamper() {
        let s = Signer::generate("example.org/log").unwrap();
        let again = Signer::from_skey(&s.to_skey()).unwrap();
        assert_eq!(again.to_skey(), s.to_skey());
        let v: NoteVerifier = s.verifier().to_string().parse().unwrap();
        let note = s.sign("example.org/log\n5\nAAAA\n");
        let parsed = Note::parse(&note).unwrap();
        parsed.verify(&v).unwrap();
        let altered = note.replace("\n5\n", "\n6\n");
        assert_eq!(
            Note::parse(&altered).unwrap().verify(&v),
            Err(NoteError::BadSignature("example.org/log".into()))
        );
        let other = Signer::generate("example.org/log").unwrap();
        assert!(matches!(
            parsed.verify(&other.verifier()),
            Err(NoteError::Unsigned { .. })
        ));
        // A cosignature over the body verifies with the cosigner vkey only.
        let w = Signer::generate("witness.example/w1").unwrap();
        let line = w.cosign(&parsed.text, 1_700_000_000);
        let wv: NoteVerifier = w.cosigner_vkey().parse().unwrap();
        assert!(wv.is_cosigner());
        let cosigned = Note::parse(&format!("{note}{line}\n")).unwrap();
        assert_eq!(cosigned.verify(&wv), Ok(Some(1_700_000_000)));
        assert!(cosigned.verify(&w.verifier()).is_err());
    }

    /// The vkey/key-ID derivation agrees with the signed-note spec's example
    /// (golang.org/x/mod/sumdb/note test key "PeterNeumann").
    #[test]
    fn vkey_matches_the_reference_example() {
        let vk = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let v: NoteVerifier = vk.parse().unwrap();
        assert_eq!(v.to_string(), vk);
        let note = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        Note::parse(note).unwrap().verify(&v).unwrap();
        // Ed25519 is deterministic: the reference signing key gives the
        // reference note byte for byte.
        let s = Signer::from_skey(
            "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        )
        .unwrap();
        assert_eq!(s.sign(&Note::parse(note).unwrap().text), note);
        assert_eq!(s.verifier().to_string(), vk);
        assert!(
            Note::parse(&note.replace("answer", "Answer"))
                .unwrap()
                .verify(&v)
                .is_err()
        );
    }

    #[test]
    fn garbage_is_refused() {
        assert!(Signer::from_skey("hello").is_err());
        assert!("a+b+c".parse::<NoteVerifier>().is_err());
        assert!(Note::parse("no blank line\n").is_err());
        assert!(Note::parse("text\n\nnot a sig\n").is_err());
        assert!(Note::parse("te\u{7}xt\n\n\u{2014} a AAAAAAAA\n").is_err());
    }
}
