import type { CertificateFiles, CertificateInfo, CertificateState } from "../../ipc";

/** Rust refuses larger files too (mde-car-core's `MAX_FILE_BYTES`); checking here spares sending one. */
export const MAX_FILE_BYTES = 256 * 1024;

export const CERTIFICATE_ACCEPT = ".pem,.crt,.cer,.key,.pfx,.p12";

/** What a chosen file turned out to be: PEM text (certificate, key or both) or a binary PFX file. */
export type ChosenFile = { kind: "pem"; name: string; text: string } | { kind: "pfx"; name: string; base64: string };

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Reads a file the person chose; which kind it is is told by its content, as Rust does, not by its name. */
export async function readChosen(file: File): Promise<ChosenFile> {
  if (file.size > MAX_FILE_BYTES) {
    throw new Error(
      `${file.name} is ${Math.round(file.size / 1024)} kB, too large for a certificate or key file (at most ${MAX_FILE_BYTES / 1024} kB); choose the PEM or PFX file of the certificate`,
    );
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  return text.includes("-----BEGIN ") ? { kind: "pem", name: file.name, text } : { kind: "pfx", name: file.name, base64: base64(bytes) };
}

/** Whether a PEM text holds a private key block, so it can be imported without a second file. */
export function holdsKey(text: string): boolean {
  return /-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(text);
}

/** Whether a PEM text holds a certificate. */
export function holdsCertificate(text: string): boolean {
  return text.includes("-----BEGIN CERTIFICATE-----");
}

export function pemFiles(certificate: string, privateKey: string | null): CertificateFiles {
  return { kind: "pem", certificate, privateKey };
}

export function pfxFiles(pfxBase64: string, password: string): CertificateFiles {
  return { kind: "pfx", pfxBase64, password };
}

const DAY_MS = 86_400_000;

/** A date as the card and form show it: 2027-06-01 (UTC, the day Entra ID shows). */
export function day(iso: string): string {
  return iso.slice(0, 10);
}

/** Calendar days (UTC) from `now` to the day of `iso`, as Rust counts them (negative once past). Display only: Rust decides the state. */
export function daysUntil(iso: string, now: number): number {
  const dayOf = (ms: number) => Math.floor(ms / DAY_MS);
  return dayOf(Date.parse(iso)) - dayOf(now);
}

/** The expiry line of the facts: "2027-06-01 (in 182 days)", "2026-11-01 (expired 27 days ago)". */
export function expiryText(info: CertificateInfo, now: number): string {
  const days = daysUntil(info.notAfter, now);
  const when =
    Date.parse(info.notAfter) <= now
      ? `expired ${days === 0 ? "today" : days === -1 ? "yesterday" : `${-days} days ago`}`
      : days === 0
        ? "today"
        : days === 1
          ? "in 1 day"
          : `in ${days} days`;
  return `${day(info.notAfter)} (${when})`;
}

export function stateTone(state: CertificateState | null): "plain" | "warning" | "error" {
  switch (state) {
    case "expired":
      return "error";
    case "expires_soon":
    case "not_yet_valid":
      return "warning";
    default:
      return "plain";
  }
}
