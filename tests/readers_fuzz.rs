//! Property tests of every reader of untrusted bytes that a hostile server
//! or a hostile bundle reaches: the capture reader (response heads, chunked
//! bodies), the ZIP reader, the certificate reader, the timestamp-token
//! reader, the signed-note and checkpoint parsers, and a whole bundle
//! through `verify-bundle`. Each is fed arbitrary bytes and mutations of a
//! real sample (a capture, a ZIP, a certificate openssl made, a bundle the
//! binary made), and must return, never panic, within its bounds; where a
//! mutation is accepted, what was accepted must be what the sample held.
//! `bench/fuzz.sh` runs them long (`PROPTEST_CASES`).

mod common;

use std::sync::OnceLock;

use newsledger::exchange as wire;
use newsledger::ledger::checkpoints as checkpoint;
use newsledger::note;
use newsledger::proof::{tsa, zip};
use newsledger::x509;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(64)
}

/// A sample with one of: bytes flipped, a span cut out, bytes inserted, or
/// the end cut off, at places proptest chooses.
fn mutate(sample: &[u8], how: u8, at: usize, len: usize, byte: u8) -> Vec<u8> {
    let mut m = sample.to_vec();
    if m.is_empty() {
        return vec![byte];
    }
    let at = at % m.len();
    match how % 4 {
        0 => {
            for b in m.iter_mut().skip(at).take(len.max(1)) {
                *b ^= byte | 1;
            }
        }
        1 => {
            let end = (at + len).min(m.len());
            m.drain(at..end);
        }
        2 => {
            for _ in 0..len.clamp(1, 64) {
                m.insert(at, byte);
            }
        }
        _ => m.truncate(at),
    }
    m
}

const CAPTURE: &[u8] = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Latin: caf\xe9\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n";

/// A real certificate chain (leaf, then its CA), made by openssl once.
fn chain() -> &'static [u8] {
    static CHAIN: OnceLock<Vec<u8>> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            let ok = std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("openssl runs")
                .status
                .success();
            assert!(ok, "openssl {args:?}");
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/O=Fuzz/CN=Fuzz CA",
            "-outform",
            "PEM",
        ]);
        run(&["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"]);
        let der = std::fs::read(dir.path().join("ca.der")).unwrap();
        [der.clone(), der].concat()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// The capture reader: any bytes, and mutations of a real capture.
    #[test]
    fn capture_reading_never_panics_and_keeps_its_cap(
        junk in proptest::collection::vec(any::<u8>(), 0..512),
        how in any::<u8>(), at in any::<usize>(), len in 0usize..64, byte in any::<u8>(),
        cap in 0u64..64,
    ) {
        for raw in [junk, mutate(CAPTURE, how, at, len, byte)] {
            if let Some(head) = wire::parse_head(&raw) {
                prop_assert!(head.body_at <= raw.len());
                let _ = wire::message_end(&raw, &head);
            }
            if let Some(body) = wire::entity_body(&raw, cap) {
                prop_assert!(body.len() as u64 <= cap);
            }
            let _ = wire::dechunk(&raw, cap);
            let _ = newsledger::exchange::capture_body(&raw, cap);
        }
        prop_assert_eq!(wire::entity_body(CAPTURE, 100).unwrap(), b"hello world".to_vec());
    }

    /// The ZIP reader: whatever it accepts from a mutated ZIP has members
    /// whose every byte passed its CRC, and an unmutated ZIP reads back.
    #[test]
    fn zip_reading_never_panics_and_reads_back_what_was_written(
        names in proptest::collection::vec("[a-z]{1,8}(/[a-z]{1,8}){0,2}", 1..6),
        body in proptest::collection::vec(any::<u8>(), 0..300),
        how in any::<u8>(), at in any::<usize>(), len in 0usize..64, byte in any::<u8>(),
    ) {
        let mut members: Vec<(String, Vec<u8>)> = Vec::new();
        for (i, n) in names.iter().enumerate() {
            if !members.iter().any(|(m, _)| m == n) {
                members.push((n.clone(), body.iter().map(|b| b.wrapping_add(i as u8)).collect()));
            }
        }
        let file = zip::write(&members);
        prop_assert_eq!(zip::read(&file).unwrap(), members.clone());
        if let Ok(read) = zip::read(&mutate(&file, how, at, len, byte)) {
            for (name, data) in &read {
                prop_assert!(zip::safe_name(name), "{name:?}");
                prop_assert!(data.len() <= file.len() * 16 + (16 << 20));
            }
        }
    }

    /// The certificate reader and the timestamp-token reader on mutations
    /// of a real chain, and on any bytes.
    #[test]
    fn der_reading_never_panics(
        junk in proptest::collection::vec(any::<u8>(), 0..400),
        how in any::<u8>(), at in any::<usize>(), len in 0usize..32, byte in any::<u8>(),
    ) {
        let real = chain();
        let parts = x509::split_chain(real).unwrap();
        prop_assert_eq!(parts.len(), 2);
        prop_assert!(x509::summary(parts[0]).unwrap().subject.contains("CN=Fuzz CA"));
        for bytes in [junk, mutate(real, how, at, len, byte)] {
            if let Ok(certs) = x509::split_chain(&bytes) {
                for c in certs {
                    let _ = x509::summary(c);
                }
            }
            let _ = x509::summary(&bytes);
            let _ = tsa::check_reply(&bytes, b"note", None);
            let _ = tsa::check_reply(&bytes, b"note", Some(&[1; 8]));
        }
    }

    /// The signed-note and checkpoint parsers on any text.
    #[test]
    fn note_and_checkpoint_parsing_never_panics(text in "(?s).{0,400}", lines in proptest::collection::vec("[ -~\u{80}-\u{10ffff}]{0,80}", 0..8)) {
        let joined = lines.join("\n");
        for t in [text.as_str(), joined.as_str(), &format!("{joined}\n\n\u{2014} name AAAA\n")] {
            let _ = note::Note::parse(t);
            let _ = checkpoint::Body::parse(t);
        }
    }
}

