//! Where the ledger is: `--db` (a SQLite path or a `postgres://` URL),
//! else the configuration's `[ledger]`. Every command finds its ledger
//! here; a PostgreSQL ledger is read through a replica brought up to its
//! head first ([`crate::ledger::storage::replica`]), so every read command,
//! `verify`, `serve` and `prove` read what PostgreSQL holds, checked.

use std::path::{Path, PathBuf};

use super::{Cli, Failure};
use crate::config::{self, Config};
use crate::ledger::storage::{self, StorageError, replica};

/// A ledger's location.
#[derive(Debug, Clone)]
pub(super) enum Location {
    Sqlite(PathBuf),
    /// A PostgreSQL ledger, and the SQLite replica this process works on.
    Shared {
        url: String,
        replica: PathBuf,
    },
}

/// `--db` laid over a configuration: a path replaces `ledger.path` (and
/// makes the ledger a SQLite one); a URL replaces `ledger.url`, with the
/// configuration's replica path when it names the same database.
pub(super) fn apply_db(db: Option<&Path>, cfg: &mut Config) -> Result<(), Failure> {
    let Some(db) = db else { return Ok(()) };
    match db_url(db) {
        Some(url) => {
            if cfg.ledger_url.as_deref() != Some(url.as_str()) {
                cfg.ledger_path = replica::default_path(&url).map_err(failure)?;
            }
            cfg.ledger_url = Some(url);
        }
        None => {
            cfg.ledger_path = db.to_path_buf();
            cfg.ledger_url = None;
        }
    }
    Ok(())
}

fn db_url(db: &Path) -> Option<String> {
    let s = db.to_string_lossy();
    storage::is_postgres(&s).then(|| s.into_owned())
}

/// The ledger a command uses.
pub(super) fn location(cli: &Cli) -> Result<Location, Failure> {
    let cfg = match &cli.db {
        // A path needs no configuration; a URL takes the configuration's
        // replica path when there is one for it.
        Some(db) if db_url(db).is_none() => return Ok(Location::Sqlite(db.clone())),
        Some(db) => {
            let path = cli.config.clone().unwrap_or_else(config::default_path);
            let mut cfg = Config::load(&path).ok();
            if let Some(c) = cfg.as_mut() {
                apply_db(Some(db), c)?;
            }
            match cfg {
                Some(c) => c,
                None => {
                    let url = db.to_string_lossy().into_owned();
                    let replica = replica::default_path(&url).map_err(failure)?;
                    return Ok(Location::Shared { url, replica });
                }
            }
        }
        None => super::load_config(cli).map_err(|f| {
            Failure::usage(format!(
                "{} (or pass --db PATH or --db postgres://…)",
                f.message
            ))
        })?,
    };
    Ok(match cfg.ledger_url {
        Some(url) => Location::Shared {
            url,
            replica: cfg.ledger_path,
        },
        None => Location::Sqlite(cfg.ledger_path),
    })
}

/// The SQLite file a command reads: the ledger, or a replica brought up to
/// its PostgreSQL ledger's head.
pub(super) fn ledger_path(cli: &Cli) -> Result<PathBuf, Failure> {
    resolve(cli).map(|(_, path)| path)
}

/// Where the ledger is, and the SQLite file to read. A replica a running
/// writer holds is brought up to PostgreSQL's head by that writer only
/// when it appends; a reader on the same machine then reads a replica of
/// its own (in the cache directory), brought up to the head now.
pub(super) fn resolve(cli: &Cli) -> Result<(Location, PathBuf), Failure> {
    let at = location(cli)?;
    let path = match &at {
        Location::Sqlite(p) => p.clone(),
        Location::Shared { url, replica } => {
            let cache = replica::default_path(url).map_err(failure)?;
            let followed = match *replica == cache {
                true => follow_cache(url, &cache)?,
                false => follow(url, replica)?,
            };
            match followed {
                Some(_) => replica.clone(),
                None if cache != *replica && follow_cache(url, &cache)?.is_some() => cache,
                None => replica.clone(),
            }
        }
    };
    Ok((at, path))
}

/// Runs `f` on a thread of its own: the PostgreSQL client runs a runtime
/// of its own, which cannot start inside the command's.
pub(super) fn off_runtime<T: Send>(what: &str, f: impl FnOnce() -> T + Send) -> Result<T, Failure> {
    std::thread::scope(|s| {
        s.spawn(f)
            .join()
            .map_err(|_| Failure::runtime(format!("{what}: the thread panicked")))
    })
}

/// Brings a replica up to PostgreSQL's head.
pub(super) fn follow(url: &str, replica: &Path) -> Result<Option<replica::Reconciled>, Failure> {
    off_runtime("following the PostgreSQL ledger", || {
        replica::follow(url, replica)
    })?
    .map_err(failure)
}

/// [`follow`] into a replica of the cache directory: one that follows
/// another ledger (the database was dropped and made again) is nothing but a
/// cache, and is made again. (A configured replica is never removed, and a
/// fork is evidence: refused, kept.)
fn follow_cache(url: &str, cache: &Path) -> Result<Option<replica::Reconciled>, Failure> {
    match off_runtime("following the PostgreSQL ledger", || {
        replica::follow(url, cache)
    })? {
        Err(StorageError::OtherLedger { .. }) => {
            tracing::warn!(replica = %cache.display(), "the database holds another ledger than this cached replica followed: making the replica again");
            for suffix in [
                "",
                "-wal",
                "-shm",
                ".shared-id",
                ".search",
                ".verified",
                ".lock",
            ] {
                let _ = std::fs::remove_file(format!("{}{suffix}", cache.display()));
            }
            follow(url, cache)
        }
        other => other.map_err(failure),
    }
}

/// A storage error as the command's failure: a record that cannot be
/// trusted is 1 (as `verify` finding a problem), bad input 2, else 3.
pub(super) fn failure(e: StorageError) -> Failure {
    match e {
        StorageError::Fork { .. }
        | StorageError::OtherLedger { .. }
        | StorageError::SharedBehind { .. }
        | StorageError::Differ { .. }
        | StorageError::Chain { .. } => Failure {
            code: 1,
            message: e.to_string(),
        },
        StorageError::Usage(_) | StorageError::NotEmpty { .. } | StorageError::Partial { .. } => {
            Failure::usage(e.to_string())
        }
        other => Failure::runtime(other),
    }
}
