//! `mdscan serve` configuration: a TOML file (`--config`) and flags that
//! override it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::{Arc, RwLock};

use mdcore::Limits;
use serde::{Deserialize, Serialize};

/// Settings of the engines (`[engines.*]`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct EnginesConfig {
    /// ClamAV's signature databases.
    pub(crate) clamav: ClamAvConfig,
}

/// `[engines.clamav]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ClamAvConfig {
    /// Database files or directories (`.cvd`, `.cld`, `.hdb`, `.ndb`, ...),
    /// as clamscan's `-d`; reloaded with the rules.
    pub(crate) databases: Vec<PathBuf>,
}

/// The whole configuration. Every field has a default, so an empty file (or
/// none) is a working standalone server.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Config {
    /// Address to listen on. Default: 127.0.0.1:8008 (MetaDefender Core's port).
    pub(crate) listen: SocketAddr,
    /// Where results and files live. Default: `<user data dir>/mdscan`.
    pub(crate) data_dir: Option<PathBuf>,
    /// Scans accepted but not started; past it `POST /file` answers 503.
    pub(crate) queue_size: usize,
    /// Scans run at once. Default: 2.
    pub(crate) workers: usize,
    /// mdcore threads (0: one per core).
    pub(crate) threads: usize,
    /// Built-in EICAR rule on or off.
    pub(crate) default_rules: bool,
    /// YARA rule files or directories.
    pub(crate) rules: Vec<PathBuf>,
    /// Hash block lists (`.fp`/`.sfp` are allow lists).
    pub(crate) hashes: Vec<PathBuf>,
    /// Hash allow lists.
    pub(crate) allow: Vec<PathBuf>,
    /// Engine settings (`[engines.clamav]`).
    pub(crate) engines: EnginesConfig,
    /// Vulnerability feeds (OSV records, product feeds); reloaded with the
    /// rules.
    pub(crate) vulnerability_feeds: Vec<PathBuf>,
    /// Archive passwords tried for every workflow.
    pub(crate) passwords: Vec<String>,
    /// YARA external variables for every rule (`yara_defines = { site =
    /// "lab", level = "3" }`; YARA's `-d`: `true`/`false` a boolean, a
    /// decimal an integer, else a string). LOKI's `filename`, `filepath`,
    /// `extension`, `filetype` and `owner` are always defined per object.
    pub(crate) yara_defines: std::collections::BTreeMap<String, String>,
    /// API keys accepted in the `apikey` header; each acts as an admin
    /// (keys made through the API act as their user).
    pub(crate) api_keys: Vec<String>,
    /// Users who may `POST /login`.
    pub(crate) users: Vec<User>,
    /// Lifetime of a login session, in seconds. Default: 3600.
    pub(crate) session_ttl_secs: u64,
    /// A client that sends no body bytes for this long is cut off (408).
    pub(crate) body_timeout_secs: u64,
    /// A request body (upload or login) must end within this many seconds,
    /// however steadily it arrives (408). Default: 3600.
    pub(crate) body_total_timeout_secs: u64,
    /// How long `POST /file/sync` waits before answering with the document
    /// as it is (in progress, with its data_id). Default: 600.
    pub(crate) sync_timeout_secs: u64,
    /// Below this many free bytes where uploads are kept, uploads get 503.
    /// Default: 256 MiB.
    pub(crate) min_free_disk: u64,
    /// Hosts a `callbackurl` may reach: names, addresses or CIDR blocks.
    /// Empty (the default): any host whose addresses are all public.
    pub(crate) callback_allow: Vec<String>,
    /// Listen beyond loopback with no API key and no user configured (an
    /// open server on the network). Default: false (refused at start).
    pub(crate) allow_open: bool,
    /// Connections served at once; past it a new one gets 503 and is
    /// closed. Default: 1024.
    pub(crate) max_connections: usize,
    /// How long shutdown waits for open requests. Default: 10 s.
    pub(crate) shutdown_timeout_secs: u64,
    /// How long results (reports, the hash index, batches) are kept, in
    /// seconds. Default: 7 days.
    pub(crate) retention_secs: u64,
    /// How long uploaded files are kept for download and rescans after
    /// their last upload, in seconds. Default: 7 days.
    pub(crate) file_retention_secs: u64,
    /// How long audit-log entries are kept, in seconds. Default: 90 days.
    pub(crate) audit_retention_secs: u64,
    /// How often the background sweep (retention, and in a cluster the
    /// reconciler) runs, in seconds. Default: 300.
    pub(crate) sweep_interval_secs: u64,
    /// Workflows ("rules" in the API). Default: "File scan" and
    /// "Sanitize" (the same, with sanitization on).
    pub(crate) workflows: Vec<Workflow>,
    /// `mdscan gateway` and `mdscan worker`: the cluster's services and the
    /// worker's knobs.
    pub(crate) cluster: Cluster,
    /// HTTPS and the roots https webhooks are checked against.
    pub(crate) tls: TlsConfig,
    /// The clamd listener (`[clamd]`): off unless it lists an address.
    pub(crate) clamd: Clamd,
    /// The ICAP server (`[icap]`): off unless it has an address.
    pub(crate) icap: Icap,
    /// The workflows in force (not read from the file).
    #[serde(skip)]
    pub(crate) live: LiveWorkflows,
}

