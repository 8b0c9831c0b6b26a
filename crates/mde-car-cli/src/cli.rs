//! What can be typed: every command, flag and help text of `mde-car`. The commands' behaviour
//! lives in one module each; keeping the surface here shows it whole in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use mde_car_core::search::{DEFAULT_LIMIT, SortKey};

#[derive(Parser)]
#[command(
    name = "mde-car",
    version,
    about = "MDE Connected Assets & Risk, headless"
)]
pub(crate) struct Cli {
    /// Folder holding settings, database and logs [env: MDE_CAR_DATA_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Also print log lines to stderr
    #[arg(long, short, global = true)]
    pub(crate) verbose: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Add, list, edit, test and remove Defender connections
    #[command(subcommand)]
    Connection(ConnectionCommand),
    /// Run one sync of a connection now and wait for it
    Sync {
        /// Connection name or id
        name: String,
        /// A full listing and export, even when an incremental run would do
        #[arg(long)]
        full: bool,
        /// With --full: accept a device listing much smaller than the devices known (under
        /// half), so the devices it lacks are marked gone; without it such a listing marks
        /// none gone and the run ends as partial
        #[arg(long, requires = "full")]
        accept_shrink: bool,
        #[arg(long)]
        json: bool,
    },
    /// Sync every connection at its frequency until Ctrl+C or SIGTERM (no window needed)
    Daemon {
        /// Serve Prometheus metrics at http://ADDRESS/metrics, e.g. 127.0.0.1:9464 (port 0
        /// picks a free one; the address is printed)
        #[arg(long, value_name = "ADDRESS")]
        metrics: Option<std::net::SocketAddr>,
    },
    /// Each connection's last run, next due time and problem; exit status 4 when one is
    /// failing, 5 when one's last run was partial (for monitoring)
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Past sync runs of a connection, newest first
    Runs {
        /// Connection name or id
        name: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Find devices by IP, CIDR range, host name, MAC, or IP at a time, with their risk
    Search(SearchArgs),
    /// Everything stored about one device: identity, network history, accounts, alerts, risk
    Asset(AssetArgs),
    /// Start the bundled simulated tenant and add a connection to it
    Demo {
        /// Keep the simulator running and print its credentials, until Ctrl+C
        #[arg(long)]
        serve: bool,
    },
    /// Write the man pages into a folder (for packaging; see man.rs)
    #[command(hide = true)]
    Man { dir: PathBuf },
}

#[derive(Subcommand)]
pub(crate) enum ConnectionCommand {
    /// Add a connection; the client secret is read from a prompt or, with --secret-stdin, from stdin
    Add(Box<AddArgs>),
    /// List connections
    List {
        #[arg(long)]
        json: bool,
    },
    /// Change a connection's settings; only the options given change
    Edit(Box<EditArgs>),
    /// Sign in and make one small API call; exit status 3 when the connection does not work
    Test {
        /// Connection name or id
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a connection and its secret from the OS keyring
    Remove {
        /// Connection name or id
        name: String,
    },
}

#[derive(Args)]
pub(crate) struct AddArgs {
    #[arg(long)]
    pub(crate) name: String,
    #[arg(long, default_value = "")]
    pub(crate) description: String,
    /// Directory (tenant) ID, or a verified domain such as contoso.onmicrosoft.com
    #[arg(long)]
    pub(crate) tenant: String,
    /// Application (client) ID
    #[arg(long)]
    pub(crate) client_id: String,
    /// 15m, 1h, 4h, 6h, 12h, 24h, or a cron expression such as "0 */4 * * *"
    #[arg(long, default_value = "4h", allow_hyphen_values = true)]
    pub(crate) frequency: String,
    /// commercial, gcc, gcc_high or dod
    #[arg(long, default_value = "commercial")]
    pub(crate) cloud: String,
    /// Override of the Defender API base URL (regional host, proxy)
    #[arg(long, value_name = "URL")]
    pub(crate) api_base: Option<String>,
    /// Override of the login authority
    #[arg(long, value_name = "URL")]
    pub(crate) authority: Option<String>,
    /// HTTP(S) proxy for this connection, e.g. http://proxy.corp.example:8080 (without it,
    /// HTTPS_PROXY and NO_PROXY apply)
    #[arg(long, value_name = "URL")]
    pub(crate) proxy: Option<String>,
    /// PEM file of extra CA certificates to trust, e.g. a TLS-inspecting proxy's CA
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_cert: Option<PathBuf>,
    /// Sign in with a certificate instead of a client secret: a PEM file (certificate, and its
    /// key unless --key is given) or a PFX/PKCS#12 file, whose password is read from stdin
    /// (--secret-stdin) or a prompt, never from the command line
    #[arg(long, value_name = "FILE")]
    pub(crate) certificate: Option<PathBuf>,
    /// The certificate's private key as a separate PEM file (PKCS#8 or PKCS#1, unencrypted)
    #[arg(long, value_name = "FILE", requires = "certificate")]
    pub(crate) key: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) data: DataFlags,
    /// Read the client secret (or the PFX password) from the first line of stdin instead of a prompt
    #[arg(long)]
    pub(crate) secret_stdin: bool,
}

#[derive(Args)]
pub(crate) struct DataFlags {
    /// Do not import alerts
    #[arg(long)]
    pub(crate) no_alerts: bool,
    /// Do not import vulnerabilities
    #[arg(long)]
    pub(crate) no_vulnerabilities: bool,
    /// Do not import logged-on users
    #[arg(long)]
    pub(crate) no_users: bool,
    /// Do not import IP address history
    #[arg(long)]
    pub(crate) no_ip_history: bool,
}

#[derive(Args)]
pub(crate) struct EditArgs {
    /// Connection name or id
    pub(crate) target: String,
    #[arg(long)]
    pub(crate) name: Option<String>,
    #[arg(long)]
    pub(crate) description: Option<String>,
    #[arg(long)]
    pub(crate) tenant: Option<String>,
    #[arg(long)]
    pub(crate) client_id: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) frequency: Option<String>,
    #[arg(long)]
    pub(crate) cloud: Option<String>,
    /// Override of the Defender API base URL; an empty value removes the override
    #[arg(long, value_name = "URL")]
    pub(crate) api_base: Option<String>,
    /// Override of the login authority; an empty value removes the override
    #[arg(long, value_name = "URL")]
    pub(crate) authority: Option<String>,
    /// HTTP(S) proxy for this connection; an empty value removes it
    #[arg(long, value_name = "URL")]
    pub(crate) proxy: Option<String>,
    /// PEM file of extra CA certificates to trust; an empty value removes it
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_cert: Option<PathBuf>,
    /// Import alerts, vulnerabilities, users, ip-history: e.g. --data alerts,ip-history
    #[arg(long, value_delimiter = ',')]
    pub(crate) data: Option<Vec<String>>,
    /// Sign in with a certificate instead of a client secret: a PEM file (certificate, and its
    /// key unless --key is given) or a PFX/PKCS#12 file, whose password is read from stdin
    /// (--secret-stdin) or a prompt, never from the command line
    #[arg(long, value_name = "FILE")]
    pub(crate) certificate: Option<PathBuf>,
    /// The certificate's private key as a separate PEM file (PKCS#8 or PKCS#1, unencrypted)
    #[arg(long, value_name = "FILE", requires = "certificate")]
    pub(crate) key: Option<PathBuf>,
    /// Replace the client secret with the first line of stdin; needed too when the edit
    /// changes --cloud, --api-base, --authority, --proxy or --ca-cert, since a stored secret is
    /// only sent where it was entered for
    #[arg(long, conflicts_with = "replace_secret")]
    pub(crate) secret_stdin: bool,
    /// Replace the client secret, asking for it at a prompt
    #[arg(long)]
    pub(crate) replace_secret: bool,
}

