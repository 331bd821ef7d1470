//! Work shared with the other processes that record into one PostgreSQL
//! ledger (`migrations/postgres/0002_work.sql`): a lease on each URL a
//! worker fetches, so that each URL is fetched once a cycle by one of them
//! (and by another once the lease runs out, when its holder died), and the
//! pace of each host, so that politeness holds across all of them.
//!
//! None of it is evidence. When PostgreSQL cannot be reached, a worker
//! fetches without a lease and keeps its own pace only (a URL may then be
//! fetched twice, which the record shows as two fetches; nothing is lost).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::RwLock;
use tracing::warn;

use crate::config::Node;
use crate::fetch::{Admission, SharedPace};

/// Whose turn a URL is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This worker holds the lease: it fetches the URL.
    Mine,
    /// Another worker holds a live lease on it.
    Held,
    /// A worker recorded it since the cycle began.
    Done,
}

pub struct Shared {
    /// How to connect ([`crate::ledger::storage::postgres::client_config`]).
    config: tokio_postgres::Config,
    node: String,
    /// The vantage point, `""` for none: each URL is leased once per
    /// vantage point.
    vantage: String,
    lease: Duration,
    client: RwLock<Option<Arc<tokio_postgres::Client>>>,
}

/// Slots of one host are this much further apart than its interval, across
/// processes: the time between taking a slot and the request reaching the
/// server differs from one process to the next (a scheduler's delay, a new
/// connection), and the interval is a floor.
fn spacing(interval: Duration) -> Duration {
    interval + (interval / 10).min(Duration::from_millis(100))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Shared {
    pub fn new(
        url: &str,
        node: &Node,
    ) -> Result<Arc<Shared>, crate::ledger::storage::StorageError> {
        let (config, _) = crate::ledger::storage::postgres::client_config(url)?;
        Ok(Arc::new(Shared {
            config,
            node: node.name.clone(),
            vantage: node.vantage.clone().unwrap_or_default(),
            lease: node.lease,
            client: RwLock::new(None),
        }))
    }

    async fn client(&self) -> Result<Arc<tokio_postgres::Client>, tokio_postgres::Error> {
        if let Some(c) = self.client.read().await.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let mut slot = self.client.write().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let (client, connection) = self.config.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                warn!(error = %e, "the connection for leases and the hosts' pace ended");
            }
        });
        let client = Arc::new(client);
        *slot = Some(client.clone());
        Ok(client)
    }

    /// `tick` (this machine's clock) on the database's clock, which the
    /// leases' `done_at` is on: a worker whose clock is off by minutes must
    /// neither skip URLs nor fetch them twice. Unchanged when the database
    /// cannot be asked.
    pub async fn on_database_clock(&self, tick: DateTime<Utc>) -> DateTime<Utc> {
        let asked = async {
            let c = self.client().await?;
            let before = Utc::now();
            let text: String = c
                .query_one(
                    "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
                    &[],
                )
                .await?
                .get(0);
            let after = Utc::now();
            Ok::<_, tokio_postgres::Error>((text, before + (after - before) / 2))
        };
        let Ok((text, here)) = asked.await else {
            return tick;
        };
        let Ok(there) = DateTime::parse_from_rfc3339(&text) else {
            return tick;
        };
        let skew = there.with_timezone(&Utc) - here;
        if skew.num_milliseconds().abs() > 2_000 {
            warn!(
                skew_ms = skew.num_milliseconds(),
                "this machine's clock and PostgreSQL's differ: leases are kept on PostgreSQL's (keep clocks in sync with NTP)"
            );
        }
        tick + skew
    }

    /// Takes the lease on `url` for this cycle, begun at `since` (the
    /// schedule's tick: the same for every worker on that schedule).
    pub async fn claim(&self, url: &str, since: DateTime<Utc>) -> Claim {
        let since = crate::ledger::timestamp(since);
        let asked = async {
            let c = self.client().await?;
            let taken = c
                .query_opt(
                    "INSERT INTO leases (url, vantage, holder, until)
                     VALUES ($1, $2, $3, clock_timestamp() + $4::bigint * interval '1 millisecond')
                     ON CONFLICT (url, vantage) DO UPDATE
                        SET holder = EXCLUDED.holder, until = EXCLUDED.until, done_at = NULL
                      WHERE (leases.done_at IS NULL OR leases.done_at < $5::text::timestamptz)
                        AND (leases.until < clock_timestamp() OR leases.holder = EXCLUDED.holder)
                     RETURNING 1",
                    &[&url, &self.vantage, &self.node, &millis(self.lease), &since],
                )
                .await?;
            if taken.is_some() {
                return Ok(Claim::Mine);
            }
            let done: bool = c
                .query_one(
                    "SELECT COALESCE(done_at >= $3::text::timestamptz, false) FROM leases
                      WHERE url = $1 AND vantage = $2",
                    &[&url, &self.vantage, &since],
                )
                .await?
                .get(0);
            Ok::<_, tokio_postgres::Error>(if done { Claim::Done } else { Claim::Held })
        };
        match asked.await {
            Ok(c) => c,
            Err(e) => {
                warn!(url, error = %e, "no lease could be taken: fetching without one");
                Claim::Mine
            }
        }
    }

    /// Extends this worker's live lease on `url` by a lease from now;
    /// `false` when it holds none any more (recorded, or lost). A database
    /// that cannot be asked now may be next time: `true`.
    async fn renew(&self, url: &str) -> bool {
        let asked = async {
            let c = self.client().await?;
            c.execute(
                "UPDATE leases SET until = clock_timestamp() + $4::bigint * interval '1 millisecond'
                  WHERE url = $1 AND vantage = $2 AND holder = $3 AND done_at IS NULL",
                &[&url, &self.vantage, &self.node, &millis(self.lease)],
            )
            .await
        };
        !matches!(asked.await, Ok(0))
    }

    /// Gives this worker's lease on `url` back, for another to take at
    /// once (its fetch was not recorded). A recorded fetch's lease ended in
    /// the transaction of the append that recorded it
    /// ([`crate::ledger::storage::postgres::EndLeases`]).
    pub async fn give_back(&self, url: &str) {
        let asked = async {
            let c = self.client().await?;
            c.execute(
                "UPDATE leases SET until = clock_timestamp()
                  WHERE url = $1 AND vantage = $2 AND holder = $3 AND done_at IS NULL",
                &[&url, &self.vantage, &self.node],
            )
            .await
        };
        if let Err(e) = asked.await {
            warn!(url, error = %e, "the lease could not be given back; it runs out by itself");
        }
    }

    /// How long to wait for the host's next slot, taken now.
    async fn take_slot(
        &self,
        host: &str,
        interval: Duration,
    ) -> Result<Duration, tokio_postgres::Error> {
        let c = self.client().await?;
        let wait: f64 = c
            .query_one(
                "INSERT INTO host_pace (host, next_at)
                 VALUES ($1, clock_timestamp() + $2::bigint * interval '1 millisecond')
                 ON CONFLICT (host) DO UPDATE
                    SET next_at = GREATEST(host_pace.next_at, clock_timestamp())
                                  + $2::bigint * interval '1 millisecond'
                 RETURNING GREATEST(EXTRACT(EPOCH FROM next_at - $2::bigint * interval '1 millisecond'
                                                   - clock_timestamp()), 0)::float8",
                &[&host, &millis(spacing(interval))],
            )
            .await?
            .get(0);
        Ok(Duration::from_secs_f64(wait.clamp(0.0, 86_400.0)))
    }
}

