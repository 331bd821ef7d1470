//! The storage contract on PostgreSQL: the same columns and bytes as the
//! SQLite ledger (the payload in `payload_json` for JSON entries and in
//! `payload_bytes` for compact ones), appends serialized by one sequencer
//! row taken `FOR UPDATE` (as Tessera's database backends and Sunlight's
//! lock backend do), both tables append-only by trigger. The schema is
//! `migrations/postgres/`.
//!
//! The client is the synchronous one: call it from a thread of its own,
//! never from an async task.

use postgres::{Client, NoTls};

use super::{
    Payload, RawBlob, RawEntry, Result, Storage, StorageError, check_batch, hash_of, postgres_error,
};
use crate::ledger::merkle::Hash;

const SCHEMA: &str = include_str!("../../../migrations/postgres/0001_contract.sql");
/// The work that processes recording into one database share (leases, the
/// hosts' pace): made with the schema, and in a database made before it.
const WORK: &str = include_str!("../../../migrations/postgres/0002_work.sql");
/// The ledger's identity and the TRUNCATE triggers, made with the schema
/// and in a database made before them.
const IDENTITY: &str = include_str!("../../../migrations/postgres/0003_identity.sql");

pub struct PgStorage {
    client: Client,
    /// The URL without its password.
    at: String,
    /// This connection's server process (ended by the next connection
    /// after this one was lost: see [`PgStorage::end_backend`]).
    pid: i32,
    /// Leases the next append ends, in its own transaction.
    end_leases: Option<EndLeases>,
}

/// The sequencer's head beside what the ledger table holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequencerAndRows {
    pub head: Option<(i64, Hash)>,
    /// Rows in the ledger table.
    pub rows: i64,
    /// The hash of the row with the highest seq.
    pub last: Option<Hash>,
}

/// A batch of entries, column by column (for `UNNEST`).
#[derive(Default)]
struct EntryColumns {
    seq: Vec<i64>,
    recorded_at: Vec<String>,
    kind: Vec<String>,
    url: Vec<Option<String>>,
    json: Vec<Option<String>>,
    bytes: Vec<Option<Vec<u8>>>,
    prev: Vec<Vec<u8>>,
    hash: Vec<Vec<u8>>,
    ref_seq: Vec<Option<i64>>,
}

/// The leases of the URLs a writer's group fetched (`0002_work.sql`): ended
/// by the append that records them, so that no worker takes over a URL
/// whose fetch is already in the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndLeases {
    pub urls: Vec<String>,
    pub vantage: String,
    pub holder: String,
}

/// Session settings every newsledger connection runs with, after the URL's
/// own `options`: no statement waits forever (a sequencer lock held by a
/// stopped worker ends in an error the writer retries), a session idle in
/// a transaction is ended by the server, and a dead client is noticed.
fn session_options(existing: Option<&str>) -> String {
    let ours = "-c statement_timeout=120s -c lock_timeout=30s -c idle_in_transaction_session_timeout=60s -c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3";
    match existing.map(str::trim).filter(|o| !o.is_empty()) {
        Some(o) => format!("{ours} {o}"),
        None => ours.to_string(),
    }
}

/// How every newsledger connection to the database at `url` is made (the
/// writer's and readers' synchronous ones, the workers' asynchronous one):
/// the password from `PGPASSWORD` when the URL has none (it may stay off
/// the command line and `ps`), [`session_options`], a connect timeout and
/// TCP keepalives. With the URL as it may be printed.
pub fn client_config(url: &str) -> Result<(tokio_postgres::Config, String)> {
    let at = redact(url);
    let mut config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| {
        StorageError::Usage(format!("{at}: not a PostgreSQL URL: {e}"))
    })?;
    if config.get_password().is_none()
        && let Ok(p) = std::env::var("PGPASSWORD")
    {
        config.password(p);
    }
    let options = session_options(config.get_options());
    config
        .options(&options)
        .connect_timeout(std::time::Duration::from_secs(10))
        .keepalives(true)
        .keepalives_idle(std::time::Duration::from_secs(30));
    Ok((config, at))
}

/// A URL as it may be printed: the password, if any, replaced (in the
/// user part, up to the last `@`, and as a `password=` parameter).
pub fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    // The authority ends at the first `/` after the last `@` (a password
    // may hold `@` and `/`).
    let rest = match rest.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => format!("{user}@{host}"),
        },
        None => rest.to_string(),
    };
    let mut out = match scheme {
        Some(s) => format!("{s}://{rest}"),
        None => rest,
    };
    // `?password=…`, `&password=…`, libpq's `password=…`.
    let lower = out.to_ascii_lowercase();
    if let Some(at) = lower.find("password=") {
        let end = out[at..].find(['&', ' ']).map_or(out.len(), |e| at + e);
        out.replace_range(at + "password=".len()..end, "***");
    }
    out
}

