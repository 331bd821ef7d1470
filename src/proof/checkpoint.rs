//! Checkpoints in the C2SP tlog-checkpoint format
//! (https://c2sp.org/tlog-checkpoint): the body is the origin line, the
//! tree size in decimal and the base64 root hash, each ending in a newline;
//! signed as a note by the operator's key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::ledger::merkle::Hash;

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
    pub fn parse(text: &str) -> Result<Body, String> {
        let mut lines = text.split('\n');
        let origin = lines.next().filter(|o| !o.is_empty());
        let size = lines.next();
        let root = lines.next();
        let (Some(origin), Some(size), Some(root)) = (origin, size, root) else {
            return Err(
                "a checkpoint has an origin line, a tree size line and a root hash line".into(),
            );
        };
        let size: u64 = size
            .parse()
            .ok()
            .filter(|_| size == "0" || !size.starts_with('0'))
            .ok_or_else(|| format!("checkpoint tree size `{size}` is not a decimal number"))?;
        let root: Hash = B64
            .decode(root)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("checkpoint root `{root}` is not a base64 SHA-256 hash"))?;
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
        assert!(Body::parse("x\n012\nAAAA\n").is_err());
        assert!(Body::parse("x\n12\nAAAA\n").is_err());
        assert!(Body::parse("\n12\n").is_err());
    }
}