#[derive(Args)]
pub(crate) struct SearchArgs {
    /// An IP address, CIDR range, host name (or its beginning), MAC address, or IP @ time;
    /// several words are joined, so `10.1.2.3 @ 2026-11-20 14:00` needs no quotes
    #[arg(required = true, num_args = 1.., value_name = "QUERY")]
    pub(crate) query: Vec<String>,
    /// Who held the address at this time: 2026-11-20 14:00 (UTC), 2026-11-20T14:00:00Z, or
    /// with an offset (+01:00); a time without a zone is UTC
    #[arg(long, value_name = "TIME")]
    pub(crate) at: Option<String>,
    /// Only this connection (name or id)
    #[arg(long, value_name = "NAME")]
    pub(crate) connection: Option<String>,
    /// relevance (current holders first), risk, name or last-seen
    #[arg(long, default_value = "relevance", value_parser = parse_sort)]
    pub(crate) sort: SortKey,
    /// Reverse the sort order
    #[arg(long)]
    pub(crate) reverse: bool,
    /// Results per page (at most 1000)
    #[arg(long, default_value_t = DEFAULT_LIMIT)]
    pub(crate) limit: usize,
    /// Results to skip (the page's start)
    #[arg(long, default_value_t = 0)]
    pub(crate) offset: usize,
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Args)]
pub(crate) struct AssetArgs {
    /// The asset's number (from search results), CONNECTION:DEVICE-ID, or a Defender device id
    pub(crate) id: String,
    #[arg(long)]
    pub(crate) json: bool,
}

fn parse_sort(text: &str) -> Result<SortKey, String> {
    SortKey::parse(text).ok_or_else(|| {
        format!("'{text}' is not a sort order; use relevance, risk, name or last-seen")
    })
}
