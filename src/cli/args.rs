//! The command line as clap reads it: the global options and every
//! command with its arguments and help text (what `--help` prints).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "newsledger",
    version,
    about = "Watches news articles and keeps a tamper-evident record of what they said and when"
)]
pub struct Cli {
    /// Configuration file [default: $NEWSLEDGER_CONFIG or ./newsledger.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub(super) config: Option<PathBuf>,
    /// Ledger: a SQLite path, or a postgres://USER@HOST:PORT/DB URL (password in PGPASSWORD), overriding the configuration's [ledger]
    #[arg(long, global = true, value_name = "PATH|URL")]
    pub(super) db: Option<PathBuf>,
    /// Log format on stderr
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub(super) log_format: LogFormat,
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum LogFormat {
    /// Human-readable; without timestamps under systemd (the journal adds them)
    Auto,
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum ExportFormat {
    Jsonl,
    Warc,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
    /// The daemon: every source on its schedule until SIGTERM/SIGINT
    Run,
    /// One cycle of every (or one) source, then exit
    Once {
        #[arg(long)]
        source: Option<String>,
    },
    /// A local news site that changes between cycles, and what was flagged (no config, no internet)
    Demo,
    /// Validate the configuration and print what it would watch
    CheckConfig,
    /// Print the article extracted from one page (no ledger)
    Extract {
        /// An HTML file, or an http(s) URL to fetch
        input: String,
        /// The page's URL, when INPUT is a file (resolves relative links)
        #[arg(long)]
        url: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The revisions of an article
    History {
        url: String,
        /// Spans on one page, counted from the newest (printed oldest
        /// first); 100 by default, every span with --json
        #[arg(long)]
        limit: Option<usize>,
        /// Newer spans to skip (the next page of older ones)
        #[arg(long, default_value_t = 0)]
        offset: usize,
        #[arg(long)]
        json: bool,
    },
    /// One revision's text and metadata
    Show {
        url: String,
        #[arg(long, conflicts_with = "at")]
        rev: Option<i64>,
        /// What the record says the page showed at this time (RFC 3339 or a date)
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Every watched article: title, source, status, revisions, last change
    Articles {
        #[arg(long)]
        source: Option<String>,
        /// changed, unchanged or gone
        #[arg(long, value_parser = ["changed", "unchanged", "gone"])]
        status: Option<String>,
        /// At most this many
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Skip this many first (the next page: --offset 100)
        #[arg(long, default_value_t = 0)]
        offset: usize,
        #[arg(long)]
        json: bool,
    },
    /// Articles whose text ever contained TEXT: first and last seen, and the revision that removed it
    Search {
        text: String,
        /// At most this many articles
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Skip this many first (the next page: --offset 50)
        #[arg(long, default_value_t = 0)]
        offset: usize,
        #[arg(long)]
        json: bool,
    },
    /// Word-level diff between two revisions
    Diff {
        url: String,
        #[arg(long)]
        from: Option<i64>,
        #[arg(long)]
        to: Option<i64>,
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
        /// The whole text, not only the changes with their context
        #[arg(long)]
        full: bool,
        #[arg(long)]
        json: bool,
    },
    /// Flagged changes, removals, restorations and new articles, newest first
    Changes {
        /// A duration back from now (24h, 7d) or an RFC 3339 timestamp
        #[arg(long)]
        since: Option<String>,
        /// Only these kinds (repeatable)
        #[arg(long, value_parser = ["new", "changed", "metadata", "reverted", "gone", "restored", "rebaseline"])]
        kind: Vec<String>,
        /// Only edits at least this significant (the rules: README, "How much a change matters")
        #[arg(long, value_parser = ["trivial", "minor", "substantive"])]
        significance: Option<String>,
        /// At most this many, newest first
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Skip this many first (the next page: --offset 50)
        #[arg(long, default_value_t = 0)]
        offset: usize,
        #[arg(long)]
        json: bool,
    },
    /// Per source: last cycle and counts, next run; ledger size and head
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Recompute the hash chain; exit 1 with the first bad seq if broken
    Verify {
        /// A checkpoint taken earlier that the ledger must still extend: SEQ:HEXHASH,
        /// or a signed checkpoint FILE (checked with a consistency proof)
        #[arg(long)]
        checkpoint: Option<String>,
        /// The log's verifier key (VKEY or a file holding it), for a signed checkpoint
        #[arg(long, value_name = "VKEY")]
        key: Option<String>,
        /// With a signed checkpoint: also re-walk the whole chain
        #[arg(long)]
        full: bool,
        /// Only the chain (hashes, links, checkpoint): no blob contents,
        /// derived tables or tree nodes. The fast check for very large ledgers
        #[arg(long)]
        chain_only: bool,
        /// Verify an exported JSONL file instead of the ledger database
        #[arg(long, value_name = "FILE")]
        jsonl: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Copy a ledger into an empty storage, entry by entry with its blobs, and check that both
    /// end with the same head and the same Merkle root
    Migrate {
        /// The ledger to copy: a SQLite path or postgres://USER@HOST:PORT/DB
        #[arg(long)]
        from: String,
        /// Where to copy it: a new SQLite path or an empty PostgreSQL database
        #[arg(long)]
        to: String,
    },
    /// Recompute the derived tables (articles, revisions, changes, fetch state) from the chain
    Rebuild {
        /// Rebuild even when the derived tables cite entries the ledger no longer has
        /// (the ledger was truncated: `verify --checkpoint` is the check for that)
        #[arg(long)]
        force: bool,
    },
    /// Print the latest signed checkpoint (or the head as SEQ:HEXHASH), to keep elsewhere
    Checkpoint {
        /// Print the head as SEQ:HEXHASH even when signed checkpoints exist
        #[arg(long)]
        head: bool,
        #[arg(long)]
        json: bool,
    },
    /// Signing keys for checkpoints
    Key {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// A read-only web view: changes, articles, timelines and diffs, search, sources, ledger
    Serve {
        /// Address to listen on (beyond loopback only with an access token)
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Access token (at least 16 characters) required by every request
        #[arg(long, env = "NEWSLEDGER_SERVE_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// A name the view is reached by besides loopback names (e.g.
        /// news-desk.example.org or https://news-desk.example.org behind a
        /// proxy); repeatable. Other Host headers are refused (DNS rebinding)
        #[arg(long = "public-name")]
        public_names: Vec<String>,
    },
    /// Write one self-contained HTML report of an article for an editor
    Report {
        url: String,
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Write an evidence bundle (WACZ) for one article revision, or its whole history
    Prove {
        url: String,
        #[arg(long, conflicts_with = "at")]
        rev: Option<i64>,
        /// The revision the page showed at this time (RFC 3339)
        #[arg(long)]
        at: Option<String>,
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Check an evidence bundle without the ledger; exit 1 naming what failed
    VerifyBundle {
        file: PathBuf,
        /// The log's verifier key (VKEY or a file holding it)
        #[arg(long, value_name = "VKEY")]
        key: String,
        /// A witness's cosigner key whose cosignature must be present (repeatable)
        #[arg(long, value_name = "VKEY")]
        witness_key: Vec<String>,
        /// The time-stamping authority's CA certificate (PEM), to check the token with openssl
        #[arg(long, value_name = "PEM")]
        tsa_ca: Option<PathBuf>,
    },
    /// Every entry as JSON lines (verifiable offline), or stored captures as WARC 1.1
    Export {
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Output file [default: standard output]
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// JSONL: also write every referenced blob (texts and raw captures)
        #[arg(long)]
        blobs: bool,
    },
    /// Exit 0 if every source cycled on schedule and fetches, 1 if one is overdue, failing or read weakly (for HEALTHCHECK)
    Health {
        /// How late a cycle may be before the daemon counts as stuck
        #[arg(long, default_value = "15m")]
        grace: String,
        /// How many cycles in a row may fail every fetch before the source counts as down
        #[arg(long, default_value_t = 3, value_name = "N")]
        failing_cycles: u64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum KeyAction {
    /// Create an Ed25519 signing key (file mode 0600) and print its verifier key
    Generate {
        /// The key name, by convention the checkpoint origin (e.g. example.org/newsledger)
        #[arg(long)]
        name: String,
        #[arg(long, short)]
        output: PathBuf,
    },
}
