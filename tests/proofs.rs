//! Proof that travels: signed checkpoints, consistency with a saved
//! checkpoint, RFC 3161 timestamps from a real `openssl ts` TSA on
//! loopback, a witness on loopback, and evidence bundles checked by
//! `verify-bundle` and by tools/verify_bundle.py, byte by byte.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::{Setup, stderr, stdout};
use newsledger::ledger::checkpoints::Body;
use newsledger::note::{Note, NoteVerifier, Signer};

/// A tiny HTTP/1.1 server on 127.0.0.1: one request per connection, the
/// handler maps the body to (status, body).
fn serve(handler: impl Fn(&[u8]) -> (u16, Vec<u8>) + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let h = handler.clone();
            std::thread::spawn(move || answer(stream, &*h));
        }
    });
    format!("http://{addr}/")
}

/// Maps a request body to (status, response body).
type Handler = dyn Fn(&[u8]) -> (u16, Vec<u8>) + Send + Sync;

fn answer(mut s: TcpStream, handler: &Handler) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_end, len) = loop {
        let n = s.read(&mut chunk).unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0usize);
            break (i + 4, len);
        }
    };
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let (status, body) = handler(&buf[head_end..head_end + len]);
    let _ = write!(
        s,
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(&body);
}

/// A time-stamping authority: `openssl ts -reply` behind [`serve`].
/// Mode 0 answers properly, 1 answers garbage, 2 answers 503.
struct Tsa {
    dir: tempfile::TempDir,
    url: String,
    mode: Arc<AtomicU8>,
}

impl Tsa {
    fn start() -> Tsa {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("sh")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/tsa.sh"))
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(ok.success(), "making the test TSA (needs openssl)");
        let mode = Arc::new(AtomicU8::new(0));
        let (m, d) = (mode.clone(), dir.path().to_path_buf());
        let count = Arc::new(AtomicU64::new(0));
        let url = serve(move |query| match m.load(Ordering::SeqCst) {
            0 => {
                let n = count.fetch_add(1, Ordering::SeqCst);
                let (q, r) = (d.join(format!("q{n}.tsq")), d.join(format!("r{n}.tsr")));
                std::fs::write(&q, query).unwrap();
                let out = std::process::Command::new("openssl")
                    .args(["ts", "-reply", "-config"])
                    .arg(d.join("ts.cnf"))
                    .arg("-queryfile")
                    .arg(&q)
                    .arg("-out")
                    .arg(&r)
                    .output()
                    .unwrap();
                assert!(out.status.success());
                (200, std::fs::read(&r).unwrap())
            }
            1 => (200, b"<html>not a timestamp</html>".to_vec()),
            // Far more than any token: read no further than the cap.
            3 => (200, vec![0x30; 4 << 20]),
            _ => (503, b"down".to_vec()),
        });
        Tsa { dir, url, mode }
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }
}

/// A witness (tlog-witness add-checkpoint): checks the log's signature and
/// the consistency proof from the size it last cosigned, then cosigns.
struct Witness {
    url: String,
    vkey: String,
    received: Arc<Mutex<Vec<u64>>>,
    /// 409 answers given (the log sent an `old` size it should have known).
    conflicts: Arc<AtomicU64>,
}

