//! Evidence exactly as received: a loopback server writes a hand-made
//! response (duplicate Set-Cookie in odd case, interleaved headers, a
//! Latin-1 byte, a chunked body with a chunk extension), and the stored
//! capture, the WARC export's response record and the bundle's capture are
//! those bytes, byte for byte; the stored request is the bytes the server
//! read. Over TLS with a throw-away CA (`[fetch] ca_file`), the entry names
//! the session and the bundle holds the chain the server presented. Forged
//! bundle members fail the verifier; a re-packed container is reported as
//! such.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use common::{stderr, stdout};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio_rustls::rustls;

/// The article's HTML, sent in two chunks.
fn article_html() -> String {
    let a = common::seed("nordic-monitor");
    newsledger::demo::site::render(
        &a,
        "http://127.0.0.1/news/article",
        &newsledger::demo::site::Chrome::visit(0),
    )
}

/// The response as the server writes it.
fn hand_made_response() -> Vec<u8> {
    let html = article_html().into_bytes();
    let (one, two) = html.split_at(html.len() / 3);
    let mut r = Vec::new();
    r.extend_from_slice(b"HTTP/1.1 200 Fine Thanks\r\nSet-Cookie: a=1; Path=/\r\nX-First: one\r\nset-COOKIE: b=2\r\ncontent-TYPE: text/html; charset=utf-8\r\nX-Latin: caf\xe9\r\nTransfer-Encoding: chunked\r\n\r\n");
    r.extend_from_slice(format!("{:x};name=value\r\n", one.len()).as_bytes());
    r.extend_from_slice(one);
    r.extend_from_slice(format!("\r\n{:X}\r\n", two.len()).as_bytes());
    r.extend_from_slice(two);
    r.extend_from_slice(b"\r\n0\r\n\r\n");
    r
}

/// Serves `response` for every path but /robots.txt (404), over plain
/// TCP or through `wrap` (TLS); keeps each request head it read.
struct RawServer {
    port: u16,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
    /// What it answers from now on.
    response: Arc<Mutex<Vec<u8>>>,
}

fn serve_connection<S: Read + Write>(
    mut s: S,
    response: &Mutex<Vec<u8>>,
    requests: &Mutex<Vec<Vec<u8>>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while memchr::memmem::find(&buf, b"\r\n\r\n").is_none() {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let end = memchr::memmem::find(&buf, b"\r\n\r\n").unwrap() + 4;
        let head: Vec<u8> = buf.drain(..end).collect();
        let robots = head.starts_with(b"GET /robots.txt ");
        requests.lock().unwrap().push(head);
        let answer: Vec<u8> = if robots {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec()
        } else {
            response.lock().unwrap().clone()
        };
        if s.write_all(&answer).and_then(|_| s.flush()).is_err() {
            return;
        }
    }
}

impl RawServer {
    fn start(response: Vec<u8>, tls: Option<Arc<rustls::ServerConfig>>) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let response = Arc::new(Mutex::new(response));
        let answer = response.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (response, seen, tls) = (answer.clone(), seen.clone(), tls.clone());
                std::thread::spawn(move || match tls {
                    None => serve_connection(conn, &response, &seen),
                    Some(cfg) => {
                        let session = rustls::ServerConnection::new(cfg).unwrap();
                        serve_connection(rustls::StreamOwned::new(session, conn), &response, &seen)
                    }
                });
            }
        });
        RawServer {
            port,
            requests,
            response,
        }
    }

    /// The request heads it read for `path`.
    fn requests_for(&self, path: &str) -> Vec<Vec<u8>> {
        let line = format!("GET {path} ");
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.starts_with(line.as_bytes()))
            .cloned()
            .collect()
    }
}

fn write_config(dir: &Path, url: &str, extra_fetch: &str) -> std::path::PathBuf {
    let config = dir.join("newsledger.toml");
    std::fs::write(
        &config,
        format!(
            "[ledger]\npath = \"{}\"\n\n[fetch]\nper_host_interval = \"0s\"\ntimeout = \"20s\"\n{extra_fetch}\n[[source]]\nname = \"wire\"\nschedule = \"0 0 * * *\"\nurls = [\"{url}\"]\n\n[checkpoint]\nkey = \"{}\"\n",
            dir.join("ledger.db").display(),
            dir.join("checkpoint.key").display()
        ),
    )
    .unwrap();
    config
}

