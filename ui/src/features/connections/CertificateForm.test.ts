// The connection form's certificate sign-in: the choice, PEM (one file or two) and PFX import
// through Rust, the facts shown before saving, the saved certificate on edit, and errors where
// they belong. The key never passes through the form's draft.
import { cleanup, render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { CertificateImport, ConnectionDraft } from "../../ipc";
import { ipcError, mockBackend } from "../../mock/backend";
import { certificateInfo, CLIENT, TENANT, view } from "../../mock/fixtures";
import ConnectionForm from "./ConnectionForm.svelte";

const CERT = "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvkey\n-----END PRIVATE KEY-----\n";
const NOW = Date.parse("2026-12-01T12:00:00Z");

function imported(over: Partial<CertificateImport> = {}): CertificateImport {
  return { certificate: certificateInfo(), state: "valid", warnings: [], ...over };
}

function setup(editing: ReturnType<typeof view> | null = null) {
  const onsaved = vi.fn();
  // The file inputs' accept lists are hints for the picker; Rust and the form judge the content.
  const user = userEvent.setup({ applyAccept: false });
  render(ConnectionForm, { props: { editing, onsaved, onclose: vi.fn() } });
  return { user, onsaved };
}

const byId = (id: string) => screen.getByTestId(id);

async function fillIdentity(user: ReturnType<typeof userEvent.setup>) {
  await user.type(byId("field-name"), "Fabrikam");
  await user.type(byId("field-tenantId"), TENANT);
  await user.type(byId("field-clientId"), CLIENT);
}

describe("ConnectionForm with a certificate", () => {
  it("imports a PEM file with its key, shows subject, thumbprint and expiry, and saves a draft without a key", async () => {
    vi.useFakeTimers({ now: NOW, toFake: ["Date"] });
    const backend = mockBackend({ importCertificate: () => imported(), addConnection: () => view() });
    const { user, onsaved } = setup();
    await fillIdentity(user);
    await user.click(byId("field-credential-certificate"));
    expect(screen.queryByTestId("field-clientSecret")).toBeNull();
    await user.upload(byId("field-certificateFile"), new File([CERT + KEY], "mde-car.pem"));

    expect(await screen.findByTestId("form-certificate-facts-subject")).toHaveTextContent("CN=mde-car Contoso");
    expect(byId("form-certificate-facts-thumbprint")).toHaveTextContent("9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B");
    expect(byId("form-certificate-facts-expiry")).toHaveTextContent("2027-06-01 (in 182 days)");
    expect(backend.to("import_certificate")).toHaveLength(1);
    expect(backend.to("import_certificate")[0]!.args.files).toEqual({ kind: "pem", certificate: CERT + KEY, privateKey: null });

    await user.click(byId("form-save"));
    await waitFor(() => expect(onsaved).toHaveBeenCalled());
    const draft = backend.to("add_connection")[0]!.args.draft as ConnectionDraft;
    expect(draft).toMatchObject({ credential: "certificate", certificate: certificateInfo(), privateKey: null, clientSecret: null });
    // Nothing the form sent after the import holds the key.
    for (const call of backend.calls.filter((c) => c.cmd !== "import_certificate")) {
      expect(JSON.stringify(call.args)).not.toContain("PRIVATE KEY");
    }
    vi.useRealTimers();
  });

  it("asks for the key file when the PEM file holds the certificate alone", async () => {
    const backend = mockBackend({ importCertificate: () => imported() });
    const { user } = setup();
    await user.click(byId("field-credential-certificate"));
    await user.upload(byId("field-certificateFile"), new File([CERT], "mde-car.crt"));
    const keyInput = await screen.findByTestId("field-privateKeyFile");
    expect(backend.to("import_certificate")).toHaveLength(0);
    // A file without a key is named as such, and nothing is sent.
    await user.upload(keyInput, new File([CERT], "again.crt"));
    expect(await screen.findByTestId("error-privateKey")).toHaveTextContent("again.crt holds no private key");
    await user.upload(byId("field-privateKeyFile"), new File([KEY], "mde-car.key"));
    await screen.findByTestId("form-certificate-facts");
    expect(backend.to("import_certificate")[0]!.args.files).toEqual({ kind: "pem", certificate: CERT, privateKey: KEY });
  });

  it("opens a PFX file with its password, names a wrong one at the password, and forgets the password", async () => {
    const backend = mockBackend({
      importCertificate: (files) => {
        if (files.kind === "pfx" && files.password !== "right") {
          throw ipcError("validation", "certificatePassword: Wrong password for the PFX file", [
            { field: "certificatePassword", message: "Wrong password for the PFX file" },
          ]);
        }
        return imported({ state: "expires_soon", warnings: ["the certificate expires on 2026-12-20: create its successor and register it with the app"] });
      },
    });
    const { user } = setup();
    await user.click(byId("field-credential-certificate"));
    await user.upload(byId("field-certificateFile"), new File([new Uint8Array([0x30, 0x82, 0x01, 0xff, 0x02])], "mde-car.pfx"));
    const password = await screen.findByTestId("field-certificatePassword");
    await user.type(password, "wrong{Enter}");
    expect(await screen.findByTestId("error-certificatePassword")).toHaveTextContent("Wrong password for the PFX file");
    // Enter opened the file; it did not submit the form.
    expect(backend.to("validate_connection").every((c) => (c.args.draft as ConnectionDraft).name === "")).toBe(true);
    await user.clear(byId("field-certificatePassword"));
    await user.type(byId("field-certificatePassword"), "right");
    await user.click(byId("form-import-certificate"));
    expect(await screen.findByTestId("form-certificate-facts")).toHaveAttribute("data-state", "expires_soon");
    expect(byId("form-certificate-facts-warning")).toHaveTextContent(
      "The certificate expires on 2026-12-20: create its successor and register it with the app.",
    );
    const sent = backend.to("import_certificate").at(-1)!.args.files;
    expect(sent).toEqual({ kind: "pfx", pfxBase64: "MIIB/wI=", password: "right" });
    await waitFor(() => expect(backend.to("validate_connection").length).toBeGreaterThan(0));
    for (const call of backend.to("validate_connection")) expect(JSON.stringify(call.args)).not.toContain("right");
  });

  it("says what is wrong with a file that is no certificate, and with a file that is too large", async () => {
    mockBackend();
    const { user } = setup();
    await user.click(byId("field-credential-certificate"));
    await user.upload(byId("field-certificateFile"), new File([KEY], "only.key"));
    expect(await screen.findByTestId("error-certificate")).toHaveTextContent("only.key holds no certificate");
    await user.upload(byId("field-certificateFile"), new File([new Uint8Array(300 * 1024)], "huge.bin"));
    expect(await screen.findByTestId("error-certificate")).toHaveTextContent("huge.bin is 300 kB, too large");
  });

  it("on edit shows the saved certificate's facts and lets the user replace it or keep it", async () => {
    const info = certificateInfo({ subject: "CN=saved", thumbprintSha1: "AB".repeat(20) });
    const editing = view({ credential: "certificate", certificate: info, certificateState: "valid" });
    const backend = mockBackend({
      importCertificate: () => imported({ certificate: certificateInfo({ subject: "CN=renewed", thumbprintSha256: "CD".repeat(32) }) }),
      updateConnection: () => editing,
    });
    const { user, onsaved } = setup(editing);
    expect(byId("field-credential-certificate")).toBeChecked();
    expect(byId("form-certificate-facts-subject")).toHaveTextContent("CN=saved");
    expect(byId("form-certificate")).toHaveTextContent("Saved. Its private key is in the OS keyring and never shown.");

    await user.click(byId("form-replace-certificate"));
    expect(byId("field-certificateFile")).toBeInTheDocument();
    await user.click(byId("form-keep-certificate"));
    expect(byId("form-certificate-facts-subject")).toHaveTextContent("CN=saved");
    await user.click(byId("form-save"));
    await waitFor(() => expect(onsaved).toHaveBeenCalledTimes(1));
    expect((backend.to("update_connection")[0]!.args.draft as ConnectionDraft).certificate).toEqual(info);

    await user.click(byId("form-replace-certificate"));
    await user.upload(byId("field-certificateFile"), new File([CERT + KEY], "renewed.pem"));
    expect(await screen.findByTestId("form-certificate-facts-subject")).toHaveTextContent("CN=renewed");
    await user.click(byId("form-save"));
    await waitFor(() => expect(onsaved).toHaveBeenCalledTimes(2));
    const draft = backend.to("update_connection")[1]!.args.draft as ConnectionDraft;
    expect(draft.certificate?.subject).toBe("CN=renewed");
    expect(draft.privateKey).toBeNull();
  });

  it("shows Rust's key and certificate problems next to the certificate", async () => {
    mockBackend({
      validateConnection: () => [{ field: "privateKey", message: "Import the certificate's private key (a PEM key file, or a PFX file that holds it)" }],
    });
    const { user } = setup(view({ credential: "certificate", certificate: certificateInfo(), certificateState: "valid" }));
    await user.click(byId("form-save"));
    expect(await screen.findByTestId("error-privateKey")).toHaveTextContent("Import the certificate's private key");
    expect(screen.queryByTestId("form-error")).toBeNull();
  });

  it("switching a secret connection to a certificate asks for one, and back asks for the secret", async () => {
    mockBackend();
    const { user } = setup(view());
    await user.click(byId("field-credential-certificate"));
    expect(byId("field-certificateFile")).toBeInTheDocument();
    const certificateEditing = view({ credential: "certificate", certificate: certificateInfo(), certificateState: "valid" });
    cleanup();
    setup(certificateEditing);
    await user.click(byId("field-credential-secret"));
    expect(byId("form-secret-kind")).toHaveTextContent("Enter the client secret: this connection signed in with a certificate until now.");
    expect(byId("field-clientSecret")).toBeInTheDocument();
  });
});
