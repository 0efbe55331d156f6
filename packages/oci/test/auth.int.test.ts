// The bearer-token challenge flow against a real registry with token auth: scoped per repository, Basic credentials
// sent only to the token service, tokens cached, anonymous pull where allowed, and clear errors without secrets.
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeUnless } from "../../../tools/skips/src/skip.js";
import { staticCredentials } from "../src/auth.js";
import { RegistryClient } from "../src/client.js";
import { copyImage } from "../src/copy.js";
import { AuthError } from "../src/errors.js";
import { parseReference } from "../src/reference.js";
import { pushImage } from "./support/images.js";
import { registryAvailable, startRegistry, type TestRegistry } from "./support/registry.js";
import { startTokenServer, type TokenServer } from "./support/token-server.js";

const available = registryAvailable();

describeUnless(available.ok ? undefined : available.reason)("bearer token auth against a real registry", () => {
  let tokens: TokenServer;
  let registry: TestRegistry;
  const password = "pa55-not-in-any-log";

  beforeAll(async () => {
    tokens = await startTokenServer({ ci: password });
    registry = await startRegistry({ extraConfig: tokens.registryConfig });
  });
  afterAll(async () => {
    await registry?.stop();
    await tokens?.stop();
  });

  it("pushes, pulls and mounts with per-repository scoped tokens, caching them", async () => {
    const client = new RegistryClient({
      credentials: staticCredentials({ [registry.host]: { username: "ci", password } }),
    });
    try {
      const image = await pushImage(client, `${registry.host}/public/app`, { layers: [1000, 2000], tag: "1" });
      const stats = await copyImage(client, `${registry.host}/public/app:1`, `${registry.host}/private/app:1`);
      expect(stats).toMatchObject({ digest: image.descriptor.digest, blobsMounted: 3 });
      const scopes = tokens.requests.map((r) => r.scopes.join(" "));
      expect(scopes).toContain("repository:public/app:pull,push");
      expect(scopes).toContain("repository:private/app:pull,push repository:public/app:pull");
      expect(tokens.requests.every((r) => r.user === "ci")).toBe(true);
      // One token per distinct scope set, reused across requests.
      expect(new Set(scopes).size).toBe(scopes.length);
      expect(client.metrics.requests["GET token"]).toBe(scopes.length);
    } finally {
      await client.close();
    }
  });

  it("pulls anonymously where the token service allows it, and refuses a push with a clear error", async () => {
    const anonymous = new RegistryClient({ credentials: async () => undefined });
    try {
      const manifest = await anonymous.getManifest(parseReference(`${registry.host}/public/app:1`));
      expect(manifest.parsed.blobs).toHaveLength(3);
      const error = await pushImage(anonymous, `${registry.host}/public/other`, { layers: [10], tag: "x" }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AuthError);
      expect(error).toMatchObject({ registry: registry.host, status: 401 });
      expect((error as Error).message).toMatch(/refused our credentials/);
    } finally {
      await anonymous.close();
    }
  });

  it("reports wrong credentials from the token service without leaking them", async () => {
    const wrong = new RegistryClient({
      credentials: staticCredentials({ [registry.host]: { username: "ci", password: "wrong-secret-xyz" } }),
    });
    try {
      const error = await wrong.getManifest(parseReference(`${registry.host}/public/app:1`)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthError);
      expect(error).toMatchObject({ status: 401, operation: "fetch bearer token" });
      expect(JSON.stringify(error) + String((error as Error).message)).not.toContain("wrong-secret-xyz");
    } finally {
      await wrong.close();
    }
  });
});

describeUnless(available.ok ? undefined : available.reason)("basic auth (htpasswd) against a real registry", () => {
  let registry: TestRegistry;
  let dir: string;
  const password = "basic-pa55-not-in-any-log";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "e2e3d-oci-htpasswd-"));
    // bcrypt from libxcrypt through Debian's Python (no htpasswd binary on these machines); the registry checks it.
    const hash = execFileSync(
      "/usr/bin/python3",
      [
        "-W",
        "ignore",
        "-c",
        "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
        password,
      ],
      {
        encoding: "utf8",
      },
    ).trim();
    await writeFile(join(dir, "htpasswd"), `ci:${hash}\n`);
    registry = await startRegistry({
      extraConfig: ["auth:", "  htpasswd:", "    realm: e2e3d-test", `    path: ${join(dir, "htpasswd")}`].join("\n"),
    });
  });
  afterAll(async () => {
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("answers the Basic challenge with stored credentials, and fails clearly without them", async () => {
    const client = new RegistryClient({
      credentials: staticCredentials({ [registry.host]: { username: "ci", password } }),
    });
    const anonymous = new RegistryClient({ credentials: async () => undefined });
    try {
      const image = await pushImage(client, `${registry.host}/basic/app`, { layers: [100], tag: "1" });
      expect((await client.headManifest(parseReference(`${registry.host}/basic/app:1`)))?.digest).toBe(
        image.descriptor.digest,
      );
      const error = await anonymous
        .headManifest(parseReference(`${registry.host}/basic/app:1`))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthError);
      expect((error as Error).message).toContain("no credentials were found");
      expect(String((error as Error).message)).not.toContain(password);
    } finally {
      await client.close();
      await anonymous.close();
    }
  });
});
