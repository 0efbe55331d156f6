// The build secrets a Dagger build gets, read before any engine work. Its own module (no SDK import) so the rules are
// unit-tested without an engine.
import { readFile, stat } from "node:fs/promises";
import { LOCAL_CA_DIR, localCaCertificates, SYSTEM_CA_BUNDLE } from "../config.js";
import { ConfigError } from "../errors.js";
import type { Logger } from "../log/logger.js";

/** setSecret's documented plaintext limit; larger build secrets are refused before any engine work. */
export const DAGGER_SECRET_LIMIT_BYTES = 128_000;

/**
 * Reads the build's secret files (id → file) as [id, text] pairs. A file above setSecret's limit is refused, except
 * the system CA bundle (about 220 kB on Debian): a build needs from it only the CA(s) this machine added (a
 * TLS-inspecting proxy's; the image trusts the public ones itself), so those are passed instead, and where the machine
 * added none the secret is left out (the Dockerfiles use it only when it is there).
 */
export async function readDaggerSecrets(
  secrets: Readonly<Record<string, string>>,
  log: Logger,
  host: { systemBundle: string; localCaDir: string } = { systemBundle: SYSTEM_CA_BUNDLE, localCaDir: LOCAL_CA_DIR },
): Promise<[string, string][]> {
  const read: [string, string][] = [];
  for (const [id, file] of Object.entries(secrets)) {
    const size = (await stat(file)).size;
    if (size <= DAGGER_SECRET_LIMIT_BYTES) {
      read.push([id, await readFile(file, "utf8")]);
      continue;
    }
    if (id === "ca_bundle" && file === host.systemBundle) {
      const local = localCaCertificates(host.localCaDir);
      if (!local) {
        log.info(
          `build secret ca_bundle: ${file} is ${size} bytes, over Dagger's setSecret limit, and this machine added no CA of its own (${host.localCaDir}): left out, the image's own CAs apply`,
        );
        continue;
      }
      if (Buffer.byteLength(local.text) <= DAGGER_SECRET_LIMIT_BYTES) {
        log.info(
          `build secret ca_bundle: ${file} is ${size} bytes, over Dagger's setSecret limit; passing the ${local.files.length} CA file(s) this machine added (${local.files.join(", ")}) instead`,
        );
        read.push([id, local.text]);
        continue;
      }
    }
    throw new ConfigError(
      `build secret ${id} (${file}) is ${size} bytes; Dagger's setSecret takes at most ${DAGGER_SECRET_LIMIT_BYTES}`,
      {
        context: { secret: id, file, bytes: size },
        hint:
          id === "ca_bundle"
            ? "name only the CA(s) the build needs (e.g. your proxy's CA file) with E2E3D_CA_BUNDLE=<file>, or turn it off with E2E3D_CA_BUNDLE="
            : "pass a smaller file",
      },
    );
  }
  return read;
}
