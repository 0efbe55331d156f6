// The build secrets a Dagger build gets: setSecret's limit, and the system CA bundle that is over it on Debian.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DAGGER_SECRET_LIMIT_BYTES, readDaggerSecrets } from "../src/engines/dagger-secrets.js";
import { ConfigError } from "../src/errors.js";
import { captureLogger } from "./support/env.js";

const PEM = (n: number) => `-----BEGIN CERTIFICATE-----\nLOCAL${n}\n-----END CERTIFICATE-----\n`;

describe("readDaggerSecrets", () => {
  let dir: string;
  let host: { systemBundle: string; localCaDir: string };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "e2e3d-dagger-secrets-"));
    host = { systemBundle: join(dir, "ca-certificates.crt"), localCaDir: join(dir, "local-cas") };
    await writeFile(host.systemBundle, "x".repeat(219_597));
    await mkdir(host.localCaDir);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("passes a secret within the limit whole", async () => {
    const file = join(dir, "token");
    await writeFile(file, "y".repeat(DAGGER_SECRET_LIMIT_BYTES));
    const read = await readDaggerSecrets({ token: file }, captureLogger().log, host);
    expect(read).toEqual([["token", "y".repeat(DAGGER_SECRET_LIMIT_BYTES)]]);
  });

  it("passes the CAs this machine added in place of an oversize system bundle", async () => {
    await writeFile(join(host.localCaDir, "proxy.crt"), PEM(1));
    const { log, text } = captureLogger();
    const read = await readDaggerSecrets({ ca_bundle: host.systemBundle }, log, host);
    expect(read).toEqual([["ca_bundle", PEM(1)]]);
    expect(text()).toContain("passing the 1 CA file(s) this machine added");
  });

  it("leaves an oversize system bundle out when the machine added no CA, saying so (the build goes on)", async () => {
    const { log, text } = captureLogger();
    const read = await readDaggerSecrets({ ca_bundle: host.systemBundle }, log, host);
    expect(read).toEqual([]);
    expect(text()).toContain("added no CA of its own");
  });

  it("refuses any other secret over the limit, naming it, its size and the fix", async () => {
    const big = join(dir, "big.pem");
    await writeFile(big, "z".repeat(DAGGER_SECRET_LIMIT_BYTES + 1));
    const error = await readDaggerSecrets({ ca_bundle: big }, captureLogger().log, host).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(`${DAGGER_SECRET_LIMIT_BYTES + 1} bytes`);
    expect((error as ConfigError).hint).toContain("E2E3D_CA_BUNDLE");
  });
});