impl SharedPace for Shared {
    fn reserve<'a>(
        &'a self,
        host: &'a str,
        interval: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Duration> + Send + 'a>> {
        Box::pin(async move {
            match self.take_slot(host, interval).await {
                Ok(wait) => wait,
                Err(e) => {
                    warn!(host, error = %e, "the hosts' shared pace cannot be read: keeping this process's own");
                    Duration::ZERO
                }
            }
        })
    }
}

/// One URL's lease, asked when its turn at its host comes
/// ([`crate::fetch::Admission`]); what the claim said is kept for the cycle.
pub struct LeaseGate {
    shared: Arc<Shared>,
    tick: DateTime<Utc>,
    claim: std::sync::Mutex<Option<Claim>>,
    /// Set when the gate is dropped: the lease is no longer renewed.
    done: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for LeaseGate {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl LeaseGate {
    pub fn new(shared: Arc<Shared>, tick: DateTime<Utc>) -> LeaseGate {
        LeaseGate {
            shared,
            tick,
            claim: std::sync::Mutex::new(None),
            done: Arc::default(),
        }
    }

    /// What the claim said; `None` when the fetch ended before its turn.
    pub fn claim(&self) -> Option<Claim> {
        self.claim.lock().ok().and_then(|c| *c)
    }

    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Stops renewing the lease (before it is ended or given back, so that
    /// no renewal takes it again after).
    pub fn stop_renewing(&self) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Admission for LeaseGate {
    fn admit<'a>(
        &'a self,
        url: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>> {
        Box::pin(async move {
            let c = self.shared.claim(url, self.tick).await;
            if let Ok(mut slot) = self.claim.lock() {
                *slot = Some(c);
            }
            if c == Claim::Mine {
                // Renewed while the fetch, its retries and its recording
                // last: a slow fetch is not taken over by another worker.
                let (shared, done, url) = (self.shared.clone(), self.done.clone(), url.to_string());
                tokio::spawn(async move {
                    let every = shared.lease / 3;
                    loop {
                        tokio::time::sleep(every).await;
                        if done.load(std::sync::atomic::Ordering::Relaxed)
                            || !shared.renew(&url).await
                        {
                            return;
                        }
                    }
                });
            }
            c == Claim::Mine
        })
    }
}