/// The `[clamd]` section: ClamAV's clamd protocol over the same scans.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Clamd {
    /// Where to listen: `unix:/run/mdscan/clamd.sock` and `host:port`
    /// entries. Empty (the default): no listener.
    pub(crate) listen: Vec<String>,
    /// The workflow clamd scans run under. Empty: the default one.
    pub(crate) workflow: String,
    /// Directories whose files `SCAN`, `CONTSCAN`, `MULTISCAN` and
    /// `ALLMATCHSCAN` may read. Empty (the default): those commands are
    /// refused (a client could otherwise make the server read any file).
    pub(crate) scan_roots: Vec<PathBuf>,
    /// Most bytes one `INSTREAM` may send (clamd's `StreamMaxLength`).
    /// Default: 100 MiB, as clamd's.
    pub(crate) stream_max_length: u64,
    /// Connections served at once; past it a new one is closed.
    /// Default: 100.
    pub(crate) max_connections: usize,
    /// A connection that sends no command for this long is closed
    /// (clamd's `IdleTimeout`). Default: 30.
    pub(crate) idle_timeout_secs: u64,
    /// A client that stops sending in the middle of a command or stream
    /// for this long is cut off (clamd's `ReadTimeout`). Default: 120.
    pub(crate) read_timeout_secs: u64,
    /// Names reported for files blocked without a threat name, by result
    /// code (`"13" = "Heuristics.Limits.Exceeded.MaxScanSize"`), over the
    /// built-in ones.
    pub(crate) names: std::collections::BTreeMap<String, String>,
    /// Whether `SHUTDOWN` stops the server (as it stops clamd): for a
    /// server that only a trusted local client reaches. Default: false,
    /// `SHUTDOWN` and `QUIT` close the connection and the server goes on.
    pub(crate) allow_shutdown: bool,
}

impl Default for Clamd {
    fn default() -> Self {
        Clamd {
            listen: Vec::new(),
            workflow: String::new(),
            scan_roots: Vec::new(),
            stream_max_length: 100 << 20,
            max_connections: 100,
            idle_timeout_secs: 30,
            read_timeout_secs: 120,
            names: std::collections::BTreeMap::new(),
            allow_shutdown: false,
        }
    }
}

/// The `[icap]` section: an ICAP server (RFC 3507) for web proxies.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Icap {
    /// Where to listen (`127.0.0.1:1344`). None (the default): no server.
    pub(crate) listen: Option<String>,
    /// Service paths that pick a workflow (`{ avscan = "File scan", cdr =
    /// "Sanitize" }`); any other path scans under the default workflow.
    pub(crate) services: std::collections::BTreeMap<String, String>,
    /// Bytes of a body a client sends before the server asks for the rest
    /// (OPTIONS' `Preview`). Default: 1024.
    pub(crate) preview: u64,
    /// Connections served at once; past it a new one gets 503 and is
    /// closed. Default: 100.
    pub(crate) max_connections: usize,
    /// A connection idle between requests for this long is closed.
    /// Default: 60.
    pub(crate) idle_timeout_secs: u64,
    /// A client that stops sending mid-request for this long is cut off.
    /// Default: 120.
    pub(crate) read_timeout_secs: u64,
    /// An HTML file sent (as a 403) in place of blocked content; `{name}`
    /// and `{threat}` are replaced. Default: a built-in page.
    pub(crate) block_page: Option<PathBuf>,
    /// ICAP over TLS (`icaps://`), with the server's certificate: `[tls]
    /// cert` and `key`, or the self-signed one in the data directory.
    /// Default: false.
    pub(crate) tls: bool,
}

