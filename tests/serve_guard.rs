//! `serve` against a hostile page in the operator's browser and a careless
//! deployment: DNS rebinding (another Host), a Host reflected into links,
//! blank tokens, a token left in the address bar, `bearer` in lower case.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::Setup;

/// One raw request with the Host (and other headers) given; the answer's
/// status line, headers and body as text.
fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

fn status(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

async fn start(
    s: &Setup,
    token: Option<&str>,
    public: &[&str],
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let settings = newsledger::web::Settings {
        listen,
        ledger: s.db.clone(),
        token: token.map(str::to_string),
        public_names: public.iter().map(|p| p.to_string()).collect(),
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(newsledger::web::serve(settings, async {
        let _ = rx.await;
    }));
    for _ in 0..100 {
        if TcpStream::connect(listen).is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    (listen, tx)
}

async fn ledger() -> Setup {
    let s = Setup::new().await;
    let a = common::seed("ycpress");
    s.publish(&a, 0);
    s.write_config("0 0 * * *", &[&a.path]);
    assert!(s.cli(&["once"]).await.status.success());
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_loopback_names_and_public_names_are_answered() {
    let s = ledger().await;
    let (addr, _stop) = start(&s, None, &["https://desk.example"]).await;
    let port = addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "localhost".to_string(),
        format!("[::1]:{port}"),
        "desk.example".to_string(),
    ] {
        let a = get(addr, "/", &[("Host", &host)]);
        assert_eq!(status(&a), 200, "Host: {host}\n{a}");
    }
    for host in [
        format!("rebound.evil.example:{port}"),
        "evil.example".to_string(),
        "127.0.0.1.evil.example".to_string(),
    ] {
        let a = get(addr, "/", &[("Host", &host)]);
        assert_eq!(status(&a), 421, "Host: {host}\n{a}");
    }
    let none = get(addr, "/", &[]);
    assert_eq!(status(&none), 421, "no Host at all");
    // The feed's links come from the public name, never from a Host.
    let feed = get(addr, "/feed.atom", &[("Host", "localhost")]);
    assert_eq!(status(&feed), 200, "{feed}");
    assert!(
        feed.contains("href=\"https://desk.example/feed.atom\""),
        "{feed}"
    );
    assert!(!feed.contains("localhost/"), "{feed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_real_taken_once_and_any_bearer_spelling_works() {
    let s = ledger().await;
    let check = |t: &str| {
        newsledger::web::check(&newsledger::web::Settings {
            listen: "127.0.0.1:8080".parse().unwrap(),
            ledger: s.db.clone(),
            token: Some(t.to_string()),
            public_names: vec![],
        })
    };
    assert!(check(&" ".repeat(16)).is_err(), "sixteen spaces");
    assert!(check("abcdefgh\tijklmnop").is_err());
    assert!(check("0123456789abcdef").is_ok());
    let token = "0123456789abcdef0123";
    let (addr, _stop) = start(&s, Some(token), &[]).await;
    let host = ("Host", "localhost");
    assert_eq!(status(&get(addr, "/", &[host])), 401);
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let auth = format!("{scheme} {token}");
        let a = get(addr, "/", &[host, ("Authorization", &auth)]);
        assert_eq!(status(&a), 200, "{scheme}: {a}");
    }
    // ?token= once: a redirect to the same page without it, and a cookie.
    let a = get(addr, &format!("/articles?token={token}&q=x"), &[host]);
    assert_eq!(status(&a), 303, "{a}");
    let head = a.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
    assert!(head.contains("location: /articles?q=x\r\n"), "{head}");
    assert!(!head.contains("location: /articles?token"), "{head}");
    assert!(head.contains("set-cookie: newsledger_token="), "{head}");
    assert!(!head.contains("; secure"), "not behind HTTPS: {head}");
    let proxied = get(
        addr,
        &format!("/?token={token}"),
        &[host, ("X-Forwarded-Proto", "https")],
    );
    assert!(
        proxied.to_ascii_lowercase().contains("; secure"),
        "{proxied}"
    );
    let cookie = format!("newsledger_token={token}");
    assert_eq!(status(&get(addr, "/", &[host, ("Cookie", &cookie)])), 200);
}

/// Three hundred connections that send half a request head and stay: a
/// normal request still gets its answer at once (the oldest idle or
/// half-open connection makes room), not after their header timeouts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_cannot_lock_everyone_out() {
    let s = ledger().await;
    let (addr, _stop) = start(&s, None, &[]).await;
    let mut half = Vec::new();
    for _ in 0..300 {
        if let Ok(mut c) = TcpStream::connect(addr) {
            let _ = c.write_all(b"GET / HTTP/1.1\r\nHost: local");
            half.push(c);
        }
    }
    let t0 = std::time::Instant::now();
    let answer =
        tokio::task::spawn_blocking(move || get(addr, "/sources", &[("Host", "localhost")]))
            .await
            .unwrap();
    assert_eq!(status(&answer), 200, "{answer}");
    assert!(
        t0.elapsed() < std::time::Duration::from_millis(3500),
        "answered in {:?}",
        t0.elapsed()
    );
    drop(half);
}
