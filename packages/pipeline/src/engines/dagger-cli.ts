// How the Dagger SDK reaches an engine, decided before the SDK is loaded. The SDK connects through, in order:
// a `dagger run` session (DAGGER_SESSION_PORT), the CLI named by _EXPERIMENTAL_DAGGER_CLI_BIN, or a CLI it
// downloads. A CLI that merely sits on PATH is NOT used by the SDK, and the download cannot work offline, so a found
// CLI is exported as _EXPERIMENTAL_DAGGER_CLI_BIN. CLI, SDK and engine must be the same version (dagger#6938): a
// mismatch is refused here, before any build starts, instead of surfacing as an obscure GraphQL error mid-build.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { ConfigError } from "../errors.js";
import { onPath } from "./select.js";

export class DaggerUnavailableError extends ConfigError {}

/** The installed SDK's version, read from its package.json (the package's exports do not expose it). */
export function daggerSdkVersion(): string {
  let dir = dirname(createRequire(import.meta.url).resolve("@dagger.io/dagger"));
  while (dir !== dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (manifest.name === "@dagger.io/dagger" && manifest.version) return manifest.version;
    }
    dir = dirname(dir);
  }
  throw new DaggerUnavailableError("cannot find the installed @dagger.io/dagger package's version", {
    hint: "run npm ci",
  });
}

/** "dagger v0.21.8 (docker-image://…) linux/amd64" → "0.21.8". */
export function parseCliVersion(output: string): string | undefined {
  return /\bv?(\d+\.\d+\.\d+(?:-[\w.]+)?)\b/.exec(output)?.[1];
}

export type DaggerConnection =
  | { via: "session"; sdkVersion: string }
  | { via: "cli"; cli: string; cliVersion: string; sdkVersion: string };

const FIX_NO_ENGINE =
  "run under `dagger run …`, or put a Dagger CLI of the SDK's version on PATH (the lab builds one: npx tsx tools/lab/src/cli.ts up), or use --engine docker";

/**
 * Decides how the SDK will connect and makes it so (exports _EXPERIMENTAL_DAGGER_CLI_BIN into `env`).
 * Throws DaggerUnavailableError when no session or CLI exists, or when the CLI's version differs from the SDK's.
 */
export function prepareDaggerConnection(env: NodeJS.ProcessEnv = process.env): DaggerConnection {
  const sdkVersion = daggerSdkVersion();
  if (env["DAGGER_SESSION_PORT"]) return { via: "session", sdkVersion };
  const named = env["_EXPERIMENTAL_DAGGER_CLI_BIN"];
  const cli = named || onPath("dagger", env);
  if (!cli) {
    throw new DaggerUnavailableError(
      `no Dagger session and no dagger CLI: the SDK would download CLI v${sdkVersion}, which this machine cannot reach`,
      { hint: FIX_NO_ENGINE },
    );
  }
  let output: string;
  try {
    output = execFileSync(cli, ["version"], { encoding: "utf8", stdio: "pipe", timeout: 30_000, env });
  } catch (error) {
    throw new DaggerUnavailableError(`the dagger CLI at ${cli} does not run: ${(error as Error).message}`, {
      context: { cli },
      hint: FIX_NO_ENGINE,
      cause: error,
    });
  }
  const cliVersion = parseCliVersion(output);
  if (cliVersion !== sdkVersion) {
    throw new DaggerUnavailableError(
      `the dagger CLI at ${cli} is ${cliVersion ? `v${cliVersion}` : `of unknown version (${output.trim()})`} but the SDK is v${sdkVersion}; they must match exactly`,
      {
        context: { cli, cliVersion, sdkVersion },
        hint: `install CLI v${sdkVersion} (the lab builds it), or pin @dagger.io/dagger to the CLI's version in .projenrc.ts (DAGGER_VERSION) and run npx projen`,
      },
    );
  }
  env["_EXPERIMENTAL_DAGGER_CLI_BIN"] = cli;
  return { via: "cli", cli, cliVersion, sdkVersion };
}