impl Default for Icap {
    fn default() -> Self {
        Icap {
            listen: None,
            services: std::collections::BTreeMap::new(),
            preview: 1024,
            max_connections: 100,
            idle_timeout_secs: 60,
            read_timeout_secs: 120,
            block_page: None,
            tls: false,
        }
    }
}

/// The `[cluster]` section. Flags and `MDSCAN_*` variables override it.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Cluster {
    /// RabbitMQ. Default: amqp://guest:guest@127.0.0.1:5672/%2f;
    /// `amqps://` for TLS.
    pub(crate) amqp_url: String,
    /// Redis. Default: redis://127.0.0.1:6379/; `rediss://` for TLS.
    pub(crate) redis_url: String,
    /// PEM client certificate (and its key) for RabbitMQ and Redis servers
    /// that ask for one. The servers are checked against the system's
    /// roots and `[tls] ca`.
    pub(crate) client_cert: Option<PathBuf>,
    pub(crate) client_key: Option<PathBuf>,
    /// `file:///shared/dir` or `s3://bucket/prefix`. Default: a directory
    /// under the system's temporary directory (one machine only).
    pub(crate) blob_url: String,
    /// Prefix of queue and key names. Default: `mdscan`.
    pub(crate) namespace: String,
    /// Deprecated: the top-level `retention_secs` says how long results are
    /// kept; this one, when set, overrides it for Redis.
    pub(crate) retention_secs: Option<u64>,
    /// A scan queued this long (with nothing waiting in the queue), or
    /// processing this long past its time limit, is stuck: the reconciler
    /// publishes it again. Default: 900.
    pub(crate) stuck_after_secs: u64,
    /// Publishes of a stuck scan before it is stored as Failed (3).
    /// Default: 3.
    pub(crate) max_requeues: u64,
    /// Tasks a worker scans at once (its RabbitMQ prefetch). Default: 2.
    pub(crate) concurrency: usize,
    /// Root archives of this many bytes or more are fanned out to the
    /// cluster. Default: 64 MiB.
    pub(crate) fanout_size: u64,
    /// Children of a root scanned by its own worker before the rest are
    /// fanned out. Default: 200.
    pub(crate) fanout_entries: u64,
    /// Deliveries of one task before it is recorded as Failed. Default: 3.
    pub(crate) max_attempts: u64,
    /// How long a stopping worker finishes its tasks, in seconds. Default: 60.
    pub(crate) drain_secs: u64,
}

impl Default for Cluster {
    fn default() -> Self {
        let e = mdcluster::Endpoints::default();
        Cluster {
            amqp_url: e.amqp_url,
            redis_url: e.redis_url,
            client_cert: None,
            client_key: None,
            blob_url: e.blob_url,
            namespace: e.namespace,
            retention_secs: None,
            stuck_after_secs: 900,
            max_requeues: 3,
            concurrency: 2,
            fanout_size: 64 << 20,
            fanout_entries: 200,
            max_attempts: 3,
            drain_secs: 60,
        }
    }
}

/// A user of `POST /login`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct User {
    pub(crate) name: String,
    /// An argon2 PHC string, as printed by `mdscan hash-password`.
    pub(crate) password_hash: String,
    /// Shorthand for `role = "admin"`.
    #[serde(default)]
    pub(crate) admin: bool,
    /// `admin`, `operator`, `user` or `auditor` (see README); default
    /// `user`, or `admin` with `admin = true`.
    #[serde(default)]
    pub(crate) role: Option<String>,
}

/// The `[tls]` section.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct TlsConfig {
    /// HTTPS on or off; unset: on beyond loopback (with a self-signed
    /// certificate made at first start when `cert` is not set).
    pub(crate) enabled: Option<bool>,
    /// PEM certificate chain and private key.
    pub(crate) cert: Option<PathBuf>,
    pub(crate) key: Option<PathBuf>,
    /// Extra PEM roots (beside the system's) for every TLS link this
    /// process opens: https webhooks, and in a cluster amqps://, rediss://
    /// and an https S3 endpoint.
    pub(crate) ca: Vec<PathBuf>,
}