/// A real bundle, made once by the binary from a ledger on loopback.
fn bundle() -> &'static (Vec<u8>, String) {
    static BUNDLE: OnceLock<(Vec<u8>, String)> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        std::thread::spawn(|| {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let s = common::Setup::new().await;
                let a = common::seed("ycpress");
                s.publish(&a, 0);
                s.write_config("0 0 * * *", &[&a.path]);
                let vkey = s.checkpoint_key("fuzz.test/log").await;
                assert!(s.cli(&["once"]).await.status.success());
                let file = s.dir.path().join("b.wacz");
                let url = s.server.url(&a.path);
                let out = s.cli(&["prove", &url, "-o", file.to_str().unwrap()]).await;
                assert!(out.status.success(), "{}", common::stderr(&out));
                (std::fs::read(&file).unwrap(), vkey)
            })
        })
        .join()
        .unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// A whole bundle, mutated: the verifier returns (never panics), and a
    /// mutation it accepts changed no member's contents (at most the
    /// container: then it says re-packed).
    #[test]
    fn a_mutated_bundle_fails_or_holds_exactly_what_was_signed(
        how in any::<u8>(), at in any::<usize>(), len in 0usize..48, byte in any::<u8>(),
    ) {
        let (real, vkey) = bundle();
        let key: note::NoteVerifier = vkey.parse().unwrap();
        let trust = newsledger::proof::bundle::Trust { log_key: &key, witnesses: &[], tsa_ca: None };
        prop_assert!(newsledger::proof::bundle::verify(real, &trust).is_ok());
        let bad = mutate(real, how, at, len, byte);
        if let Ok(v) = newsledger::proof::bundle::verify(&bad, &trust) {
            let mut got = zip::read(&bad).unwrap();
            let mut want = zip::read(real).unwrap();
            got.sort();
            want.sort();
            prop_assert!(got == want, "a mutation that changed a member was accepted");
            prop_assert!(bad == *real || v.repacked);
        }
    }
}
