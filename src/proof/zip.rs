//! The bundle's container: a ZIP of stored (uncompressed) members in one
//! canonical layout, so that a verifier can rebuild the file from its
//! members and find any changed byte:
//!
//! - per member: local header (signature 0x04034b50, version 20, flags
//!   0x0800 (UTF-8 names), method 0, time 0, date 0x0021 (1980-01-01),
//!   CRC-32, sizes, name length, no extra field), the name, the bytes;
//! - then one central directory header per member (version made by and
//!   needed 20, same fields, no extra or comment, attributes 0, offset of
//!   its local header), and the end record (no comment).
//!
//! All integers little-endian. WACZ readers open it like any ZIP.

const LOCAL: u32 = 0x0403_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
const VERSION: u16 = 20;
const UTF8: u16 = 0x0800;
const DATE: u16 = 0x0021;

fn u16le(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn u32le(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Writes members (name, bytes) in order. Members are far below 4 GiB.
pub fn write(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in members {
        let offset = out.len() as u32;
        let crc = crc32fast::hash(data);
        let header = |out: &mut Vec<u8>, sig: u32| {
            u32le(out, sig);
            if sig == CENTRAL {
                u16le(out, VERSION);
            }
            u16le(out, VERSION);
            u16le(out, UTF8);
            u16le(out, 0);
            u16le(out, 0);
            u16le(out, DATE);
            u32le(out, crc);
            u32le(out, data.len() as u32);
            u32le(out, data.len() as u32);
            u16le(out, name.len() as u16);
            u16le(out, 0);
        };
        header(&mut out, LOCAL);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        header(&mut central, CENTRAL);
        u16le(&mut central, 0); // comment
        u16le(&mut central, 0); // disk
        u16le(&mut central, 0); // internal attributes
        u32le(&mut central, 0); // external attributes
        u32le(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    u32le(&mut out, END);
    u16le(&mut out, 0);
    u16le(&mut out, 0);
    u16le(&mut out, members.len() as u16);
    u16le(&mut out, members.len() as u16);
    u32le(&mut out, central.len() as u32);
    u32le(&mut out, cd_offset);
    u16le(&mut out, 0);
    out
}

/// Why bytes are not a ZIP file this reader accepts, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZipError {
    #[error("not a ZIP file (no end of central directory)")]
    NotZip,
    #[error("the ZIP file is cut short")]
    CutShort,
    #[error("the ZIP file has too many members, or is ZIP64 (not a bundle)")]
    TooMany,
    #[error("the ZIP central directory is damaged at offset {0}")]
    Directory(usize),
    #[error("ZIP member at offset {0}: its name is not UTF-8")]
    NameNotUtf8(usize),
    #[error("member {name}: {what}")]
    Member { name: String, what: String },
}

impl ZipError {
    fn member(name: &str, what: impl Into<String>) -> ZipError {
        ZipError::Member {
            name: name.to_string(),
            what: what.into(),
        }
    }
}

/// Reads the members of any ZIP a bundle may have been re-packed into:
/// through its central directory, members stored or deflated, each one's
/// CRC-32 checked. Whether the file is the canonical layout is the
/// caller's question (`write(&members) == bytes`).
///
/// Bounded: at most 10,000 members, and at most 16 times the file's size
/// plus 16 MiB of content in all, whatever sizes the headers declare (a
/// deflate bomb stops there). ZIP64 and encrypted members are refused.
pub fn read(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, ZipError> {
    let le16 = |i: usize| -> Result<usize, ZipError> {
        bytes
            .get(i..i + 2)
            .and_then(|x| x.try_into().ok())
            .map(|x| u16::from_le_bytes(x) as usize)
            .ok_or(ZipError::CutShort)
    };
    let le32 = |i: usize| -> Result<u32, ZipError> {
        bytes
            .get(i..i + 4)
            .and_then(|x| x.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or(ZipError::CutShort)
    };
    // The end record: the last signature within its comment's reach.
    let earliest = bytes.len().saturating_sub(22 + 65_535);
    let end = (earliest..=bytes.len().saturating_sub(22))
        .rev()
        .find(|&i| le32(i).ok() == Some(END))
        .ok_or(ZipError::NotZip)?;
    let count = le16(end + 10)?;
    let mut at = le32(end + 16)? as usize;
    if count > 10_000 || le32(end + 16)? == u32::MAX {
        return Err(ZipError::TooMany);
    }
    let budget = (bytes.len() as u64).saturating_mul(16) + (16 << 20);
    let mut used = 0u64;
    let mut members: Vec<(String, Vec<u8>)> = Vec::with_capacity(count);
    let mut names = std::collections::HashSet::with_capacity(count);
    for _ in 0..count {
        if le32(at)? != CENTRAL {
            return Err(ZipError::Directory(at));
        }
        let flags = le16(at + 8)?;
        let method = le16(at + 10)?;
        let crc = le32(at + 16)?;
        let packed = le32(at + 20)? as usize;
        let size = le32(at + 24)? as u64;
        let (name_len, extra, comment) = (le16(at + 28)?, le16(at + 30)?, le16(at + 32)?);
        let local = le32(at + 42)? as usize;
        let name = bytes
            .get(at + 46..at + 46 + name_len)
            .ok_or(ZipError::CutShort)?;
        let name = String::from_utf8(name.to_vec()).map_err(|_| ZipError::NameNotUtf8(local))?;
        at += 46 + name_len + extra + comment;
        if !safe_name(&name) {
            return Err(ZipError::Member {
                name: format!("{name:?}"),
                what: "not a relative path inside the bundle (absolute, `..`, backslash or empty)"
                    .into(),
            });
        }
        if !names.insert(name.clone()) {
            return Err(ZipError::member(&name, "appears twice"));
        }
        if flags & 1 != 0 {
            return Err(ZipError::member(&name, "encrypted"));
        }
        if le32(local)? != LOCAL {
            return Err(ZipError::member(
                &name,
                format!("no local header at offset {local}"),
            ));
        }
        let start = local + 30 + le16(local + 26)? + le16(local + 28)?;
        let raw = bytes
            .get(start..start + packed)
            .ok_or_else(|| ZipError::member(&name, "cut short"))?;
        used += size;
        // Each member within 16 times its packed size plus 1 MiB (bundles
        // are stored; a re-zip deflates text a few times at most), and all
        // within the file's budget.
        if size > (packed as u64).saturating_mul(16) + (1 << 20) || used > budget {
            return Err(ZipError::member(
                &name,
                format!(
                    "the members would unpack to more than {budget} bytes (a ZIP bomb, or not a bundle)"
                ),
            ));
        }
        let data = match method {
            0 => raw.to_vec(),
            8 => {
                use std::io::Read;
                let mut out = Vec::with_capacity(size.min(1 << 24) as usize);
                flate2::read::DeflateDecoder::new(raw)
                    .take(size + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| ZipError::member(&name, format!("does not inflate: {e}")))?;
                out
            }
            m => {
                return Err(ZipError::member(
                    &name,
                    format!("compression method {m} is not read"),
                ));
            }
        };
        if data.len() as u64 != size {
            return Err(ZipError::member(
                &name,
                format!("holds {} bytes, its header says {size}", data.len()),
            ));
        }
        if crc32fast::hash(&data) != crc {
            return Err(ZipError::member(
                &name,
                "its bytes do not match their CRC-32 (the member was altered)",
            ));
        }
        members.push((name, data));
    }
    Ok(members)
}

/// A member name a bundle may hold: a relative path of plain components
/// (no leading `/`, no `.` or `..`, no backslash, no NUL, nothing empty),
/// so that unpacking it cannot write outside its folder.
pub fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.chars().any(char::is_control)
        && !name.contains(['\\', ':'])
        && name
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_byte_counts() {
        let members = vec![
            ("a.txt".to_string(), b"hello".to_vec()),
            ("dir/b.json".to_string(), b"{}".to_vec()),
        ];
        let z = write(&members);
        assert_eq!(read(&z).unwrap(), members);
        assert_eq!(write(&members), z);
        for i in 0..z.len() {
            let mut bad = z.clone();
            bad[i] ^= 0x01;
            let noticed = match read(&bad) {
                Err(_) => true,
                Ok(m) => m != members || write(&m) != bad,
            };
            assert!(noticed, "byte {i} flipped went unnoticed");
        }
    }
}