fn start_witness(log_vkey: &str) -> Witness {
    let signer = Signer::generate("witness.test/w1").unwrap();
    let vkey = signer.cosigner_vkey();
    let log: NoteVerifier = log_vkey.parse().unwrap();
    let state = Arc::new(Mutex::new((0u64, newsledger::ledger::merkle::EMPTY_ROOT)));
    let received = Arc::new(Mutex::new(Vec::new()));
    let r = received.clone();
    let conflicts = Arc::new(AtomicU64::new(0));
    let c409 = conflicts.clone();
    let url = serve(move |body| {
        let text = String::from_utf8_lossy(body).to_string();
        let (head, note) = text.split_once("\n\n").unwrap();
        let mut lines = head.lines();
        let old: u64 = lines
            .next()
            .unwrap()
            .strip_prefix("old ")
            .unwrap()
            .parse()
            .unwrap();
        use base64::Engine;
        let proof: Vec<[u8; 32]> = lines
            .map(|l| {
                base64::engine::general_purpose::STANDARD
                    .decode(l)
                    .unwrap()
                    .try_into()
                    .unwrap()
            })
            .collect();
        let parsed = Note::parse(note).unwrap();
        if parsed.verify(&log).is_err() {
            return (403, b"bad signature".to_vec());
        }
        let cp = Body::parse(&parsed.text).unwrap();
        let mut st = state.lock().unwrap();
        if old != st.0 {
            c409.fetch_add(1, Ordering::SeqCst);
            return (409, format!("{}\n", st.0).into_bytes());
        }
        if newsledger::ledger::merkle::verify_consistency(old, cp.size, &st.1, &cp.root, &proof)
            .is_err()
        {
            return (422, b"inconsistent".to_vec());
        }
        *st = (cp.size, cp.root);
        r.lock().unwrap().push(cp.size);
        (
            200,
            format!("{}\n", signer.cosign(&parsed.text, 1_800_000_000)).into_bytes(),
        )
    });
    Witness {
        url,
        vkey,
        received,
        conflicts,
    }
}

