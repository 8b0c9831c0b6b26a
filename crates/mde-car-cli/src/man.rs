//! `mde-car man DIR` (hidden): writes the man pages from the clap definition — `mde-car.1`
//! with the environment, files and exit statuses, and one page per command
//! (`mde-car-sync.1`, `mde-car-connection-add.1`, …). `make package` ships them, so the pages
//! never drift from `--help`.

use std::{fs, io::Write as _, path::Path, process::ExitCode};

use clap::CommandFactory as _;

use crate::cli::Cli;

/// What `--help` cannot say: the environment, the files and the exit statuses (README "The CLI").
const EXTRA_SECTIONS: &str = r#".SH ENVIRONMENT
.TP
\fBMDE_CAR_DATA_DIR\fR
The data folder (settings, database, logs), unless \fB\-\-data\-dir\fR names one. Default:
\fI$XDG_DATA_HOME/dev.mdecar.desktop\fR, the desktop app's folder.
.TP
\fBMDE_CAR_LOG\fR
The log level, in tracing's env\-filter syntax (\fBinfo\fR by default).
.TP
\fBMDE_CAR_SECRETS\fR
Where client secrets are kept: \fBkeyring\fR (the Secret Service, the default),
\fBsystemd\-credentials\fR (read from \fI$CREDENTIALS_DIRECTORY/mde\-car.connection.<id>\fR),
or \fBfiles:\fR\fIFOLDER\fR (a 0700 folder of 0600 files named \fImde\-car.connection.<id>\fR).
.TP
\fBHTTPS_PROXY\fR, \fBNO_PROXY\fR
The proxy of connections that name none.
.SH FILES
.TP
\fIsettings.json\fR
Every connection's settings, without secrets, in the data folder.
.TP
\fImde\-car.sqlite3\fR
The local asset graph and the sync history.
.TP
\fIlogs/mde\-car.log.YYYY\-MM\-DD\fR
Daily logs, 14 days kept.
.TP
\fI/usr/lib/systemd/system/mde\-car.service\fR
The packaged system service: \fBmde\-car daemon\fR as the user \fBmde\-car\fR, data in
\fI/var/lib/mde\-car\fR, secrets from systemd credentials.
.TP
\fI/usr/lib/systemd/user/mde\-car.service\fR
The same daemon in a desktop session, with the keyring.
.SH "EXIT STATUS"
.TP
\fB0\fR
Success.
.TP
\fB1\fR
Failure.
.TP
\fB2\fR
Invalid input or unknown connection.
.TP
\fB3\fR
A connection test that ran and failed.
.TP
\fB4\fR
A sync that failed or was cancelled; for \fBstatus\fR, a connection that is failing.
.TP
\fB5\fR
A partial sync; for \fBstatus\fR, a connection whose last run was partial.
.SH "SEE ALSO"
\fBsystemctl\fR(1), \fBjournalctl\fR(1), \fBsystemd\-creds\fR(1)
"#;

/// Writes every page into `dir` (created if missing) and lists them on stdout.
pub(crate) fn write(dir: &Path) -> ExitCode {
    match write_pages(dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: writing the man pages to {}: {error}", dir.display());
            ExitCode::FAILURE
        }
    }
}

fn write_pages(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut command = Cli::command().disable_help_subcommand(true);
    // Names the subcommands `mde-car-sync` and so on, as their pages are called.
    command.build();
    let date = page_date();
    let source = format!("mde-car {}", env!("CARGO_PKG_VERSION"));
    let mut names = Vec::new();
    write_page(dir, &command, &date, &source, true, &mut names)?;
    names.sort();
    let mut stdout = std::io::stdout().lock();
    for name in names {
        writeln!(stdout, "{name}")?;
    }
    Ok(())
}

/// The page of `command`, then those of its visible subcommands.
fn write_page(
    dir: &Path,
    command: &clap::Command,
    date: &str,
    source: &str,
    main: bool,
    names: &mut Vec<String>,
) -> std::io::Result<()> {
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        write_page(dir, sub, date, source, false, names)?;
    }
    // Every .TH field is set: clap_mangen leaves an empty date unquoted, which shifts the rest.
    let man = clap_mangen::Man::new(command.clone())
        .date(date)
        .source(source)
        .manual("MDE Connected Assets & Risk");
    let mut page = Vec::new();
    man.render(&mut page)?;
    if main {
        page.extend_from_slice(EXTRA_SECTIONS.as_bytes());
    }
    let name = man.get_filename();
    fs::write(dir.join(&name), page)?;
    names.push(name);
    Ok(())
}

/// `SOURCE_DATE_EPOCH` (reproducible builds; the package script sets it to its changelog's
/// date) as YYYY-MM-DD, else today.
fn page_date() -> String {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|seconds| seconds.trim().parse::<i64>().ok())
        .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0))
        .unwrap_or_else(chrono::Utc::now)
        .format("%Y-%m-%d")
        .to_string()
}
