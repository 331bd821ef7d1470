//! Proof costs at scale: inclusion and consistency proof generation from the
//! stored tree at 1 M entries (p50/p99), against recomputing the root from
//! every leaf (the peer: what a verifier without stored nodes does), and the
//! cost of signing a checkpoint. `cargo bench --bench proofs`; set
//! NEWSLEDGER_BENCH_ENTRIES for another size.

use std::time::Instant;

use chrono::Utc;
use newsledger::ledger::checkpoints as log;
use newsledger::ledger::{self, Kind, merkle};
use newsledger::note::Signer;
use serde_json::json;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p) as usize]
}

fn main() {
    let n: i64 = std::env::var("NEWSLEDGER_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut conn = ledger::open_writable(&path).unwrap();
    let t = Instant::now();
    let tx = conn.transaction().unwrap();
    let head = ledger::head(&tx).unwrap().unwrap().0;
    for i in head..n {
        ledger::append(
            &tx,
            Kind::Fetch,
            Some("http://127.0.0.1/a"),
            &json!({"i": i}),
            Utc::now(),
        )
        .unwrap();
    }
    tx.commit().unwrap();
    let build = t.elapsed().as_secs_f64();
    let nodes: i64 = conn
        .query_row("SELECT COUNT(*) FROM merkle_nodes", [], |r| r.get(0))
        .unwrap();
    println!(
        "ledger of {n} entries built in {build:.1} s ({:.0} appends/s with tree upkeep); {nodes} stored nodes",
        n as f64 / build
    );

    let size = n as u64;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut inc = Vec::new();
    let mut con = Vec::new();
    for _ in 0..2000 {
        let seq = 1 + (next() % size) as i64;
        let t = Instant::now();
        let p = log::inclusion(&conn, seq, size).unwrap();
        inc.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(!p.is_empty());
        let m = 1 + next() % (size - 1);
        let t = Instant::now();
        log::consistency(&conn, m, size).unwrap();
        con.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "inclusion proof at size {size}: p50 {:.3} ms, p99 {:.3} ms",
        pct(&mut inc, 0.5),
        pct(&mut inc, 0.99)
    );
    println!(
        "consistency proof to size {size}: p50 {:.3} ms, p99 {:.3} ms",
        pct(&mut con, 0.5),
        pct(&mut con, 0.99)
    );
    let t = Instant::now();
    let stored_root = log::root(&conn, size).unwrap();
    let from_nodes = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let mut b = merkle::store::Builder::default();
    let mut stmt = conn
        .prepare("SELECT entry_hash FROM ledger ORDER BY seq")
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        let h: Vec<u8> = r.get(0).unwrap();
        b.push(h.try_into().unwrap(), |_, _, _| {});
    }
    let peer = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(b.root(), stored_root);
    println!(
        "root at size {size}: {from_nodes:.3} ms from stored nodes vs {peer:.0} ms from every leaf (peer): {:.0}x",
        peer / from_nodes.max(1e-6)
    );
    drop(rows);
    drop(stmt);
    let signer = Signer::generate("bench.example/ledger").unwrap();
    let mut cost = Vec::new();
    for i in 0..50 {
        let tx = conn.transaction().unwrap();
        for j in 0..100 {
            ledger::append(
                &tx,
                Kind::Fetch,
                Some("http://127.0.0.1/b"),
                &json!({"i": i, "j": j}),
                Utc::now(),
            )
            .unwrap();
        }
        let t = Instant::now();
        let made =
            log::make_checkpoint(&tx, &signer, "bench.example/ledger", None, Utc::now()).unwrap();
        cost.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(made.is_some());
        tx.commit().unwrap();
    }
    println!(
        "checkpoint per cycle (root, consistency check with the previous one, Ed25519 signature, entry): p50 {:.3} ms, p99 {:.3} ms",
        pct(&mut cost, 0.5),
        pct(&mut cost, 0.99)
    );
}