/// Generates the log key; returns its verifier key.
async fn generate_key(s: &Setup) -> String {
    let key = s.dir.path().join("checkpoint.key");
    let out = common::run(
        None,
        &[
            "key",
            "generate",
            "--name",
            "news.test/ledger",
            "-o",
            key.to_str().unwrap(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = common::run(
        None,
        &[
            "key",
            "generate",
            "--name",
            "x",
            "-o",
            key.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(again.status.code(), Some(2), "a key is never overwritten");
    stdout(&out).trim().to_string()
}

fn add_proofs(s: &Setup, tsa: Option<&str>, witness: Option<&str>) {
    let mut text = std::fs::read_to_string(&s.config).unwrap();
    let base = text.split("\n[checkpoint]").next().unwrap().to_string();
    text = base;
    text.push_str(&format!(
        "\n[checkpoint]\nkey = \"{}\"\npublish = \"{}\"\n",
        s.dir.path().join("checkpoint.key").display(),
        s.dir.path().join("public").display()
    ));
    if let Some(t) = tsa {
        text.push_str(&format!("\n[timestamp]\nurl = \"{t}\"\n"));
    }
    if let Some(w) = witness {
        text.push_str(&format!("\n[[witness]]\nurl = \"{w}\"\n"));
    }
    std::fs::write(&s.config, text).unwrap();
}

fn python() -> String {
    std::env::var("NEWSLEDGER_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn py_verify(bundle: &Path, vkey: &str, ca: &Path, witness: Option<&str>) -> std::process::Output {
    let mut cmd = std::process::Command::new(python());
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tools/verify_bundle.py"
    ))
    .arg(bundle)
    .args(["--key", vkey, "--tsa-ca"])
    .arg(ca);
    if let Some(w) = witness {
        cmd.args(["--witness-key", w]);
    }
    cmd.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_timestamps_witnesses_and_bundles_prove_a_revision() {
    let s = Setup::new().await;
    let vkey = generate_key(&s).await;
    let tsa = Tsa::start();
    let witness = start_witness(&vkey);
    let a = common::seed("nordic-monitor");
    s.publish(&a, 0);
    s.write_config("0 0 * * *", &[&a.path]);
    add_proofs(&s, Some(&tsa.url), Some(&witness.url));
    let out = s.cli(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("checkpoint timestamped"),
        "{}",
        stderr(&out)
    );

    // The latest checkpoint: a signed note over the whole ledger before it.
    let cp1 = stdout(&s.cli(&["checkpoint"]).await);
    let note = Note::parse(&cp1).unwrap();
    let v: NoteVerifier = vkey.parse().unwrap();
    note.verify(&v).unwrap();
    let w: NoteVerifier = witness.vkey.parse().unwrap();
    note.verify(&w)
        .expect("the witness's cosignature is stored with it");
    let body = Body::parse(&note.text).unwrap();
    assert_eq!(body.origin, "news.test/ledger");
    assert_eq!(*witness.received.lock().unwrap(), vec![body.size]);
    let published = std::fs::read_to_string(s.dir.path().join("public/checkpoint")).unwrap();
    assert_eq!(published, cp1);
    let cp1_file = s.dir.path().join("cp1.txt");
    std::fs::write(&cp1_file, &cp1).unwrap();

    // An edit, another cycle: the ledger extends the saved checkpoint, and
    // the witness was sent a consistency proof from what it cosigned.
    common::publish_quiet_edit(&s);
    assert!(s.cli(&["once"]).await.status.success());
    let ok = s
        .cli(&[
            "verify",
            "--checkpoint",
            cp1_file.to_str().unwrap(),
            "--key",
            &vkey,
            "--full",
        ])
        .await;
    assert!(ok.status.success(), "{}{}", stdout(&ok), stderr(&ok));
    assert!(stdout(&ok).contains("extends it"), "{}", stdout(&ok));
    assert_eq!(witness.received.lock().unwrap().len(), 2);
    // A new process knew what the witness had cosigned (from the ledger).
    assert_eq!(witness.conflicts.load(Ordering::SeqCst), 0);
    // A checkpoint altered by a byte no longer carries the log's signature.
    let forged = s.dir.path().join("forged.txt");
    std::fs::write(
        &forged,
        cp1.replacen(
            &format!("\n{}\n", body.size),
            &format!("\n{}\n", body.size + 1),
            1,
        ),
    )
    .unwrap();
    let bad = s
        .cli(&[
            "verify",
            "--checkpoint",
            forged.to_str().unwrap(),
            "--key",
            &vkey,
        ])
        .await;
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));

    // Bundles: revision 1 (before the edit) and the whole history.
    let url = s.server.url(&a.path);
    let b1 = s.dir.path().join("rev1.wacz");
    let out = s
        .cli(&["prove", &url, "--rev", "1", "-o", b1.to_str().unwrap()])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let all = s.dir.path().join("all.wacz");
    assert!(
        s.cli(&["prove", &url, "-o", all.to_str().unwrap()])
            .await
            .status
            .success()
    );
    let ca = tsa.ca();
    for b in [&b1, &all] {
        let out = common::run(
            None,
            &[
                "verify-bundle",
                b.to_str().unwrap(),
                "--key",
                &vkey,
                "--witness-key",
                &witness.vkey,
                "--tsa-ca",
                ca.to_str().unwrap(),
            ],
        )
        .await;
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
        // The editor's part first: the page, when and from where, who
        // signed, timestamped and cosigned; nothing left unchecked.
        let summary = text.split("Details:").next().unwrap();
        for said in [
            "The page: http://",
            "headline: \"",
            "It begins: \"",
            "Fetched at ",
            "(address 127.0.0.1:",
            "Over plain HTTP",
            "the log's signature checked",
            "(signature checked)",
            "Cosigned by witness witness.test/w1",
        ] {
            assert!(summary.contains(said), "{said:?} missing from:\n{text}");
        }
        assert!(!text.contains("NOT CHECKED"), "{text}");
        assert!(text.contains("OK: verified, everything checked"), "{text}");
        if let Ok(keep) = std::env::var("NEWSLEDGER_KEEP_BUNDLES") {
            std::fs::create_dir_all(&keep).unwrap();
            std::fs::copy(b, Path::new(&keep).join(b.file_name().unwrap())).unwrap();
            std::fs::copy(&ca, Path::new(&keep).join("tsa-ca.pem")).unwrap();
            std::fs::write(
                Path::new(&keep).join("keys.txt"),
                format!("{vkey}\n{}\n", witness.vkey),
            )
            .unwrap();
        }
        let py = py_verify(b, &vkey, &ca, Some(&witness.vkey));
        assert_eq!(py.status.code(), Some(0), "{}{}", stdout(&py), stderr(&py));
        assert!(stdout(&py).contains("Fetched at "), "{}", stdout(&py));
    }
    // Without the TSA's CA and the witness's key: verified except what
    // NOT CHECKED lists, exit 4, in both verifiers.
    let out = common::run(
        None,
        &["verify-bundle", b1.to_str().unwrap(), "--key", &vkey],
    )
    .await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(4), "{text}{}", stderr(&out));
    let unchecked = text
        .split("NOT CHECKED:")
        .nth(1)
        .unwrap()
        .split("Details:")
        .next()
        .unwrap();
    assert!(unchecked.contains("the timestamp's signature"), "{text}");
    assert!(unchecked.contains("witness cosignature(s)"), "{text}");
    assert!(text.contains("OK, EXCEPT what NOT CHECKED lists"), "{text}");
    // --at TIME names the revision the page showed then.
    let history = s.json(&["history", &url, "--json"]).await;
    let first_seen = |rev: i64| {
        history
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["revision"] == rev)
            .unwrap()["first_seen"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for (at, rev) in [(first_seen(1), 1), (first_seen(2), 2)] {
        let f = s.dir.path().join("at.wacz");
        let out = s
            .cli(&["prove", &url, "--at", &at, "-o", f.to_str().unwrap()])
            .await;
        assert!(out.status.success(), "{}", stderr(&out));
        let members = newsledger::proof::zip::read(&std::fs::read(&f).unwrap()).unwrap();
        let proof: serde_json::Value = serde_json::from_slice(
            &members
                .iter()
                .find(|(n, _)| n == "evidence/proof.json")
                .unwrap()
                .1,
        )
        .unwrap();
        assert_eq!(proof["revision"], rev, "--at {at}");
    }
    let before = s
        .cli(&[
            "prove",
            &url,
            "--at",
            "2001-01-01T00:00:00Z",
            "-o",
            "/dev/null",
        ])
        .await;
    assert_eq!(before.status.code(), Some(2), "{}", stderr(&before));

    // Revision 1's bundle holds the text before the edit, not after.
    let bytes = std::fs::read(&b1).unwrap();
    eprintln!(
        "bundle sizes: one revision {} bytes, whole history {} bytes",
        bytes.len(),
        std::fs::metadata(&all).unwrap().len()
    );
    let members = newsledger::proof::zip::read(&bytes).unwrap();
    let texts: Vec<_> = members
        .iter()
        .filter(|(n, _)| n.starts_with("evidence/blobs/"))
        .collect();
    assert_eq!(texts.len(), 1);
    let added = newsledger::demo::site::NORDIC_ADDED_PARAGRAPH;
    assert!(!String::from_utf8_lossy(&texts[0].1).contains(&added[..40]));

    // Any changed byte fails, naming what failed: in-process over a spread
    // of positions (every header and directory byte, a sample of the rest).
    let trust_key: NoteVerifier = vkey.parse().unwrap();
    let trust = newsledger::proof::bundle::Trust {
        log_key: &trust_key,
        witnesses: &[],
        tsa_ca: None,
    };
    newsledger::proof::bundle::verify(&bytes, &trust).unwrap();
    let n = bytes.len();
    let positions: Vec<usize> = (0..n)
        .filter(|i| i % 53 == 0 || *i < 200 || *i + 600 > n)
        .collect();
    for &i in &positions {
        let mut bad = bytes.clone();
        bad[i] ^= 0x20;
        // A changed byte fails, or (a container byte no member's contents
        // depend on) is reported as a re-packed container: never plain OK.
        match newsledger::proof::bundle::verify(&bad, &trust) {
            Err(_) => {}
            Ok(v) => assert!(
                v.repacked && v.exit_code() == 5,
                "byte {i} of {n} changed and the bundle still verified"
            ),
        }
    }
    // ... and through both command-line verifiers, for bytes in the
    // capture, the proof file and the timestamp.
    for name in [
        "archive/data.warc.gz",
        "evidence/proof.json",
        "evidence/timestamp.tsr",
    ] {
        let at = memchr_find(&bytes, name.as_bytes()) + name.len() + 40;
        let mut bad = bytes.clone();
        bad[at] ^= 0x01;
        let f = s.dir.path().join("bad.wacz");
        std::fs::write(&f, &bad).unwrap();
        let out = common::run(
            None,
            &["verify-bundle", f.to_str().unwrap(), "--key", &vkey],
        )
        .await;
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stdout(&out));
        assert!(stderr(&out).contains("FAILED"), "{}", stderr(&out));
        let py = py_verify(&f, &vkey, &ca, None);
        assert_eq!(
            py.status.code(),
            Some(1),
            "{name}: {}{}",
            stdout(&py),
            stderr(&py)
        );
    }
    // Another key does not verify the bundle.
    let other = Signer::generate("news.test/ledger")
        .unwrap()
        .verifier()
        .to_string();
    let out = common::run(
        None,
        &["verify-bundle", b1.to_str().unwrap(), "--key", &other],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tsa_that_is_down_or_answers_garbage_never_stops_ingestion() {
    let s = Setup::new().await;
    let _vkey = generate_key(&s).await;
    let tsa = Tsa::start();
    let a = common::seed("ycpress");
    s.publish(&a, 0);
    s.write_config("0 0 * * *", &[&a.path]);
    let timestamp_of_latest = |s: &Setup| {
        let conn = rusqlite::Connection::open(&s.db).unwrap();
        let cp = newsledger::ledger::checkpoints::latest(&conn)
            .unwrap()
            .unwrap();
        newsledger::ledger::checkpoints::timestamp_of(&conn, cp.seq).unwrap()
    };
    // Down (nothing listens), then garbage, then 503: every cycle records.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", l.local_addr().unwrap())
    };
    add_proofs(&s, Some(&closed), None);
    let out = s.cli(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("timestamp failed"),
        "{}",
        stderr(&out)
    );
    assert!(timestamp_of_latest(&s).is_none());
    for mode in [1, 2, 3] {
        tsa.mode.store(mode, Ordering::SeqCst);
        add_proofs(&s, Some(&tsa.url), None);
        let out = s.cli(&["once"]).await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("timestamp failed"),
            "{}",
            stderr(&out)
        );
        if mode == 3 {
            assert!(
                stderr(&out).contains("the reply is longer than 262144 bytes"),
                "{}",
                stderr(&out)
            );
        }
        assert!(timestamp_of_latest(&s).is_none());
    }
    let fetches = |s: &Setup| -> i64 {
        rusqlite::Connection::open(&s.db)
            .unwrap()
            .query_row(
                "SELECT COUNT(*) FROM ledger WHERE kind = 'fetch'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(fetches(&s), 4, "every cycle fetched and recorded");
    // The TSA is back: the latest checkpoint is timestamped after the next cycle.
    tsa.mode.store(0, Ordering::SeqCst);
    let out = s.cli(&["once"]).await;
    assert!(out.status.success());
    let t = timestamp_of_latest(&s).expect("timestamped once the TSA answers");
    assert!(t.time.is_some());
    assert!(s.cli(&["verify"]).await.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_or_truncated_ledger_does_not_extend_a_saved_checkpoint() {
    let s = common::two_articles_fetched_twice().await;
    let vkey = generate_key(&s).await;
    add_proofs(&s, None, None);
    common::publish_quiet_edit(&s);
    assert!(s.cli(&["once"]).await.status.success());
    let saved = s.dir.path().join("saved.txt");
    std::fs::write(&saved, stdout(&s.cli(&["checkpoint"]).await)).unwrap();
    let check = |s: &Setup| {
        let (saved, vkey) = (saved.clone(), vkey.clone());
        let config = s.config.clone();
        async move {
            common::run(
                Some(&config),
                &[
                    "verify",
                    "--checkpoint",
                    saved.to_str().unwrap(),
                    "--key",
                    &vkey,
                ],
            )
            .await
        }
    };
    assert!(check(&s).await.status.success());
    // The history rewritten from scratch (same key, other content, longer).
    std::fs::remove_file(&s.db).unwrap();
    let _ = std::fs::remove_file(s.db.with_extension("db-wal"));
    for i in 0..4 {
        s.publish(&common::seed("nordic-monitor"), i);
        assert!(s.cli(&["once"]).await.status.success());
    }
    let out = check(&s).await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("rewritten") || stderr(&out).contains("truncated"),
        "{}",
        stderr(&out)
    );

    // Stored tree nodes are derived data: a changed node fails verify,
    // rebuild recomputes it.
    let conn = rusqlite::Connection::open(&s.db).unwrap();
    let changed = conn
        .execute(
            "UPDATE merkle_nodes SET hash = zeroblob(32) WHERE level = 4 AND idx = 0",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1, "the rewritten ledger has more than 16 entries");
    drop(conn);
    let out = s.cli(&["verify"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("merkle_nodes"), "{}", stdout(&out));
    assert!(s.cli(&["rebuild"]).await.status.success());
    assert!(s.cli(&["verify"]).await.status.success());
}

/// A witness that answers an error whose body holds terminal escapes (an
/// OSC 8 link, BEL) and a forged log line: the log shows them escaped, on
/// one line, and the cycle records as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_witness_body_cannot_write_into_the_log() {
    let s = Setup::new().await;
    let _vkey = generate_key(&s).await;
    let a = common::seed("ycpress");
    s.publish(&a, 0);
    s.write_config("0 0 * * *", &[&a.path]);
    let url = serve(|_| {
        (
            500,
            b"\x1b]8;;http://evil.example/\x07click\x1b]8;;\x07\nERROR forged: the ledger is broken".to_vec(),
        )
    });
    add_proofs(&s, None, Some(&url));
    let out = s.cli(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let log = stderr(&out);
    assert!(
        log.contains("click"),
        "the witness's answer is reported: {log}"
    );
    assert!(!log.contains('\u{1b}') && !log.contains('\u{7}'), "{log:?}");
    assert!(
        !log.lines().any(|l| l.starts_with("ERROR forged")),
        "a forged line: {log}"
    );
}

/// A TSA that takes 20 seconds to answer (past the 10 s limit) never slows
/// the daemon: a source scheduled every second keeps its pace, and SIGTERM
/// still stops the daemon at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_tsa_never_delays_the_next_cycle() {
    let s = Setup::new().await;
    let _vkey = generate_key(&s).await;
    let a = common::seed("ycpress");
    s.publish(&a, 0);
    s.write_config("* * * * * *", &[&a.path]);
    let slow = serve(|_| {
        std::thread::sleep(std::time::Duration::from_secs(20));
        (503, b"late".to_vec())
    });
    add_proofs(&s, Some(&slow), None);
    let mut child = common::spawn_run(&s.config);
    let fetches = |db: &Path| -> i64 {
        rusqlite::Connection::open(db)
            .ok()
            .and_then(|c| {
                c.query_row(
                    "SELECT COUNT(*) FROM ledger WHERE kind = 'fetch'",
                    [],
                    |r| r.get(0),
                )
                .ok()
            })
            .unwrap_or(0)
    };
    let t0 = std::time::Instant::now();
    while fetches(&s.db) < 4 && t0.elapsed() < std::time::Duration::from_secs(15) {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        fetches(&s.db) >= 4,
        "four cycles while the TSA hangs, in {:?}",
        t0.elapsed()
    );
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let stopped = tokio::time::timeout(std::time::Duration::from_secs(15), child.wait()).await;
    assert!(
        stopped.is_ok_and(|s| s.is_ok_and(|s| s.success())),
        "stopped cleanly on SIGTERM"
    );
}
