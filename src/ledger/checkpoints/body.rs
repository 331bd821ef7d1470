//! Checkpoints in the C2SP tlog-checkpoint format
//! (https://c2sp.org/tlog-checkpoint): the body is the origin line, the
//! tree size in decimal and the base64 root hash, each ending in a newline;
//! signed as a note by the operator's key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::ledger::merkle::Hash;

/// Why a text is not a checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("a checkpoint has an origin line, a tree size line and a root hash line")]
    Lines,
    #[error("checkpoint tree size `{0}` is not a decimal number")]
    Size(String),
    #[error("checkpoint root `{0}` is not a base64 SHA-256 hash")]
    Root(String),
}

/// A checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Body {
    pub fn text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Parses a note text (extension lines after the root are allowed and
    /// ignored, as the format says).
    pub fn parse(text: &str) -> Result<Body, BodyError> {
        let mut lines = text.split('\n');
        let origin = lines.next().filter(|o| !o.is_empty());
        let size = lines.next();
        let root = lines.next();
        let (Some(origin), Some(size), Some(root)) = (origin, size, root) else {
            return Err(BodyError::Lines);
        };
        let size: u64 = size
            .parse()
            .ok()
            .filter(|_| size == "0" || !size.starts_with('0'))
            .ok_or_else(|| BodyError::Size(size.to_string()))?;
        let root: Hash = B64
            .decode(root)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| BodyError::Root(root.to_string()))?;
        Ok(Body {
            origin: origin.to_string(),
            size,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_round_trips_and_rejects_garbage() {
        let b = Body {
            origin: "example.org/newsledger".into(),
            size: 20852163,
            root: [7; 32],
        };
        assert_eq!(Body::parse(&b.text()).unwrap(), b);
        assert_eq!(
            Body::parse("x\n012\nAAAA\n"),
            Err(BodyError::Size("012".into()))
        );
        assert_eq!(
            Body::parse("x\n12\nAAAA\n"),
            Err(BodyError::Root("AAAA".into()))
        );
        assert_eq!(Body::parse("\n12\n"), Err(BodyError::Lines));
    }
}
