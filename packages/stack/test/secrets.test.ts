// Secrets: generated strong on first deploy, owner-only, reused later; weak or loose files are refused.
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  DEFAULT_CREDENTIALS,
  ensureSecrets,
  inspectSecrets,
  SECRET_NAMES,
  SecretsError,
  secretVariable,
} from "../src/index.js";

const dirs: string[] = [];
const fresh = () => {
  const dir = mkdtempSync(join(tmpdir(), "e2e3d-secrets-"));
  dirs.push(dir);
  return join(dir, "project", "secrets.env");
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("secrets", () => {
  it("generates every secret on first use, strong and distinct, in an owner-only file", () => {
    const path = fresh();
    expect(inspectSecrets(path)).toMatchObject({ exists: false, missing: SECRET_NAMES, problems: [] });
    const { secrets, generated } = ensureSecrets(path);
    expect(generated).toEqual(SECRET_NAMES);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const values = Object.values(secrets);
    expect(new Set(values).size).toBe(values.length);
    for (const v of values) {
      expect(v.length).toBeGreaterThanOrEqual(20);
      expect(DEFAULT_CREDENTIALS).not.toContain(v.toLowerCase());
    }
    // Fernet keys are url-safe base64 of 32 bytes.
    expect(Buffer.from(secrets.airflow_fernet_key, "base64url").length).toBe(32);
  });

  it("reuses the stored values on later deploys and regenerates only a removed line", () => {
    const path = fresh();
    const first = ensureSecrets(path).secrets;
    expect(ensureSecrets(path)).toEqual({ secrets: first, generated: [] });
    const text = readFileSync(path, "utf8");
    const without = text
      .split("\n")
      .filter((l) => !l.startsWith(`${secretVariable("grafana_admin_password")}=`))
      .join("\n");
    writeFileSync(path, without, { mode: 0o600 });
    const again = ensureSecrets(path);
    expect(again.generated).toEqual(["grafana_admin_password"]);
    expect(again.secrets.postgres_password).toBe(first.postgres_password);
    expect(again.secrets.grafana_admin_password).not.toBe(first.grafana_admin_password);
  });

  it("refuses a file others can read, and a well-known default written into it", () => {
    const path = fresh();
    ensureSecrets(path);
    chmodSync(path, 0o644);
    expect(() => ensureSecrets(path)).toThrow(SecretsError);
    chmodSync(path, 0o600);
    const text = readFileSync(path, "utf8").replace(
      new RegExp(`${secretVariable("objectstore_secret_key")}=.*`),
      `${secretVariable("objectstore_secret_key")}=minioadmin`,
    );
    writeFileSync(path, text, { mode: 0o600 });
    expect(inspectSecrets(path).problems.join()).toMatch(/objectstore_secret_key is weak or a well-known default/);
  });
});
