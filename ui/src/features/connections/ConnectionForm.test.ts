import { render, screen, waitFor } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { ConnectionDraft, ConnectionView, FieldError } from "../../ipc";
import { ipcError, mockBackend } from "../../mock/backend";
import { CLIENT, report, TENANT, view } from "../../mock/fixtures";
import ConnectionForm from "./ConnectionForm.svelte";

function setup(editing: ReturnType<typeof view> | null = null) {
  const onsaved = vi.fn();
  const onclose = vi.fn();
  const user = userEvent.setup();
  render(ConnectionForm, { props: { editing, onsaved, onclose } });
  return { user, onsaved, onclose };
}

const byId = (id: string) => screen.getByTestId(id);

async function fillValid(user: ReturnType<typeof userEvent.setup>) {
  await user.type(byId("field-name"), "Fabrikam");
  await user.type(byId("field-description"), "US fleet");
  await user.type(byId("field-tenantId"), TENANT);
  await user.type(byId("field-clientId"), CLIENT);
  await user.type(byId("field-clientSecret"), "s3cr3t~value");
}

describe("ConnectionForm", () => {
  it("shows validateConnection messages for touched fields only, then all of them after a save attempt", async () => {
    const errors: FieldError[] = [
      { field: "clientId", message: "Enter the application (client) ID." },
      { field: "tenantId", message: "Tenant ID must be a GUID or a verified domain." },
    ];
    const backend = mockBackend({ validateConnection: () => errors, addConnection: () => view() });
    const { user, onsaved } = setup();

    await user.type(byId("field-tenantId"), "not a tenant");
    expect(await screen.findByTestId("error-tenantId")).toHaveTextContent(
      "Tenant ID must be a GUID or a verified domain.",
    );
    expect(byId("field-tenantId")).toHaveAttribute("aria-invalid", "true");
    expect(screen.queryByTestId("error-clientId")).toBeNull();

    await user.click(byId("form-save"));
    expect(await screen.findByTestId("error-clientId")).toHaveTextContent("Enter the application (client) ID.");
    expect(backend.to("add_connection")).toHaveLength(0);
    expect(onsaved).not.toHaveBeenCalled();
    // The draft under validation is the one on screen.
    const last = backend.to("validate_connection").at(-1)!;
    expect((last.args.draft as ConnectionDraft).tenantId).toBe("not a tenant");
    expect(last.args.editingId).toBeNull();
  });

  it("debounces validation while typing", async () => {
    const backend = mockBackend();
    const { user } = setup();
    await waitFor(() => expect(backend.to("validate_connection").length).toBeGreaterThan(0));
    const before = backend.to("validate_connection").length;
    await user.type(byId("field-name"), "abcdefgh");
    await waitFor(() => expect(backend.to("validate_connection").length).toBeGreaterThan(before));
    // Eight keystrokes faster than 150 ms apart must not produce eight calls.
    expect(backend.to("validate_connection").length - before).toBeLessThan(4);
    expect((backend.to("validate_connection").at(-1)!.args.draft as ConnectionDraft).name).toBe("abcdefgh");
  });

  it("adds a valid connection with exactly the draft on screen", async () => {
    const saved = view({ id: "new1", name: "Fabrikam" });
    const backend = mockBackend({
      addConnection: () => saved,
      chooseCaCertificateFile: () => "/etc/ssl/corp/inspection-ca.pem",
    });
    const { user, onsaved } = setup();
    await fillValid(user);
    await user.selectOptions(byId("field-frequency"), "60");
    await user.click(byId("field-data-vulnerabilities"));
    await user.click(byId("form-advanced"));
    await user.selectOptions(byId("field-cloud"), "gcc_high");
    await user.type(byId("field-apiBaseUrl"), "https://api-gov.securitycenter.microsoft.us");
    await user.type(byId("field-proxyUrl"), "http://proxy.corp.example:8080");
    await user.click(byId("form-choose-ca"));
    await waitFor(() => expect(byId("field-caCertificateFile")).toHaveValue("/etc/ssl/corp/inspection-ca.pem"));
    expect(byId("form-advanced")).toHaveTextContent("proxy");
    expect(byId("form-advanced")).toHaveTextContent("custom CA");
    await user.click(byId("form-save"));

    await waitFor(() => expect(onsaved).toHaveBeenCalledWith(saved));
    expect(backend.to("add_connection")).toHaveLength(1);
    expect(backend.to("add_connection")[0]!.args).toEqual({
      draft: {
        name: "Fabrikam",
        description: "US fleet",
        tenantId: TENANT,
        clientId: CLIENT,
        clientSecret: "s3cr3t~value",
        credential: "secret",
        certificate: null,
        privateKey: null,
        frequency: { kind: "interval", minutes: 60 },
        cloud: "gcc_high",
        apiBaseUrl: "https://api-gov.securitycenter.microsoft.us",
        loginAuthority: null,
        proxyUrl: "http://proxy.corp.example:8080",
        caCertificateFile: "/etc/ssl/corp/inspection-ca.pem",
        data: { alerts: true, vulnerabilities: false, loggedOnUsers: true, ipHistory: true },
      },
    });
  });

  it("submits with Enter and disables Save while saving", async () => {
    let finish: (v: ConnectionView) => void = () => {};
    const backend = mockBackend({ addConnection: () => new Promise((r) => (finish = r)) });
    const { user, onsaved } = setup();
    await fillValid(user);
    await user.keyboard("{Enter}");
    await waitFor(() => expect(backend.to("add_connection")).toHaveLength(1));
    expect(byId("form-save")).toBeDisabled();
    expect(byId("form-save")).toHaveTextContent("Saving…");
    finish(view());
    await waitFor(() => expect(onsaved).toHaveBeenCalled());
  });

  it("on edit sends a null secret unless the user replaces it", async () => {
    const editing = view({ frequency: { kind: "cron", expression: "0 2 * * *" } });
    const backend = mockBackend({ updateConnection: () => editing });
    const { user, onsaved } = setup(editing);

    expect(screen.queryByTestId("field-clientSecret")).toBeNull();
    expect(byId("field-name")).toHaveValue("Contoso production");
    expect(byId("field-frequency")).toHaveValue("cron");
    expect(byId("field-cron")).toHaveValue("0 2 * * *");
    await user.click(byId("form-save"));
    await waitFor(() => expect(onsaved).toHaveBeenCalledTimes(1));
    const first = backend.to("update_connection")[0]!.args;
    expect(first.id).toBe("c1");
    expect(first.draft).toEqual({
      name: "Contoso production",
      description: "EU servers and workstations",
      tenantId: TENANT,
      clientId: CLIENT,
      clientSecret: null,
      credential: "secret",
      certificate: null,
      privateKey: null,
      frequency: { kind: "cron", expression: "0 2 * * *" },
      cloud: "commercial",
      apiBaseUrl: null,
      loginAuthority: null,
      proxyUrl: null,
      caCertificateFile: null,
      data: { alerts: true, vulnerabilities: true, loggedOnUsers: false, ipHistory: true },
    });
    expect(backend.to("validate_connection").at(-1)!.args.editingId).toBe("c1");

    await user.click(byId("form-replace-secret"));
    expect(byId("field-clientSecret")).toHaveValue("");
    await user.type(byId("field-clientSecret"), "rotated");
    await user.click(byId("form-save"));
    await waitFor(() => expect(backend.to("update_connection")).toHaveLength(2));
    expect((backend.to("update_connection")[1]!.args.draft as ConnectionDraft).clientSecret).toBe("rotated");
  });

  it("asks for the secret again when an edit points the connection at other hosts", async () => {
    const editing = view();
    const backend = mockBackend({ updateConnection: () => editing });
    const { user, onsaved } = setup(editing);
    expect(screen.queryByTestId("field-clientSecret")).toBeNull();
    await user.click(byId("form-advanced"));
    await user.type(byId("field-apiBaseUrl"), "https://api.elsewhere.example");
    // The field is there, required, with the reason; no way to keep the stored one.
    expect(byId("form-secret-moved")).toHaveTextContent("a stored secret is only sent where it was entered for");
    expect(byId("field-clientSecret")).toHaveValue("");
    expect(screen.queryByTestId("form-replace-secret")).toBeNull();
    await user.type(byId("field-clientSecret"), "typed~again");
    await user.click(byId("form-save"));
    await waitFor(() => expect(onsaved).toHaveBeenCalledTimes(1));
    const sent = backend.to("update_connection")[0]!.args.draft as ConnectionDraft;
    expect(sent.apiBaseUrl).toBe("https://api.elsewhere.example");
    expect(sent.clientSecret).toBe("typed~again");
    // Back to the saved hosts, the stored secret may be kept again.
    await user.clear(byId("field-apiBaseUrl"));
    expect(screen.queryByTestId("form-secret-moved")).toBeNull();
    expect(byId("form-replace-secret")).toBeInTheDocument();
  });

  it("shows save errors with fields next to the fields and other codes in the general line", async () => {
    let failure = ipcError("validation", "Invalid connection", [
      { field: "clientId", message: "Client ID must be a GUID." },
    ]);
    mockBackend({
      addConnection: () => {
        throw failure;
      },
    });
    const { user, onsaved } = setup();
    await fillValid(user);
    await user.click(byId("form-save"));
    expect(await screen.findByTestId("error-clientId")).toHaveTextContent("Client ID must be a GUID.");
    expect(screen.queryByTestId("form-error")).toBeNull();

    failure = ipcError("keyring", "The OS keyring is locked.");
    await user.click(byId("form-save"));
    expect(await screen.findByTestId("form-error")).toHaveTextContent("The OS keyring is locked.");

    failure = ipcError("duplicate_name", "A connection named “Fabrikam” already exists.");
    await user.click(byId("form-save"));
    expect(await screen.findByTestId("error-name")).toHaveTextContent("already exists");
    expect(onsaved).not.toHaveBeenCalled();
  });

  it("echoes a cron expression in words, and the parser's complaint when it can't read it", async () => {
    const backend = mockBackend({ addConnection: () => view() });
    const { user } = setup();
    expect(screen.queryByTestId("field-cron")).toBeNull();
    await user.selectOptions(byId("field-frequency"), "cron");
    expect(byId("cron-echo")).toHaveTextContent("On the hour, every 4 hours");

    await user.clear(byId("field-cron"));
    await user.type(byId("field-cron"), "0 2 * * 1-5");
    expect(byId("cron-echo")).toHaveTextContent("At 02:00, Monday through Friday");

    await user.clear(byId("field-cron"));
    await user.type(byId("field-cron"), "0 2 *");
    expect(byId("cron-echo")).toHaveTextContent("Expression has only 3 parts. At least 5 parts are required.");

    await user.clear(byId("field-cron"));
    await user.type(byId("field-cron"), "30 6 * * *");
    await fillValid(user);
    await user.click(byId("form-save"));
    await waitFor(() => expect(backend.to("add_connection")).toHaveLength(1));
    expect((backend.to("add_connection")[0]!.args.draft as ConnectionDraft).frequency).toEqual({
      kind: "cron",
      expression: "30 6 * * *",
    });
  });

  it("lists the permissions Rust says the data selection needs", async () => {
    const backend = mockBackend({
      requiredPermissions: (data) => ["Machine.Read.All", ...(data.alerts ? ["Alert.Read.All"] : [])],
    });
    const { user } = setup();
    const list = byId("form-permissions");
    await waitFor(() => expect(list).toHaveTextContent("Alert.Read.All"));
    await user.click(byId("field-data-alerts"));
    await waitFor(() => expect(list).not.toHaveTextContent("Alert.Read.All"));
    expect(list).toHaveTextContent("Machine.Read.All");
    expect(backend.to("required_permissions").at(-1)!.args.data).toEqual({
      alerts: false,
      vulnerabilities: true,
      loggedOnUsers: true,
      ipHistory: true,
    });
  });

  it("tests the draft before saving and shows the report inline", async () => {
    const backend = mockBackend({
      testDraft: () =>
        report({ ok: false, code: "wrong_secret", title: "Wrong client secret", detail: "AADSTS7000215", grantedRoles: [] }),
    });
    const { user } = setup(view());
    await user.click(byId("form-test"));
    const result = await screen.findByTestId("form-test-result");
    await waitFor(() => expect(result).toHaveTextContent("Wrong client secret"));
    expect(result).toHaveTextContent("AADSTS7000215");
    expect(backend.to("test_draft")[0]!.args).toMatchObject({ editingId: "c1", draft: { clientSecret: null } });
    expect(backend.to("add_connection")).toHaveLength(0);
  });

  it("opens Advanced to show a proxy or CA file problem from Save, and keeps the path on a cancelled choice", async () => {
    const backend = mockBackend({
      chooseCaCertificateFile: () => null,
      addConnection: () => {
        throw ipcError("validation", "1 field is invalid", [
          { field: "caCertificateFile", message: "/tmp/ca.cer is a binary (DER) certificate; export it as Base-64 (PEM)" },
        ]);
      },
    });
    const { user, onsaved } = setup();
    await fillValid(user);
    await user.click(byId("form-advanced"));
    await user.type(byId("field-caCertificateFile"), "/tmp/ca.cer");
    await user.click(byId("form-choose-ca"));
    await waitFor(() => expect(backend.to("choose_ca_certificate_file")).toHaveLength(1));
    expect(byId("field-caCertificateFile")).toHaveValue("/tmp/ca.cer");
    await user.click(byId("form-advanced"));
    expect(screen.queryByTestId("field-caCertificateFile")).toBeNull();
    await user.click(byId("form-save"));
    expect(await screen.findByTestId("error-caCertificateFile")).toHaveTextContent("binary (DER) certificate");
    expect(byId("field-caCertificateFile")).toHaveAttribute("aria-invalid", "true");
    expect(onsaved).not.toHaveBeenCalled();
  });

  it("keeps Advanced collapsed by default and closes on Esc", async () => {
    mockBackend();
    const { user, onclose } = setup();
    expect(screen.queryByTestId("field-cloud")).toBeNull();
    await user.click(byId("form-advanced"));
    expect(byId("field-cloud")).toHaveValue("commercial");
    expect(byId("field-loginAuthority")).toBeInTheDocument();
    await user.keyboard("{Escape}");
    expect(onclose).toHaveBeenCalledTimes(1);
  });

  it("toggles the secret between hidden and shown", async () => {
    mockBackend();
    const { user } = setup();
    expect(byId("field-clientSecret")).toHaveAttribute("type", "password");
    await user.click(byId("form-show-secret"));
    expect(byId("field-clientSecret")).toHaveAttribute("type", "text");
  });
});