/// The workflows in force: the config file's, with those edited through
/// the API laid over them (`serve::workflows` sets them; every clone of a
/// `Config` shares them).
#[derive(Clone, Debug, Default)]
pub(crate) struct LiveWorkflows(Arc<RwLock<Option<Arc<Vec<Workflow>>>>>);

/// A workflow: archive limits, passwords and which codes block.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Workflow {
    pub(crate) name: String,
    /// Largest upload, bytes (413 past it). Default: 200 MiB.
    pub(crate) max_file_size: u64,
    /// `user_agent` values that may use it; empty means everyone.
    pub(crate) user_agents: Vec<String>,
    /// Archive extraction on or off.
    pub(crate) extract: bool,
    pub(crate) max_depth: u32,
    pub(crate) max_files: u64,
    /// Total bytes extracted from one file.
    pub(crate) max_size: u64,
    /// Largest single extracted object.
    pub(crate) max_object_size: u64,
    pub(crate) max_ratio: u64,
    pub(crate) timeout_secs: u64,
    /// Result codes that make `process_info.result` "Blocked".
    pub(crate) block_codes: Vec<u8>,
    /// Archive passwords tried for this workflow.
    pub(crate) passwords: Vec<String>,
    /// Sanitization (`[workflows.sanitize]`): on which files, and whether
    /// a failure blocks. Off by default.
    pub(crate) sanitize: mdcore::sanitize::Policy,
}

impl Default for Workflow {
    fn default() -> Self {
        let l = Limits::default();
        Workflow {
            name: "File scan".into(),
            max_file_size: 209_715_200,
            user_agents: Vec::new(),
            extract: true,
            max_depth: l.max_depth,
            max_files: l.max_objects,
            max_size: l.max_total_bytes,
            max_object_size: l.max_object_size,
            max_ratio: l.max_ratio,
            timeout_secs: l.timeout.as_secs(),
            block_codes: mdcore::DEFAULT_BLOCK_CODES.to_vec(),
            passwords: Vec::new(),
            sanitize: mdcore::sanitize::Policy::default(),
        }
    }
}

impl Workflow {
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            max_depth: if self.extract { self.max_depth } else { 0 },
            max_objects: self.max_files,
            max_total_bytes: self.max_size,
            max_object_size: self.max_object_size,
            max_ratio: self.max_ratio,
            timeout: Duration::from_secs(self.timeout_secs),
            ..Limits::default()
        }
    }

    pub(crate) fn allows(&self, user_agent: &str) -> bool {
        self.user_agents.is_empty() || self.user_agents.iter().any(|u| u == user_agent)
    }

    /// What is wrong with this workflow, if anything.
    pub(crate) fn problem(&self) -> Option<String> {
        let name = self.name.trim();
        if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
            return Some("`name`: 1 to 100 characters, no control characters".into());
        }
        if self.max_file_size == 0 {
            return Some("`max_file_size` must be at least 1".into());
        }
        if self.max_files == 0 || self.max_size == 0 || self.max_object_size == 0 {
            return Some("`max_files`, `max_size` and `max_object_size` must be at least 1".into());
        }
        if self.max_ratio == 0 {
            return Some("`max_ratio` must be at least 1".into());
        }
        if !(1..=86_400).contains(&self.timeout_secs) {
            return Some("`timeout_secs` must be 1 to 86400".into());
        }
        if self.max_depth > 1000 {
            return Some("`max_depth` must be at most 1000".into());
        }
        if let Some(c) = self
            .block_codes
            .iter()
            .find(|c| mdcore::ResultCode::from_i(**c).is_none())
        {
            return Some(format!("`block_codes`: {c} is not a result code"));
        }
        None
    }
}