impl PgStorage {
    fn config(url: &str) -> Result<(postgres::Config, String)> {
        client_config(url).map(|(c, at)| (postgres::Config::from(c), at))
    }

    /// The storage on a connection made, with its server process's id.
    fn on(mut client: Client, at: String) -> Result<PgStorage> {
        let pid = client
            .query_one("SELECT pg_backend_pid()", &[])
            .map_err(|e| postgres_error(&at, &e))?
            .get(0);
        Ok(PgStorage {
            client,
            at,
            pid,
            end_leases: None,
        })
    }

    /// This connection's server process id.
    pub fn backend_pid(&self) -> i32 {
        self.pid
    }

    /// Ends a server process of an earlier connection of ours, and waits
    /// until it is gone: a push whose answer was lost has then either
    /// committed or rolled back (and holds no lock), so that looking for
    /// its entries gives the final answer.
    pub fn end_backend(&mut self, pid: i32) {
        let _ = self
            .client
            .query_one("SELECT pg_terminate_backend($1)", &[&pid]);
        for _ in 0..100 {
            let alive = self
                .client
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                    &[&pid],
                )
                .map(|r| r.get::<_, i64>(0) > 0)
                .unwrap_or(false);
            if !alive {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Connects (no TLS: a database on loopback or a private network) to a
    /// database to copy into, and makes the schema if it is missing (under
    /// an advisory lock: two processes connecting at once do not race).
    pub fn connect(url: &str) -> Result<PgStorage> {
        let (config, at) = Self::config(url)?;
        let mut client = config.connect(NoTls).map_err(|e| postgres_error(&at, &e))?;
        let pg = |e: postgres::Error| postgres_error(&at, &e);
        let mut tx = client.transaction().map_err(pg)?;
        // The schema's `IF NOT EXISTS` notices are not news.
        tx.batch_execute(
            "SET LOCAL client_min_messages = warning; SELECT pg_advisory_xact_lock(7437001)",
        )
        .map_err(pg)?;
        let made: bool = tx
            .query_one("SELECT to_regclass('sequencer') IS NOT NULL AND to_regclass('migration') IS NOT NULL", &[])
            .map_err(pg)?
            .get(0);
        if !made {
            tx.batch_execute(SCHEMA).map_err(pg)?;
        }
        tx.batch_execute(WORK).map_err(pg)?;
        tx.batch_execute(IDENTITY).map_err(pg)?;
        tx.commit().map_err(pg)?;
        PgStorage::on(client, at)
    }

    /// Connects to a database that holds a ledger, to read it: nothing is
    /// created or changed in it.
    pub fn open_existing(url: &str) -> Result<PgStorage> {
        let (config, at) = Self::config(url)?;
        let mut client = config.connect(NoTls).map_err(|e| postgres_error(&at, &e))?;
        let made: bool = client
            .query_one("SELECT to_regclass('sequencer') IS NOT NULL AND to_regclass('ledger') IS NOT NULL AND to_regclass('blobs') IS NOT NULL", &[])
            .map_err(|e| postgres_error(&at, &e))?
            .get(0);
        if !made {
            return Err(StorageError::Usage(format!(
                "{at} holds no newsledger ledger (no ledger, blobs and sequencer tables)"
            )));
        }
        PgStorage::on(client, at)
    }

    /// The sequencer's head, the number of rows in the ledger table and the
    /// hash of the last of them (for `verify`: they must agree).
    pub fn sequencer_and_rows(&mut self) -> Result<SequencerAndRows> {
        let pg = self.pg();
        let row = self
            .client
            .query_one(
                "SELECT s.head_seq, s.head_hash, (SELECT COUNT(*) FROM ledger),
                        (SELECT entry_hash FROM ledger ORDER BY seq DESC LIMIT 1)
                   FROM sequencer s WHERE s.id = 1",
                &[],
            )
            .map_err(pg)?;
        let head = head_of(&row, &self.at)?;
        let last: Option<Vec<u8>> = row.get(3);
        let last = last
            .map(|h| hash_of(&h, &self.at, "entry hash"))
            .transpose()?;
        Ok(SequencerAndRows {
            head,
            rows: row.get(2),
            last,
        })
    }

    /// The id of the ledger this database holds (`None` for a database
    /// made before ids were).
    pub fn ledger_id(&mut self) -> Result<Option<String>> {
        let pg = self.pg();
        let made: bool = self
            .client
            .query_one("SELECT to_regclass('ledger_identity') IS NOT NULL", &[])
            .map_err(&pg)?
            .get(0);
        if !made {
            return Ok(None);
        }
        Ok(self
            .client
            .query_opt("SELECT ledger_id FROM ledger_identity WHERE id = 1", &[])
            .map_err(&pg)?
            .map(|r| r.get(0)))
    }

    /// Ends these leases in the next append's transaction.
    pub fn end_leases_on_next_append(&mut self, end: EndLeases) {
        self.end_leases = Some(end);
    }

    fn pg(&self) -> impl Fn(postgres::Error) -> StorageError + use<> {
        let at = self.at.clone();
        move |e| postgres_error(&at, &e)
    }
}

fn head_of(row: &postgres::Row, at: &str) -> Result<Option<(i64, Hash)>> {
    let seq: i64 = row.get(0);
    let hash: Vec<u8> = row.get(1);
    (seq > 0)
        .then(|| hash_of(&hash, at, "head hash").map(|h| (seq, h)))
        .transpose()
}

impl Storage for PgStorage {
    fn describe(&self) -> String {
        self.at.clone()
    }

    fn head(&mut self) -> Result<Option<(i64, Hash)>> {
        let pg = self.pg();
        let row = self
            .client
            .query_one(
                "SELECT head_seq, head_hash FROM sequencer WHERE id = 1",
                &[],
            )
            .map_err(pg)?;
        head_of(&row, &self.at)
    }

    fn append(&mut self, entries: &[RawEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let pg = self.pg();
        let at = self.at.clone();
        let end = self.end_leases.take();
        let mut tx = self.client.transaction().map_err(&pg)?;
        // The sequencer's row, locked until the commit: appends from every
        // process that shares the database take their turn here.
        let row = tx
            .query_one(
                "SELECT head_seq, head_hash FROM sequencer WHERE id = 1 FOR UPDATE",
                &[],
            )
            .map_err(&pg)?;
        let head = head_of(&row, &at)?;
        let Some((new_seq, new_hash)) = check_batch(&at, head, entries)? else {
            return Ok(());
        };
        // One statement for the batch (one round trip, not one per entry).
        let mut cols = EntryColumns::default();
        for e in entries {
            let (json, bytes) = match &e.payload {
                Payload::Json(t) => (Some(t.clone()), None),
                Payload::Compact(b) => (None, Some(b.clone())),
            };
            cols.seq.push(e.seq);
            cols.recorded_at.push(e.recorded_at.clone());
            cols.kind.push(e.kind.clone());
            cols.url.push(e.url.clone());
            cols.json.push(json);
            cols.bytes.push(bytes);
            cols.prev.push(e.prev_hash.to_vec());
            cols.hash.push(e.entry_hash.to_vec());
            cols.ref_seq.push(e.ref_seq);
        }
        tx.execute(
            "INSERT INTO ledger (seq, recorded_at, kind, url, payload_json, payload_bytes, prev_hash, entry_hash, ref_seq)
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                                  $6::bytea[], $7::bytea[], $8::bytea[], $9::bigint[])",
            &[
                &cols.seq,
                &cols.recorded_at,
                &cols.kind,
                &cols.url,
                &cols.json,
                &cols.bytes,
                &cols.prev,
                &cols.hash,
                &cols.ref_seq,
            ],
        )
        .map_err(&pg)?;
        tx.execute(
            "UPDATE sequencer SET head_seq = $1, head_hash = $2 WHERE id = 1",
            &[&new_seq, &new_hash.as_slice()],
        )
        .map_err(&pg)?;
        if let Some(end) = end.filter(|e| !e.urls.is_empty()) {
            tx.execute(
                "UPDATE leases SET done_at = clock_timestamp(), until = clock_timestamp()
                  WHERE url = ANY($1) AND vantage = $2 AND holder = $3",
                &[&end.urls, &end.vantage, &end.holder],
            )
            .map_err(&pg)?;
        }
        tx.commit().map_err(&pg)
    }

    fn entries(&mut self, from: i64, limit: usize) -> Result<Vec<RawEntry>> {
        let pg = self.pg();
        let rows = self
            .client
            .query(
                "SELECT seq, recorded_at, kind, url, payload_json, payload_bytes, prev_hash, entry_hash, ref_seq
                 FROM ledger WHERE seq >= $1 ORDER BY seq LIMIT $2",
                &[&from, &(limit as i64)],
            )
            .map_err(pg)?;
        rows.iter()
            .map(|r| {
                let json: Option<String> = r.get(4);
                let bytes: Option<Vec<u8>> = r.get(5);
                let prev: Vec<u8> = r.get(6);
                let hash: Vec<u8> = r.get(7);
                Ok(RawEntry {
                    seq: r.get(0),
                    recorded_at: r.get(1),
                    kind: r.get(2),
                    url: r.get(3),
                    payload: match (json, bytes) {
                        (Some(t), _) => Payload::Json(t),
                        (None, b) => Payload::Compact(b.unwrap_or_default()),
                    },
                    prev_hash: hash_of(&prev, &self.at, "prev_hash")?,
                    entry_hash: hash_of(&hash, &self.at, "entry_hash")?,
                    ref_seq: r.get(8),
                })
            })
            .collect()
    }

    fn identity(&mut self) -> Result<Option<String>> {
        self.ledger_id()
    }

    fn take_identity(&mut self, id: &str) -> Result<()> {
        let pg = self.pg();
        self.client
            .execute(
                "UPDATE ledger_identity SET ledger_id = $1 WHERE id = 1",
                &[&id],
            )
            .map_err(pg)?;
        Ok(())
    }

    fn put_blobs(&mut self, blobs: &[RawBlob]) -> Result<()> {
        if blobs.is_empty() {
            return Ok(());
        }
        let pg = self.pg();
        let mut tx = self.client.transaction().map_err(&pg)?;
        let hash: Vec<&[u8]> = blobs.iter().map(|b| b.hash.as_slice()).collect();
        let codec: Vec<&str> = blobs.iter().map(|b| b.codec.as_str()).collect();
        let size: Vec<i64> = blobs.iter().map(|b| b.size).collect();
        let data: Vec<&[u8]> = blobs.iter().map(|b| b.data.as_slice()).collect();
        let base: Vec<Option<&[u8]>> = blobs
            .iter()
            .map(|b| b.base.as_ref().map(|h| h.as_slice()))
            .collect();
        tx.execute(
            "INSERT INTO blobs (hash, codec, size, data, base)
             SELECT * FROM UNNEST($1::bytea[], $2::text[], $3::bigint[], $4::bytea[], $5::bytea[])
             ON CONFLICT (hash) DO NOTHING",
            &[&hash, &codec, &size, &data, &base],
        )
        .map_err(&pg)?;
        tx.commit().map_err(&pg)
    }

    fn blobs_after(&mut self, after: Option<Hash>, limit: usize) -> Result<Vec<RawBlob>> {
        let pg = self.pg();
        let after = after.map_or(Vec::new(), |h| h.to_vec());
        let rows = self
            .client
            .query(
                "SELECT hash, codec, size, data, base FROM blobs WHERE hash > $1 ORDER BY hash LIMIT $2",
                &[&after, &(limit as i64)],
            )
            .map_err(pg)?;
        rows.iter().map(|r| blob_of(r, &self.at)).collect()
    }

    fn blob(&mut self, hash: &Hash) -> Result<Option<RawBlob>> {
        let pg = self.pg();
        let row = self
            .client
            .query_opt(
                "SELECT hash, codec, size, data, base FROM blobs WHERE hash = $1",
                &[&hash.as_slice()],
            )
            .map_err(pg)?;
        row.map(|r| blob_of(&r, &self.at)).transpose()
    }

    fn is_empty(&mut self) -> Result<bool> {
        let pg = self.pg();
        let row = self
            .client
            .query_one(
                "SELECT NOT EXISTS (SELECT 1 FROM ledger) AND NOT EXISTS (SELECT 1 FROM blobs)
                        AND (SELECT head_seq FROM sequencer WHERE id = 1) = 0",
                &[],
            )
            .map_err(pg)?;
        Ok(row.get(0))
    }

    fn interrupted_copy(&mut self) -> Result<Option<String>> {
        let pg = self.pg();
        let row = self
            .client
            .query_opt("SELECT source, started_at FROM migration WHERE id = 1", &[])
            .map_err(pg)?;
        Ok(row.map(|r| {
            let (source, at): (String, String) = (r.get(0), r.get(1));
            format!("a copy of {source} begun at {at}")
        }))
    }

    fn begin_copy(&mut self, from: &str) -> Result<()> {
        let pg = self.pg();
        let now = crate::ledger::timestamp(chrono::Utc::now());
        self.client
            .execute(
                "INSERT INTO migration (id, source, started_at) VALUES (1, $1, $2)",
                &[&from, &now],
            )
            .map_err(pg)?;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        let pg = self.pg();
        self.client
            .execute("DELETE FROM migration WHERE id = 1", &[])
            .map_err(pg)?;
        Ok(())
    }
}

fn blob_of(r: &postgres::Row, at: &str) -> Result<RawBlob> {
    let hash: Vec<u8> = r.get(0);
    let base: Option<Vec<u8>> = r.get(4);
    Ok(RawBlob {
        hash: hash_of(&hash, at, "blob hash")?,
        codec: r.get(1),
        size: r.get(2),
        data: r.get(3),
        base: base.map(|b| hash_of(&b, at, "blob base")).transpose()?,
    })
}
