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

/// Reads the members of a canonical bundle ZIP: each member's CRC is
/// checked, then the whole file must equal [`write`] of its members.
pub fn read(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut members = Vec::new();
    let mut at = 0usize;
    let get = |at: usize, n: usize| -> Result<&[u8], String> {
        bytes
            .get(at..at + n)
            .ok_or_else(|| "the ZIP file is cut short".to_string())
    };
    let le16 = |b: &[u8], i: usize| {
        b.get(i..i + 2)
            .and_then(|x| x.try_into().ok())
            .map_or(0, |x| u16::from_le_bytes(x) as usize)
    };
    let le32 = |b: &[u8], i: usize| {
        b.get(i..i + 4)
            .and_then(|x| x.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    };
    while get(at, 4)? == LOCAL.to_le_bytes() {
        let h = get(at, 30)?;
        let crc = le32(h, 14);
        let size = le32(h, 18) as usize;
        let name_len = le16(h, 26);
        let extra = le16(h, 28);
        let name = String::from_utf8(get(at + 30, name_len)?.to_vec())
            .map_err(|_| format!("ZIP member at offset {at}: its name is not UTF-8"))?;
        let data = get(at + 30 + name_len + extra, size)?.to_vec();
        if crc32fast::hash(&data) != crc {
            return Err(format!(
                "member {name}: its bytes do not match their CRC-32 (the member was altered)"
            ));
        }
        at += 30 + name_len + extra + size;
        members.push((name, data));
    }
    if write(&members) != bytes {
        let rebuilt = write(&members);
        let first = rebuilt
            .iter()
            .zip(bytes)
            .position(|(a, b)| a != b)
            .unwrap_or(rebuilt.len().min(bytes.len()));
        return Err(format!(
            "the ZIP container differs from the canonical layout of its members at byte {first} (headers or directory altered)"
        ));
    }
    Ok(members)
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
        for i in 0..z.len() {
            let mut bad = z.clone();
            bad[i] ^= 0x01;
            assert!(read(&bad).is_err(), "byte {i} flipped went unnoticed");
        }
    }
}