/// The workflow called `name` in `list`, or the first for an empty name.
pub(crate) fn pick<'a>(list: &'a [Workflow], name: &str) -> Option<&'a Workflow> {
    if name.is_empty() {
        return list.first();
    }
    list.iter().find(|w| w.name.eq_ignore_ascii_case(name))
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8008)),
            data_dir: None,
            queue_size: 1000,
            workers: 2,
            threads: 0,
            default_rules: true,
            rules: Vec::new(),
            hashes: Vec::new(),
            engines: EnginesConfig::default(),
            vulnerability_feeds: Vec::new(),
            allow: Vec::new(),
            passwords: Vec::new(),
            yara_defines: std::collections::BTreeMap::new(),
            api_keys: Vec::new(),
            users: Vec::new(),
            session_ttl_secs: 3600,
            body_timeout_secs: 60,
            body_total_timeout_secs: 3600,
            sync_timeout_secs: 600,
            min_free_disk: 256 << 20,
            callback_allow: Vec::new(),
            allow_open: false,
            max_connections: 1024,
            shutdown_timeout_secs: 10,
            retention_secs: 7 * 24 * 3600,
            file_retention_secs: 7 * 24 * 3600,
            sweep_interval_secs: 300,
            audit_retention_secs: 90 * 24 * 3600,
            workflows: Vec::new(),
            cluster: Cluster::default(),
            tls: TlsConfig::default(),
            clamd: Clamd::default(),
            icap: Icap::default(),
            live: LiveWorkflows::default(),
        }
    }
}

impl Config {
    pub(crate) fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("can not read `{}`: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("`{}`: {e}", path.display()))
    }

    /// Fills in derived defaults and checks consistency.
    pub(crate) fn finish(mut self) -> Result<Config, String> {
        if self.workflows.is_empty() {
            // Out of the box: "File scan", and "Sanitize" beside it (a
            // client picks it with the `rule` header, an ICAP service
            // through `[icap] services`).
            self.workflows.push(Workflow::default());
            self.workflows.push(Workflow {
                name: "Sanitize".into(),
                sanitize: mdcore::sanitize::Policy {
                    enabled: true,
                    ..mdcore::sanitize::Policy::default()
                },
                ..Workflow::default()
            });
        }
        for w in &self.workflows {
            if let Some(p) = w.problem() {
                return Err(format!("workflow `{}`: {p}", w.name));
            }
        }
        // In force until edits are read (so lookups never copy the list).
        self.set_workflows(self.workflows.clone());
        if self.workers == 0 {
            return Err("`workers` must be at least 1".into());
        }
        if self.sweep_interval_secs == 0 {
            return Err("`sweep_interval_secs` must be at least 1".into());
        }
        if self.max_connections == 0 {
            return Err("`max_connections` must be at least 1".into());
        }
        if self.data_dir.is_none() {
            let base = dirs::data_dir().unwrap_or_else(std::env::temp_dir);
            self.data_dir = Some(base.join("mdscan"));
        }
        for u in &self.users {
            argon2::PasswordHash::new(&u.password_hash).map_err(|e| {
                format!(
                    "user `{}`: `password_hash` is not an argon2 PHC string: {e}",
                    u.name
                )
            })?;
            if let Some(r) = &u.role
                && crate::serve::roles::Role::parse(r).is_none()
            {
                return Err(format!(
                    "user `{}`: unknown role `{r}` (admin, operator, user or auditor)",
                    u.name
                ));
            }
        }
        Ok(self)
    }

