//! `mde-car connection add | list | edit | test | remove`: the same connections, settings file
//! and keyring entries the desktop app's Connections page works on.

use std::{
    io::{BufRead, IsTerminal},
    path::Path,
    process::ExitCode,
};

use anyhow::Context as _;
use mde_car_core::{
    Core,
    config::{
        Cloud, Connection, ConnectionDraft, CredentialKind, DataSelection, Frequency,
        certificate::ImportedCertificate,
    },
};

use crate::{
    EXIT_TEST_FAILED,
    cli::{AddArgs, ConnectionCommand, DataFlags, EditArgs},
    json::{report_json, view_json},
    print::{print_json, print_report, print_view},
};

pub(crate) async fn run(core: &Core, command: ConnectionCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConnectionCommand::Add(args) => add(core, *args).await,
        ConnectionCommand::List { json } => list(core, json).await,
        ConnectionCommand::Edit(args) => edit(core, *args).await,
        ConnectionCommand::Test { name, json } => test(core, &name, json).await,
        ConnectionCommand::Remove { name } => remove(core, &name).await,
    }
}

async fn add(core: &Core, args: AddArgs) -> anyhow::Result<ExitCode> {
    let secret_stdin = args.secret_stdin;
    if let Some(file) = args.certificate.clone() {
        let imported = import_certificate(core, &file, args.key.as_deref(), secret_stdin)?;
        let mut draft = new_draft(args)?;
        with_certificate(&mut draft, imported);
        let source = core.secret_source();
        if !source.is_writable() {
            // The key was read to check that it belongs to the certificate; it reaches the
            // service as the admin's systemd credential, never through mde-car.
            draft.private_key = None;
            let view = core.add_connection(&draft).await?;
            let name = mde_car_core::secrets::credential_name(&view.connection.id);
            println!(
                "added connection '{}' ({}); it signs in with the certificate, whose private key comes from {}",
                view.connection.name,
                view.connection.id,
                source.location(&view.connection.id)
            );
            println!(
                "next: openssl pkcs8 -topk8 -nocrypt -in KEY.pem | systemd-creds encrypt --name={name} - /etc/credstore.encrypted/{name}"
            );
            println!(
                "  (from a PFX: openssl pkcs12 -in FILE.pfx -nocerts -nodes | openssl pkcs8 -topk8 -nocrypt | systemd-creds encrypt …)"
            );
            print_unit_step(&name);
            return Ok(ExitCode::SUCCESS);
        }
        let view = core.add_connection(&draft).await?;
        println!(
            "added connection '{}' ({}); it signs in with the certificate, whose key is in {}",
            view.connection.name,
            view.connection.id,
            source.location(&view.connection.id)
        );
        println!("next: mde-car connection test '{}'", view.connection.name);
        return Ok(ExitCode::SUCCESS);
    }
    let mut draft = new_draft(args)?;
    // Check everything else first, so nobody types a secret for a draft that fails.
    let problems: Vec<_> = core
        .validate_connection(&draft, None)
        .await?
        .into_iter()
        .filter(|problem| problem.field != "clientSecret")
        .collect();
    if !problems.is_empty() {
        return Err(mde_car_core::Error::Validation(problems).into());
    }
    let source = core.secret_source();
    if !source.is_writable() {
        // systemd credentials are the admin's: the connection is added without its secret,
        // and the message says what to create.
        if secret_stdin {
            anyhow::bail!(
                "--secret-stdin: this installation reads secrets from systemd credentials (MDE_CAR_SECRETS=systemd-credentials); add the connection without it, then create its credential"
            );
        }
        let view = core.add_connection(&draft).await?;
        let name = mde_car_core::secrets::credential_name(&view.connection.id);
        println!(
            "added connection '{}' ({}); its secret comes from {}",
            view.connection.name,
            view.connection.id,
            source.location(&view.connection.id)
        );
        println!(
            "next: systemd-ask-password -n 'client secret: ' | systemd-creds encrypt --name={name} - /etc/credstore.encrypted/{name}"
        );
        print_unit_step(&name);
        return Ok(ExitCode::SUCCESS);
    }
    draft.client_secret = Some(read_secret(secret_stdin)?);
    let view = core.add_connection(&draft).await?;
    println!(
        "added connection '{}' ({}); the secret is in {}",
        view.connection.name,
        view.connection.id,
        source.location(&view.connection.id)
    );
    println!("next: mde-car connection test '{}'", view.connection.name);
    Ok(ExitCode::SUCCESS)
}

