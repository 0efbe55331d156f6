// Promotes a tested digest to release tags in the private registry: manifest PUTs only, no rebuild, no blob
// traffic. Existing release tags never move unless --force (loudly). Exit codes: 0 done, 1 error, 2 refused.

import { clientFromEnv, formatError, promote, TagImmutableError } from "@e2e3d/oci";
import { Command } from "commander";

const program = new Command("promote")
  .description("Point release tags at a tested digest (immutable releases)")
  .requiredOption("--from <ref@digest>", "the tested image, by digest")
  .requiredOption("--tags <list>", "comma-separated release tags, e.g. v1.2.3,1.2")
  .option("--to <repository>", "target repository in the same registry (default: the source repository)")
  .option("--force", "move existing release tags to this digest (rewrites a release: avoid)")
  .option("--json", "print the result as JSON")
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 1));

try {
  program.parse(process.argv);
  const opts = program.opts<{ from: string; tags: string; to?: string; force?: boolean; json?: boolean }>();
  const client = clientFromEnv();
  try {
    const result = await promote(client, {
      from: opts.from,
      tags: opts.tags
        .split(",")
        .map((t) => t.trim())
        .filter((t) => t !== ""),
      ...(opts.to ? { to: opts.to } : {}),
      force: opts.force ?? false,
      onWarning: (message) => process.stderr.write(`\n!!!!!!!!!!\n${message}\n!!!!!!!!!!\n\n`),
    });
    for (const tag of result.tags)
      process.stderr.write(`${tag.action.padEnd(9)} ${result.repository}:${tag.tag} → ${result.digest}\n`);
    if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await client.close();
  }
} catch (err) {
  process.stderr.write(`${formatError(err)}\n`);
  process.exitCode = err instanceof TagImmutableError ? 2 : 1;
}