    /// The cluster's services, as every process of it must see them, with
    /// the certificate files read.
    pub(crate) fn endpoints(&self) -> Result<mdcluster::Endpoints, String> {
        let c = &self.cluster;
        let read = |what: &str, p: &Path| {
            std::fs::read(p).map_err(|e| format!("{what} `{}`: {e}", p.display()))
        };
        let mut roots_pem = Vec::new();
        for p in &self.tls.ca {
            roots_pem.extend(read("TLS CA", p)?);
            roots_pem.push(b'\n');
        }
        let client = match (&c.client_cert, &c.client_key) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(mdcluster::ClientCert {
                cert_pem: read("client certificate", cert)?,
                key_pem: read("client key", key)?,
            }),
            _ => return Err("[cluster] client_cert and client_key go together".into()),
        };
        let tls = mdcluster::LinkTls { roots_pem, client };
        tls.check().map_err(|e| e.to_string())?;
        Ok(mdcluster::Endpoints {
            amqp_url: c.amqp_url.clone(),
            redis_url: c.redis_url.clone(),
            blob_url: c.blob_url.clone(),
            namespace: c.namespace.clone(),
            retention_s: c.retention_secs.unwrap_or(self.retention_secs),
            tls,
        })
    }

    pub(crate) fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("mdscan-data"))
    }

    /// The workflow in force called `name`, or the first one for an empty
    /// name.
    pub(crate) fn workflow(&self, name: &str) -> Option<Workflow> {
        pick(&self.current_workflows(), name).cloned()
    }

    /// The workflows in force (edited ones included).
    pub(crate) fn current_workflows(&self) -> Arc<Vec<Workflow>> {
        if let Ok(g) = self.live.0.read()
            && let Some(w) = g.as_ref()
        {
            return w.clone();
        }
        Arc::new(self.workflows.clone())
    }

    /// Puts a new set of workflows in force.
    pub(crate) fn set_workflows(&self, list: Vec<Workflow>) {
        if let Ok(mut g) = self.live.0.write() {
            *g = Some(Arc::new(list));
        }
    }

    /// The scanner this configuration describes (rules, hash lists,
    /// passwords), with `threads` pool threads (0: one per core).
    pub(crate) fn scanner(&self, threads: usize) -> Result<mdcore::Scanner, String> {
        let mut b = mdcore::ScannerBuilder::new();
        b.default_rules(self.default_rules).threads(threads);
        crate::scan::add_sources(
            &mut b,
            &self.rules,
            &self.hashes,
            &self.allow,
            &self.passwords,
        );
        for f in &self.vulnerability_feeds {
            b.vulnerability_feed(f);
        }
        for d in &self.engines.clamav.databases {
            b.clamav_database(d);
        }
        for (name, value) in &self.yara_defines {
            b.yara_define(name, value);
        }
        b.build().map_err(|e| e.to_string())
    }

    pub(crate) fn open(&self) -> bool {
        self.api_keys.is_empty() && self.users.is_empty()
    }

    /// Refuses an open server (no key, no user) on a non-loopback address
    /// unless `allow_open` says so.
    pub(crate) fn check_exposure(&self) -> Result<(), String> {
        if self.open() && !self.listen.ip().is_loopback() && !self.allow_open {
            return Err(format!(
                "refusing to listen on {} with no `api_keys` and no `users`: anyone who can \
                 reach it could scan, read every result and download every file. Configure \
                 a key or a user, listen on 127.0.0.1, or set `allow_open = true`",
                self.listen
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamav_databases_in_the_engines_table() {
        let cfg: Config = toml::from_str(
            r#"
            [engines.clamav]
            databases = ["/var/lib/clamav", "local.ndb"]
            "#,
        )
        .unwrap();
        assert_eq!(
            cfg.engines.clamav.databases,
            [PathBuf::from("/var/lib/clamav"), PathBuf::from("local.ndb")]
        );
        assert!(toml::from_str::<Config>("[engines.clamav]\ndatabase = []\n").is_err());
        // A database that does not load stops the scanner's start.
        let mut cfg = Config::default();
        cfg.engines
            .clamav
            .databases
            .push("/nonexistent/x.ndb".into());
        assert!(cfg.scanner(1).unwrap_err().contains("x.ndb"));
    }

    #[test]
    fn toml_with_workflows_and_users() {
        let cfg: Config = toml::from_str(
            r#"
            listen = "0.0.0.0:9000"
            queue_size = 5
            api_keys = ["k1"]
            [[workflows]]
            name = "Strict"
            max_depth = 3
            block_codes = [1]
            "#,
        )
        .unwrap();
        let cfg = cfg.finish().unwrap();
        assert_eq!(cfg.listen.port(), 9000);
        assert_eq!(cfg.workflow("strict").unwrap().max_depth, 3);
        assert_eq!(cfg.workflow("").unwrap().name, "Strict");
        assert!(cfg.workflow("nope").is_none());
        assert!(!cfg.open());
        assert!(toml::from_str::<Config>("bogus = 1").is_err());
    }

    #[test]
    fn an_open_server_stays_on_loopback() {
        let mut cfg = Config::default();
        assert!(cfg.check_exposure().is_ok());
        cfg.listen = "0.0.0.0:8008".parse().unwrap();
        assert!(cfg.check_exposure().unwrap_err().contains("allow_open"));
        cfg.allow_open = true;
        assert!(cfg.check_exposure().is_ok());
        cfg.allow_open = false;
        cfg.api_keys.push("k".into());
        assert!(cfg.check_exposure().is_ok());
    }
}