async fn key(dir: &Path) -> String {
    let out = common::run(
        None,
        &[
            "key",
            "generate",
            "--name",
            "wire.test/log",
            "-o",
            dir.join("checkpoint.key").to_str().unwrap(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_string()
}

/// The fetch entry that recorded the article's capture.
fn capture_entry(db: &Path) -> Value {
    let conn = rusqlite::Connection::open(db).unwrap();
    let payloads: Vec<String> = conn
        .prepare("SELECT payload FROM ledger WHERE kind = 'fetch' AND payload LIKE '%raw_blob%' ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    serde_json::from_str(payloads.last().expect("a capture was kept")).unwrap()
}

fn blob(db: &Path, h: &str) -> Vec<u8> {
    let conn = rusqlite::Connection::open(db).unwrap();
    newsledger::ledger::blobs::get(&conn, h).unwrap()
}

/// The blocks of every WARC record of `kind` in a `.warc.gz`, with heads.
fn warc_records(gz: &[u8], kind: &str) -> Vec<(String, Vec<u8>)> {
    let mut all = Vec::new();
    flate2::read::MultiGzDecoder::new(gz)
        .read_to_end(&mut all)
        .unwrap();
    let mut out = Vec::new();
    let mut rest = all.as_slice();
    while !rest.is_empty() {
        let end = memchr::memmem::find(rest, b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&rest[..end]).to_string();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        let block = rest[end + 4..end + 4 + len].to_vec();
        if head.contains(&format!("WARC-Type: {kind}\r\n")) {
            out.push((head, block));
        }
        rest = &rest[end + 4 + len + 4..];
    }
    out
}

fn member<'a>(members: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &members.iter().find(|(n, _)| n == name).unwrap().1
}

/// `prove URL -o FILE` with `config`, which must succeed.
async fn prove(config: &Path, url: &str, file: &Path) {
    let out = common::run(Some(config), &["prove", url, "-o", file.to_str().unwrap()]).await;
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `verify-bundle FILE --key VKEY`: its exit code and what it printed.
async fn verify_bundle(file: &Path, vkey: &str) -> (Option<i32>, String) {
    let out = common::run(
        None,
        &["verify-bundle", file.to_str().unwrap(), "--key", vkey],
    )
    .await;
    (
        out.status.code(),
        format!("{}{}", stdout(&out), stderr(&out)),
    )
}

fn py_verify_bundle(python: &str, bundle: &Path, vkey: &str) -> std::process::Output {
    std::process::Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tools/verify_bundle.py"
        ))
        .arg(bundle)
        .args(["--key", vkey])
        .output()
        .unwrap()
}

/// `members` with `name` changed by `edit`, `datapackage.json` fixed to
/// match, written in the canonical layout (every CRC right): a forgery
/// only the rebuild of derived members can find.
fn forge(members: &[(String, Vec<u8>)], name: &str, edit: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut m = members.to_vec();
    let changed = edit(member(&m, name));
    assert_ne!(changed, member(&m, name), "{name}: the edit changes it");
    m.iter_mut().find(|(n, _)| n == name).unwrap().1 = changed;
    if name != "datapackage.json" {
        let mut dp: Value = serde_json::from_slice(member(&m, "datapackage.json")).unwrap();
        for r in dp["resources"].as_array_mut().unwrap() {
            let path = r["path"].as_str().unwrap().to_string();
            let bytes = member(&m, &path);
            r["hash"] = format!("sha256:{}", hex::encode(Sha256::digest(bytes))).into();
            r["bytes"] = bytes.len().into();
        }
        m.iter_mut()
            .find(|(n, _)| n == "datapackage.json")
            .unwrap()
            .1 = serde_json::to_vec_pretty(&dp).unwrap();
    }
    newsledger::proof::zip::write(&m)
}

fn replace(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    String::from_utf8_lossy(bytes)
        .replace(from, to)
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_capture_is_the_bytes_the_server_wrote_in_the_ledger_the_warc_and_the_bundle() {
    let response = hand_made_response();
    // An informational response first: kept beside the capture, not in it.
    let early = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n".to_vec();
    let server = RawServer::start([early.clone(), response.clone()].concat(), None);
    let dir = tempfile::tempdir().unwrap();
    let vkey = key(dir.path()).await;
    let url = format!("http://127.0.0.1:{}/news/article", server.port);
    let config = write_config(dir.path(), &url, "");
    let out = common::run(Some(&config), &["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let db = dir.path().join("ledger.db");

    // The ledger: the response and the request, byte for byte.
    let p = capture_entry(&db);
    let raw = blob(&db, p["raw_blob"].as_str().unwrap());
    assert!(
        raw == response,
        "the stored capture differs from the bytes written:\n{}",
        String::from_utf8_lossy(&raw)
    );
    let sent = server.requests_for("/news/article");
    let request = blob(&db, p["request_blob"].as_str().unwrap());
    assert_eq!(
        sent.last().unwrap(),
        &request,
        "the stored request is what the server read"
    );
    assert_eq!(p["peer_ip"], "127.0.0.1");
    assert_eq!(p["peer_port"], server.port);
    assert_eq!(blob(&db, p["interim_blob"].as_str().unwrap()), early);
    assert!(p.get("tls").is_none(), "plain HTTP has no TLS facts");

    // The WARC export: request, response (the same bytes), WARC-IP-Address.
    let warc = dir.path().join("all.warc.gz");
    let out = common::run(
        Some(&config),
        &["export", "--format", "warc", "-o", warc.to_str().unwrap()],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let gz = std::fs::read(&warc).unwrap();
    let responses = warc_records(&gz, "response");
    assert_eq!(responses.len(), 1);
    assert!(
        responses[0].1 == response,
        "the WARC response record is the bytes written"
    );
    assert!(
        responses[0].0.contains("WARC-IP-Address: 127.0.0.1\r\n"),
        "{}",
        responses[0].0
    );
    let requests = warc_records(&gz, "request");
    assert_eq!(requests[0].1, request);
    let interim = warc_records(&gz, "metadata");
    assert!(
        interim.iter().any(|(_, b)| *b == early),
        "the 103 is a metadata record"
    );

    // The bundle: the same bytes, and it verifies (no timestamp: listed).
    let bundle = dir.path().join("b.wacz");
    prove(&config, &url, &bundle).await;
    let bytes = std::fs::read(&bundle).unwrap();
    let members = newsledger::proof::zip::read(&bytes).unwrap();
    let in_bundle = warc_records(member(&members, "archive/data.warc.gz"), "response");
    assert!(
        in_bundle[0].1 == response,
        "the bundle's capture is the bytes written"
    );
    let (code, text) = verify_bundle(&bundle, &vkey).await;
    assert_eq!(code, Some(4), "{text}");
    assert!(text.contains("NOT CHECKED:\n  - no timestamp"), "{text}");
    assert!(text.contains("(address 127.0.0.1:"), "{text}");
    for want in ["index.html", "README.txt"] {
        assert!(
            members.iter().any(|(n, _)| n == want),
            "the bundle holds {want}"
        );
    }

    // Forged members with every hash and CRC fixed: both verifiers fail.
    let proof: Value = serde_json::from_slice(member(&members, "evidence/proof.json")).unwrap();
    let forgeries: Vec<(&str, Vec<u8>)> = vec![
        (
            "pages",
            forge(&members, "pages/pages.jsonl", |b| {
                replace(b, "/news/article", "/news/other")
            }),
        ),
        (
            "datapackage title",
            forge(&members, "datapackage.json", |b| {
                replace(b, "newsledger evidence for", "evidence for")
            }),
        ),
        (
            "datapackage mainPageUrl",
            forge(&members, "datapackage.json", |b| {
                replace(
                    b,
                    &format!("\"mainPageUrl\": \"{url}\""),
                    "\"mainPageUrl\": \"http://other.example/\"",
                )
            }),
        ),
        (
            "proof article_url",
            forge(&members, "evidence/proof.json", |b| {
                replace(
                    b,
                    &format!("\"article_url\": \"{url}\""),
                    "\"article_url\": \"http://other.example/\"",
                )
            }),
        ),
        (
            "index.html",
            forge(&members, "index.html", |b| {
                replace(b, "<body", "<body data-x=\"1\"")
            }),
        ),
        (
            "cdx",
            forge(&members, "indexes/index.cdx", |b| {
                replace(b, "\"status\": \"200\"", "\"status\": \"404\"")
                    .iter()
                    .copied()
                    .chain(b"x".iter().copied())
                    .collect()
            }),
        ),
    ];
    assert_eq!(proof["timestamp"], Value::Null);
    // Members a careless unzip would write outside its folder, and a
    // member twice: refused before anything else is read.
    let mut forgeries = forgeries;
    for name in [
        "../../evil.txt",
        "/tmp/evil.txt",
        "evidence/../../x",
        "a\\b",
    ] {
        let mut m = members.clone();
        m.push((name.to_string(), b"x".to_vec()));
        forgeries.push((
            "a member outside the bundle",
            newsledger::proof::zip::write(&m),
        ));
    }
    // A decompression bomb in place of the WARC: 256 MiB of zeros in one
    // gzip member of about 256 KiB; both verifiers stop at their bound.
    let bomb = {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..256 {
            gz.write_all(&zeros).unwrap();
        }
        gz.finish().unwrap()
    };
    forgeries.push((
        "a decompression bomb",
        forge(&members, "archive/data.warc.gz", |_| bomb.clone()),
    ));
    // No entries at all, and JSON nested far deeper than any reader
    // should follow: refused, cleanly, by both.
    forgeries.push((
        "no entries",
        forge(&members, "evidence/proof.json", |b| {
            let mut p: Value = serde_json::from_slice(b).unwrap();
            p["entries"] = Value::Array(vec![]);
            serde_json::to_vec_pretty(&p).unwrap()
        }),
    ));
    forgeries.push((
        "nested JSON",
        forge(&members, "evidence/proof.json", |_| {
            [vec![b'['; 100_000], vec![b']'; 100_000]].concat()
        }),
    ));
    let mut twice = members.clone();
    twice.push(twice[0].clone());
    forgeries.push(("a member twice", newsledger::proof::zip::write(&twice)));
    let py = common::python_with_warcio();
    for (what, forged) in &forgeries {
        let f = dir.path().join("forged.wacz");
        std::fs::write(&f, forged).unwrap();
        let (code, text) = verify_bundle(&f, &vkey).await;
        assert_eq!(code, Some(1), "{what}: {text}");
        assert!(text.contains("FAILED"), "{what}: {text}");
        if let Some(py) = &py {
            let out = py_verify_bundle(py, &f, &vkey);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{what} (Python): {}{}",
                stdout(&out),
                stderr(&out)
            );
        }
    }
    // The 410 behind a `gone` is captured too, and exported as received.
    let gone =
        b"HTTP/1.1 410 Gone\r\nX-Reason: withdrawn\r\nContent-Length: 5\r\n\r\ngone.".to_vec();
    *server.response.lock().unwrap() = gone.clone();
    let out = common::run(Some(&config), &["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let p = capture_entry(&db);
    assert_eq!(p["outcome"], "gone");
    assert_eq!(blob(&db, p["raw_blob"].as_str().unwrap()), gone);
    let warc_gone = dir.path().join("gone.warc.gz");
    let out = common::run(
        Some(&config),
        &[
            "export",
            "--format",
            "warc",
            "-o",
            warc_gone.to_str().unwrap(),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let responses = warc_records(&std::fs::read(&warc_gone).unwrap(), "response");
    assert!(
        responses.iter().any(|(_, b)| *b == gone),
        "the 410 is in the WARC"
    );
    // The bundle made now tells the editor the page was withdrawn.
    let withdrawn = dir.path().join("withdrawn.wacz");
    prove(&config, &url, &withdrawn).await;
    let (_, summary) = verify_bundle(&withdrawn, &vkey).await;
    assert!(
        summary.contains("Then withdrawn: at ")
            && summary.contains("the page answered HTTP 410 (gone)"),
        "{summary}"
    );
    if let Some(py) = &py {
        let out = py_verify_bundle(py, &withdrawn, &vkey);
        assert_eq!(
            out.status.code(),
            Some(4),
            "{}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(
            stdout(&out).contains("the page answered HTTP 410 (gone)"),
            "{}",
            stdout(&out)
        );
    }

    // Back online: the summary says so, never "withdrawn" alone.
    *server.response.lock().unwrap() = response.clone();
    let out = common::run(Some(&config), &["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let restored = dir.path().join("restored.wacz");
    prove(&config, &url, &restored).await;
    let (_, summary) = verify_bundle(&restored, &vkey).await;
    assert!(summary.contains("(gone); back at "), "{summary}");
    if let Some(py) = &py {
        let out = py_verify_bundle(py, &restored, &vkey);
        assert!(
            stdout(&out).contains("(gone); back at "),
            "{}",
            stdout(&out)
        );
    }

    // Re-packed with the contents intact: its own result, exit 5.
    let mut reordered = members.clone();
    reordered.reverse();
    let f = dir.path().join("repacked.wacz");
    std::fs::write(&f, newsledger::proof::zip::write(&reordered)).unwrap();
    let (code, text) = verify_bundle(&f, &vkey).await;
    assert_eq!(code, Some(5), "{text}");
    assert!(
        text.contains("CONTAINER RE-PACKED; contents verified"),
        "{text}"
    );
    assert!(!text.contains("altered"), "{text}");

    // warcio reads both WARCs and its digest check passes; cdxj-indexer
    // indexes them; the Python verifier agrees on the intact bundle and
    // on one deflated by Python's zipfile.
    if let Some(py) = &py {
        let inner = dir.path().join("bundle.warc.gz");
        std::fs::write(&inner, member(&members, "archive/data.warc.gz")).unwrap();
        for w in [&warc, &inner] {
            let out = std::process::Command::new(py)
                .args(["-m", "warcio.cli", "check", "-v"])
                .arg(w)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "warcio check {}: {}{}",
                w.display(),
                stdout(&out),
                stderr(&out)
            );
            assert!(!stdout(&out).contains("digest failed"), "{}", stdout(&out));
            let cdx = std::process::Command::new(py)
                .args(["-m", "cdxj_indexer.main"])
                .arg(w)
                .output()
                .unwrap();
            assert!(
                cdx.status.success(),
                "cdxj-indexer {}: {}",
                w.display(),
                stderr(&cdx)
            );
            assert!(stdout(&cdx).contains("/news/article"), "{}", stdout(&cdx));
        }
        let out = py_verify_bundle(py, &bundle, &vkey);
        assert_eq!(
            out.status.code(),
            Some(4),
            "{}{}",
            stdout(&out),
            stderr(&out)
        );
        let rezipped = dir.path().join("rezipped.wacz");
        let out = std::process::Command::new(py)
            .args(["-c", "import sys, zipfile\nsrc = zipfile.ZipFile(sys.argv[1])\nwith zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED) as dst:\n    for i in src.infolist():\n        dst.writestr(i.filename, src.read(i))\n"])
            .arg(&bundle)
            .arg(&rezipped)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        for run in [
            common::run(
                None,
                &["verify-bundle", rezipped.to_str().unwrap(), "--key", &vkey],
            )
            .await,
            py_verify_bundle(py, &rezipped, &vkey),
        ] {
            assert_eq!(
                run.status.code(),
                Some(5),
                "{}{}",
                stdout(&run),
                stderr(&run)
            );
        }
    }
}

/// A throw-away CA and a leaf for `localhost` and 127.0.0.1, made by openssl.
fn throwaway_ca(dir: &Path) -> (std::path::PathBuf, Vec<Vec<u8>>, std::path::PathBuf) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
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
        "/O=Throwaway Test/CN=Throwaway Root CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/O=Wire Gazette/CN=localhost",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let der = |f: &str| -> Vec<u8> {
        CertificateDer::from_pem_file(dir.join(f))
            .unwrap()
            .as_ref()
            .to_vec()
    };
    (
        dir.join("ca.pem"),
        vec![der("leaf.pem"), der("ca.pem")],
        dir.join("leaf.key"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_the_entry_names_the_session_and_the_bundle_holds_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, chain, leaf_key) = throwaway_ca(dir.path());
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        chain
            .iter()
            .map(|c| CertificateDer::from(c.clone()))
            .collect(),
        PrivateKeyDer::from_pem_file(&leaf_key).unwrap(),
    )
    .unwrap();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let response = hand_made_response();
    let server = RawServer::start(response.clone(), Some(Arc::new(cfg)));
    let vkey = key(dir.path()).await;
    let url = format!("https://localhost:{}/news/article", server.port);

    // Without the CA the server is not trusted: a failed fetch, recorded.
    let config = write_config(dir.path(), &url, "");
    let out = common::run(Some(&config), &["once"]).await;
    let conn = rusqlite::Connection::open(dir.path().join("ledger.db")).unwrap();
    let error: String = conn
        .query_row("SELECT json_extract(payload, '$.error') FROM ledger WHERE kind = 'fetch' ORDER BY seq DESC LIMIT 1", [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    assert!(error.contains("certificate"), "{error}");

    let config = write_config(
        dir.path(),
        &url,
        &format!("ca_file = \"{}\"\n", ca.display()),
    );
    let out = common::run(Some(&config), &["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let db = dir.path().join("ledger.db");
    let p = capture_entry(&db);
    assert!(
        blob(&db, p["raw_blob"].as_str().unwrap()) == response,
        "the capture over TLS is the bytes written"
    );
    let leaf_sha = hex::encode(Sha256::digest(&chain[0]));
    assert_eq!(p["tls"]["sni"], "localhost");
    assert_eq!(p["tls"]["leaf_sha256"], leaf_sha.as_str());
    assert!(
        p["tls"]["protocol"].as_str().unwrap().starts_with("TLSv1_"),
        "{p}"
    );
    assert_eq!(
        blob(&db, p["tls"]["chain_blob"].as_str().unwrap()),
        chain.concat(),
        "the chain as presented"
    );

    // The bundle holds the chain; the verifier prints the leaf's
    // fingerprint, subject and issuer.
    let bundle = dir.path().join("tls.wacz");
    prove(&config, &url, &bundle).await;
    let members = newsledger::proof::zip::read(&std::fs::read(&bundle).unwrap()).unwrap();
    assert_eq!(
        member(
            &members,
            &format!(
                "evidence/blobs/{}.der",
                p["tls"]["chain_blob"].as_str().unwrap()
            )
        ),
        chain.concat().as_slice()
    );
    let pem = warc_records(member(&members, "archive/data.warc.gz"), "metadata");
    assert!(
        pem.iter()
            .any(|(_, b)| b.starts_with(b"-----BEGIN CERTIFICATE-----")),
        "the chain in PEM"
    );
    let (code, text) = verify_bundle(&bundle, &vkey).await;
    assert_eq!(code, Some(4), "{text}");
    let want = format!(
        "Over TLS, the server's certificate: O=Wire Gazette, CN=localhost, issued by O=Throwaway Test, CN=Throwaway Root CA, SHA-256 fingerprint {leaf_sha}"
    );
    assert!(text.contains(&want), "{want:?} missing from:\n{text}");
    if let Some(py) = common::python_with_warcio() {
        let out = py_verify_bundle(&py, &bundle, &vkey);
        assert_eq!(
            out.status.code(),
            Some(4),
            "{}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(stdout(&out).contains(&leaf_sha), "{}", stdout(&out));
    }
}

/// The bundle's `index.html`, opened from disk in Chromium: the headline
/// change between two revisions is visible, and a hostile headline is
/// shown as text (its script never runs). Skipped without a browser unless
/// NEWSLEDGER_REQUIRE_BROWSER is set (CI sets it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_page_shows_the_headline_change_in_a_browser() {
    let s = common::Setup::new().await;
    let a = common::seed("nordic-monitor");
    s.publish(&a, 0);
    s.write_config("0 0 * * *", &[&a.path]);
    let vkey = s.checkpoint_key("wire.test/log").await;
    assert!(s.cli(&["once"]).await.status.success());
    let mut edited = a.clone();
    edited.title = "Harbour vote <script>window.__pwned = true</script> postponed".into();
    s.publish(&edited, 1);
    let out = s.cli(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let bundle = s.dir.path().join("history.wacz");
    let url = s.server.url(&a.path);
    prove(&s.config, &url, &bundle).await;
    let (code, text) = verify_bundle(&bundle, &vkey).await;
    assert_eq!(code, Some(4), "{text}");
    let members = newsledger::proof::zip::read(&std::fs::read(&bundle).unwrap()).unwrap();
    let page = s.dir.path().join("index.html");
    std::fs::write(&page, member(&members, "index.html")).unwrap();
    let Some(python) = common::browser_python() else {
        return;
    };
    let shot = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/target/screenshots/bundle-index.png"
    );
    let out = std::process::Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/bundle_page.py"
        ))
        .arg(&page)
        .arg(&a.title)
        .arg(&edited.title)
        .arg(shot)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    eprintln!("{}", stdout(&out).trim());
    let png = std::fs::read(shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 5000);
}
