import type { CertificateInfo, Cloud, ConnectionDraft, ConnectionView, CredentialKind, DataSelection } from "../../ipc";
import { DEFAULT_CHOICE, DEFAULT_CRON, choiceOf, frequencyOf } from "./schedule";

/** What the form edits. Kept apart from ConnectionDraft because the form has UI-only state (preset, secret toggle). */
export type FormState = {
  name: string;
  description: string;
  tenantId: string;
  clientId: string;
  secret: string;
  replaceSecret: boolean;
  /** Client secret or certificate. */
  credential: CredentialKind;
  /** The certificate's public facts: the saved one, or the one just imported (its key stays in Rust). */
  certificate: CertificateInfo | null;
  frequencyChoice: string;
  cron: string;
  cloud: Cloud;
  apiBaseUrl: string;
  loginAuthority: string;
  proxyUrl: string;
  caCertificateFile: string;
  data: DataSelection;
};

export const CLOUDS: { value: Cloud; label: string }[] = [
  { value: "commercial", label: "Commercial" },
  { value: "gcc", label: "GCC" },
  { value: "gcc_high", label: "GCC High" },
  { value: "dod", label: "DoD" },
];

export function newForm(): FormState {
  return {
    name: "",
    description: "",
    tenantId: "",
    clientId: "",
    secret: "",
    replaceSecret: false,
    credential: "secret",
    certificate: null,
    frequencyChoice: DEFAULT_CHOICE,
    cron: DEFAULT_CRON,
    cloud: "commercial",
    apiBaseUrl: "",
    loginAuthority: "",
    proxyUrl: "",
    caCertificateFile: "",
    data: { alerts: true, vulnerabilities: true, loggedOnUsers: true, ipHistory: true },
  };
}

export function formFromView(view: ConnectionView): FormState {
  return {
    name: view.name,
    description: view.description,
    tenantId: view.tenantId,
    clientId: view.clientId,
    secret: "",
    replaceSecret: false,
    credential: view.credential,
    certificate: view.certificate,
    frequencyChoice: choiceOf(view.frequency),
    cron: view.frequency.kind === "cron" ? view.frequency.expression : DEFAULT_CRON,
    cloud: view.cloud,
    apiBaseUrl: view.apiBaseUrl ?? "",
    loginAuthority: view.loginAuthority ?? "",
    proxyUrl: view.proxyUrl ?? "",
    caCertificateFile: view.caCertificateFile ?? "",
    data: { ...view.data },
  };
}

function optional(value: string): string | null {
  return value.trim() === "" ? null : value;
}

/** A URL field as Rust compares it: trimmed, without a trailing slash, empty as none. */
function host(value: string): string {
  return value.trim().replace(/\/+$/, "");
}

/**
 * Whether an edit sends the secret to other hosts than the saved connection's (cloud, login
 * authority, API base, proxy or CA file changed). Rust refuses such an edit without the secret
 * (a stored secret goes only where it was entered for); the form asks for it up front.
 */
export function movesSecret(form: FormState, saved: FormState): boolean {
  return (
    form.cloud !== saved.cloud ||
    host(form.apiBaseUrl) !== host(saved.apiBaseUrl) ||
    host(form.loginAuthority) !== host(saved.loginAuthority) ||
    host(form.proxyUrl) !== host(saved.proxyUrl) ||
    form.caCertificateFile.trim() !== saved.caCertificateFile.trim()
  );
}

/**
 * The draft sent to Rust. On edit the secret is null (keep the stored one) unless the user chose to replace it
 * or the edit moves the connection to other hosts (see movesSecret). A certificate draft names its certificate
 * and never carries a key: Rust adds the key it kept at import (import_certificate).
 * No validation here: Rust's validate_connection owns the rules.
 */
export function toDraft(form: FormState, editing: boolean, moved = false): ConnectionDraft {
  return {
    name: form.name,
    description: form.description,
    tenantId: form.tenantId,
    clientId: form.clientId,
    clientSecret: form.credential === "certificate" || (editing && !form.replaceSecret && !moved) ? null : form.secret,
    credential: form.credential,
    certificate: form.credential === "certificate" ? form.certificate : null,
    privateKey: null,
    frequency: frequencyOf(form.frequencyChoice, form.cron),
    cloud: form.cloud,
    apiBaseUrl: optional(form.apiBaseUrl),
    loginAuthority: optional(form.loginAuthority),
    proxyUrl: optional(form.proxyUrl),
    caCertificateFile: optional(form.caCertificateFile),
    data: {
      alerts: form.data.alerts,
      vulnerabilities: form.data.vulnerabilities,
      loggedOnUsers: form.data.loggedOnUsers,
      ipHistory: form.data.ipHistory,
    },
  };
}