/// The last step of a credential under systemd: the unit names it (the path form, which
/// systemd 252 needs).
fn print_unit_step(name: &str) {
    println!(
        "  then add LoadCredentialEncrypted={name}:/etc/credstore.encrypted/{name} to the unit (`systemctl edit mde-car`) and restart it"
    );
}

/// The draft `add` validates; the secret comes later, once the rest is known to be valid.
fn new_draft(args: AddArgs) -> anyhow::Result<ConnectionDraft> {
    Ok(ConnectionDraft {
        name: args.name,
        description: args.description,
        tenant_id: args.tenant,
        client_id: args.client_id,
        client_secret: None,
        credential: CredentialKind::Secret,
        certificate: None,
        private_key: None,
        frequency: parse_frequency(&args.frequency)?,
        cloud: parse_cloud(&args.cloud)?,
        api_base_url: args.api_base,
        login_authority: args.authority,
        proxy_url: args.proxy,
        ca_certificate_file: args.ca_cert.as_deref().map(absolute_path),
        data: imported_data(&args.data),
    })
}

/// The flags say what not to import, so that importing everything needs none of them.
fn imported_data(flags: &DataFlags) -> DataSelection {
    DataSelection {
        alerts: !flags.no_alerts,
        vulnerabilities: !flags.no_vulnerabilities,
        logged_on_users: !flags.no_users,
        ip_history: !flags.no_ip_history,
    }
}

