// Pins third-party images: `update` resolves the images file against live registries into the lock (atomically);
// `check` reports drift and changes nothing. Exit codes: 0 clean/updated, 1 error, 2 drift (check only).

import { type CheckResult, checkLock, clientFromEnv, formatError, remapRulesFromEnv, updateLock } from "@e2e3d/oci";
import { Command, Option } from "commander";

const PRODUCTION_LOCK = "docker/images.lock.json";

const collect = (value: string, previous: string[]) => [...previous, value];

const program = new Command("lock")
  .description("Resolve image tags to digests (update) or report drift (check)")
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 1));

const common = (cmd: Command) =>
  cmd
    .option("--images <file>", "images file (what we want)", "docker/images.yaml")
    .option("--lock <file>", "lock file (what it resolved to)", PRODUCTION_LOCK)
    .option(
      "--remap <from=to>",
      "serve a registry from elsewhere, e.g. docker.io=127.0.0.1:5101/docker.io (repeatable; env E2E3D_REGISTRY_REMAP)",
      collect,
      [],
    )
    .addOption(new Option("--json", "print a JSON report on stdout"));

common(program.command("update"))
  .description("resolve NAMEs (all when none) and write the lock atomically")
  .argument("[names...]", "image names from the images file")
  .action(async (names: string[], opts: { images: string; lock: string; remap: string[]; json?: boolean }) => {
    const client = clientFromEnv();
    const started = performance.now();
    try {
      const result = await updateLock(client, {
        imagesPath: opts.images,
        lockPath: opts.lock,
        names,
        rules: remapRulesFromEnv(process.env, opts.remap),
        onResolved: (name, entry, changed) =>
          process.stderr.write(
            `${changed ? "updated " : "unchanged"} ${name.padEnd(18)} ${entry.source}:${entry.tag} ${entry.digest}\n`,
          ),
      });
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      if (opts.json)
        process.stdout.write(
          `${JSON.stringify({ ...result, lockFile: opts.lock, seconds: Number(seconds) }, null, 2)}\n`,
        );
      process.stderr.write(
        `lock ${opts.lock}: ${result.changed.length} changed, ${result.unchanged.length} unchanged, ${result.removed.length} removed (${seconds}s)\n`,
      );
    } finally {
      await client.close();
    }
  });

common(program.command("check"))
  .description(
    "report drift between the images file, the lock and upstream; changes nothing (exit 0 clean, 2 drift, 1 error)",
  )
  .action(async (opts: { images: string; lock: string; remap: string[]; json?: boolean }) => {
    const client = clientFromEnv();
    let result: CheckResult;
    try {
      result = await checkLock(client, {
        imagesPath: opts.images,
        lockPath: opts.lock,
        rules: remapRulesFromEnv(process.env, opts.remap),
      });
    } finally {
      await client.close();
    }
    if (opts.json) process.stdout.write(`${JSON.stringify({ lockFile: opts.lock, ...result }, null, 2)}\n`);
    if (result.lockMissing) {
      const production = opts.lock === PRODUCTION_LOCK;
      process.stderr.write(
        `drift: lock file ${opts.lock} does not exist.\n` +
          (production
            ? "  The production lock is resolved against the real public registries by the scheduled mirror workflow\n" +
              "  (`npx tsx pipelines/lock.ts update`, then a reviewed commit). Digests are never typed by hand.\n" +
              "  Machines without access to the public registries (the lab) use their own lock: see packages/oci/README.md.\n"
            : `  resolve it with: npx tsx pipelines/lock.ts update --images ${opts.images} --lock ${opts.lock}\n`),
      );
    } else {
      for (const item of result.items) {
        const digests = item.locked
          ? ` (locked ${item.locked}${item.upstream ? `, upstream ${item.upstream}` : ""})`
          : "";
        process.stderr.write(`${item.kind.padEnd(12)} ${item.name}: ${item.detail}${digests}\n`);
      }
      process.stderr.write(`${result.status}: ${result.checked} checked upstream, ${result.items.length} finding(s)\n`);
    }
    process.exitCode = result.status === "clean" ? 0 : result.status === "drift" ? 2 : 1;
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`${formatError(err)}\n`);
  process.exitCode = 1;
}