async fn list(core: &Core, json: bool) -> anyhow::Result<ExitCode> {
    let views = core.list_connections().await?;
    if json {
        print_json(&views.iter().map(view_json).collect::<Vec<_>>())?;
    } else if views.is_empty() {
        println!("no connections; add one with `mde-car connection add` or try `mde-car demo`");
    } else {
        for view in &views {
            print_view(view);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn edit(core: &Core, args: EditArgs) -> anyhow::Result<ExitCode> {
    let existing = core.find_connection(&args.target).await?;
    let id = existing.id.clone();
    let imported = match &args.certificate {
        Some(file) => Some(import_certificate(
            core,
            file,
            args.key.as_deref(),
            args.secret_stdin,
        )?),
        None => None,
    };
    let mut draft = edited_draft(args, existing)?;
    if let Some(imported) = imported {
        with_certificate(&mut draft, imported);
    }
    let view = core.update_connection(&id, &draft).await?;
    println!("updated connection '{}'", view.connection.name);
    Ok(ExitCode::SUCCESS)
}

/// The connection with the options given changed and the rest as it was. The fields are read
/// in this order, so the secret is asked for before --frequency, --cloud and --data are parsed.
fn edited_draft(args: EditArgs, existing: Connection) -> anyhow::Result<ConnectionDraft> {
    let kind = existing.credential_kind();
    Ok(ConnectionDraft {
        name: args.name.unwrap_or(existing.name),
        description: args.description.unwrap_or(existing.description),
        tenant_id: args.tenant.unwrap_or(existing.tenant_id),
        client_id: args.client_id.unwrap_or(existing.client_id),
        credential: if args.secret_stdin || args.replace_secret {
            CredentialKind::Secret
        } else {
            kind
        },
        certificate: existing.certificate,
        private_key: None,
        // No secret keeps the one in the keyring.
        client_secret: if (args.secret_stdin || args.replace_secret) && args.certificate.is_none() {
            Some(read_secret(args.secret_stdin)?)
        } else {
            None
        },
        frequency: match args.frequency {
            Some(text) => parse_frequency(&text)?,
            None => existing.frequency,
        },
        cloud: match args.cloud {
            Some(text) => parse_cloud(&text)?,
            None => existing.cloud,
        },
        api_base_url: given_or_kept(args.api_base, existing.api_base_url),
        login_authority: given_or_kept(args.authority, existing.login_authority),
        proxy_url: given_or_kept(args.proxy, existing.proxy_url),
        ca_certificate_file: match args.ca_cert.as_deref() {
            Some(file) if file.as_os_str().is_empty() => None,
            Some(file) => Some(absolute_path(file)),
            None => existing.ca_certificate_file,
        },
        data: match args.data {
            Some(kinds) => parse_data(&kinds)?,
            None => existing.data,
        },
    })
}

/// An optional setting after an edit: kept when the flag is absent, removed by an empty value
/// (a flag cannot be given "nothing" otherwise), replaced by any other value.
fn given_or_kept(given: Option<String>, existing: Option<String>) -> Option<String> {
    given.map_or(existing, |value| {
        Some(value).filter(|v| !v.trim().is_empty())
    })
}

async fn test(core: &Core, name: &str, json: bool) -> anyhow::Result<ExitCode> {
    let connection = core.find_connection(name).await?;
    let report = core.test_connection(&connection.id).await?;
    if json {
        print_json(&report_json(&report))?;
    } else {
        print_report(&connection.name, &report);
    }
    // A test that ran but did not connect is not an error of the command, yet scripts must
    // tell it from success.
    if !report.ok {
        return Ok(ExitCode::from(EXIT_TEST_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}

async fn remove(core: &Core, name: &str) -> anyhow::Result<ExitCode> {
    let connection = core.find_connection(name).await?;
    core.delete_connection(&connection.id).await?;
    println!("removed connection '{}' and its secret", connection.name);
    Ok(ExitCode::SUCCESS)
}

fn parse_frequency(text: &str) -> anyhow::Result<Frequency> {
    Frequency::parse_cli(text)
        .map_err(anyhow::Error::msg)
        .context("--frequency")
}

fn parse_cloud(text: &str) -> anyhow::Result<Cloud> {
    text.parse::<Cloud>()
        .map_err(anyhow::Error::msg)
        .context("--cloud")
}

/// Reads the client secret from stdin (first line) or a hidden prompt; never from argv, where
/// other users could read it in the process list and shells keep it in their history.
/// Reads a certificate (PEM or PFX) and its key through the core's import, asking for a PFX
/// file's password on stdin or at a prompt; shows what was read.
fn import_certificate(
    core: &Core,
    file: &Path,
    key: Option<&Path>,
    from_stdin: bool,
) -> anyhow::Result<ImportedCertificate> {
    let read =
        |path: &Path| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    let bytes = read(file)?;
    let key_bytes = key.map(read).transpose()?;
    let password = if mde_car_core::config::certificate::looks_like_pem(&bytes) {
        None
    } else {
        Some(read_line_or_prompt(
            from_stdin,
            "PFX password: ",
            "the PFX password",
        )?)
    };
    let imported = core.import_certificate(&bytes, key_bytes.as_deref(), password.as_deref())?;
    let info = &imported.certificate;
    println!("certificate: {}", info.subject);
    println!(
        "  thumbprint (SHA-1, as Entra shows it): {}",
        info.thumbprint_sha1
    );
    println!("  thumbprint (SHA-256): {}", info.thumbprint_sha256);
    println!(
        "  valid until: {}",
        mde_car_core::model::json_time::text(&info.not_after)
    );
    for warning in &imported.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(imported)
}

fn with_certificate(draft: &mut ConnectionDraft, imported: ImportedCertificate) {
    draft.credential = CredentialKind::Certificate;
    draft.certificate = Some(imported.certificate);
    draft.private_key = Some(imported.private_key);
    draft.client_secret = None;
}

/// A line of stdin or a hidden prompt; may be empty (a PFX without a password).
fn read_line_or_prompt(from_stdin: bool, prompt: &str, what: &str) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .with_context(|| format!("reading {what} from stdin"))?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).with_context(|| format!("reading {what} at the prompt"))
    } else {
        anyhow::bail!("no terminal to ask for {what}: pipe it in with --secret-stdin");
    }
}

fn read_secret(from_stdin: bool) -> anyhow::Result<String> {
    let secret = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the secret from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Client secret (Value): ")
            .context("reading the secret at the prompt")?
    } else {
        anyhow::bail!("no terminal to ask for the client secret: pipe it in with --secret-stdin");
    };
    if secret.is_empty() {
        anyhow::bail!("the client secret is empty");
    }
    Ok(secret)
}

/// `--data` lists what to import; devices always are, so naming them is allowed and ignored.
fn parse_data(kinds: &[String]) -> anyhow::Result<DataSelection> {
    let mut data = DataSelection {
        alerts: false,
        vulnerabilities: false,
        logged_on_users: false,
        ip_history: false,
    };
    for kind in kinds
        .iter()
        .map(|k| k.trim().to_ascii_lowercase())
        .filter(|k| !k.is_empty() && k != "devices")
    {
        match kind.as_str() {
            "alerts" => data.alerts = true,
            "vulnerabilities" => data.vulnerabilities = true,
            "users" | "logged-on-users" => data.logged_on_users = true,
            "ip-history" => data.ip_history = true,
            other => anyhow::bail!(
                "--data: unknown kind '{other}'; use alerts, vulnerabilities, users, ip-history"
            ),
        }
    }
    Ok(data)
}

/// The settings hold full paths: the daemon and the app do not share the CLI's working folder.
fn absolute_path(file: &Path) -> String {
    std::path::absolute(file)
        .unwrap_or_else(|_| file.to_path_buf())
        .display()
        .to_string()
}
