// Mirrors pinned images into the private registry by digest, copies one-off references, and proves the mirror is
// complete. Exit codes: 0 success, 1 error (or a failed image), 2 verify found something missing.

import {
  clientFromEnv,
  copyImage,
  formatBytes,
  formatError,
  type MirrorRecord,
  readLockFile,
  remapRulesFromEnv,
  syncLock,
  verifyMirror,
} from "@e2e3d/oci";
import { Command } from "commander";

const collect = (value: string, previous: string[]) => [...previous, value];
const defaultPrivate = process.env["E2E3D_PRIVATE_REGISTRY"];

const program = new Command("mirror")
  .description("Copy images between registries, digest-preserving")
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 1));

const progressLine = (r: MirrorRecord, done: number, total: number) =>
  `[${done}/${total}] ${r.name.padEnd(16)} ${r.status.padEnd(10)} ${r.blobsCopied} copied, ${r.blobsMounted} mounted, ${r.blobsSkipped} present, ${formatBytes(r.bytesMoved)} in ${r.seconds.toFixed(1)}s${r.error ? `\n    ${r.error}` : ""}\n`;

program
  .command("sync")
  .description("copy every locked image to REGISTRY[/PREFIX]/<source>@<digest> plus its tag")
  .requiredOption("--lock <file>", "lock file")
  .option("--to <registry[/prefix]>", "private registry (env E2E3D_PRIVATE_REGISTRY)", defaultPrivate)
  .option(
    "--remap <from=to>",
    "fetch a registry from elsewhere, e.g. docker.io=127.0.0.1:5101/docker.io (repeatable)",
    collect,
    [],
  )
  .option("--only <name>", "only this image (repeatable)", collect, [])
  .option("--concurrency <n>", "images copied at once", "3")
  .option("--referrers", "also copy OCI referrers (signatures, SBOMs)")
  .option("--dry-run", "report what would be copied; write nothing")
  .option("--json", "print one JSON record per image on stdout")
  .action(
    async (opts: {
      lock: string;
      to?: string;
      remap: string[];
      only: string[];
      concurrency: string;
      referrers?: boolean;
      dryRun?: boolean;
      json?: boolean;
    }) => {
      if (!opts.to) throw new Error("--to is required (or set E2E3D_PRIVATE_REGISTRY)");
      const lock = await readLockFile(opts.lock);
      const client = clientFromEnv(process.env, {
        onRetry: (e) =>
          process.stderr.write(
            `  retry ${e.attempt} ${e.operation} on ${e.registry} in ${e.delayMs} ms (${e.reason})\n`,
          ),
      });
      const started = performance.now();
      try {
        const total = Object.keys(lock.images).length;
        process.stderr.write(
          `mirror ${total} image(s) from ${opts.lock} to ${opts.to}${opts.dryRun ? " (dry run)" : ""}\n`,
        );
        // Long copies print a heartbeat: images done, bytes uploaded so far, elapsed time.
        let finished = 0;
        const heartbeat = setInterval(() => {
          const elapsed = ((performance.now() - started) / 1000).toFixed(0);
          process.stderr.write(
            `  … ${finished}/${total} done, ${formatBytes(client.metrics.blobBytesUploaded)} uploaded, ${elapsed}s\n`,
          );
        }, 5000);
        heartbeat.unref();
        const records = await syncLock(client, lock, {
          to: opts.to,
          rules: remapRulesFromEnv(process.env, opts.remap),
          names: opts.only,
          concurrency: Number(opts.concurrency),
          dryRun: opts.dryRun ?? false,
          referrers: opts.referrers ?? false,
          onRecord: (record, done, n) => {
            finished = done;
            process.stderr.write(progressLine(record, done, n));
            if (opts.json) process.stdout.write(`${JSON.stringify(record)}\n`);
          },
        });
        clearInterval(heartbeat);
        const failed = records.filter((r) => r.status === "failed");
        const bytes = records.reduce((sum, r) => sum + r.bytesMoved, 0);
        process.stderr.write(
          `${failed.length ? "FAILED" : "done"}: ${records.length - failed.length}/${records.length} ok, ${formatBytes(bytes)} moved in ${((performance.now() - started) / 1000).toFixed(1)}s\n`,
        );
        process.exitCode = failed.length ? 1 : 0;
      } finally {
        await client.close();
      }
    },
  );

program
  .command("copy")
  .description("copy one image (tag or digest; every platform, verbatim) like `crane copy`")
  .argument("<src>", "source reference")
  .argument("<dst>", "target reference (tag or repository:tag)")
  .option("--referrers", "also copy OCI referrers")
  .option("--force-recursive", "walk and repair the whole tree even when the target has the digest")
  .option("--json", "print the copy statistics as JSON")
  .action(async (src: string, dst: string, opts: { referrers?: boolean; forceRecursive?: boolean; json?: boolean }) => {
    const client = clientFromEnv(process.env, {
      onRetry: (e) =>
        process.stderr.write(`  retry ${e.attempt} ${e.operation} on ${e.registry} in ${e.delayMs} ms (${e.reason})\n`),
    });
    try {
      const stats = await copyImage(client, src, dst, {
        referrers: opts.referrers ?? false,
        forceRecursive: opts.forceRecursive ?? false,
      });
      if (opts.json) process.stdout.write(`${JSON.stringify(stats)}\n`);
      process.stderr.write(
        `${stats.upToDate ? "up to date" : "copied"}: ${stats.target}@${stats.digest}: ${stats.blobsCopied} blobs copied, ${stats.blobsMounted} mounted, ${stats.blobsSkipped} present, ${formatBytes(stats.bytesMoved)} in ${stats.seconds.toFixed(2)}s\n`,
      );
    } finally {
      await client.close();
    }
  });

program
  .command("verify")
  .description("prove every locked digest, child manifest and blob is present in REGISTRY (exit 2 when not)")
  .requiredOption("--lock <file>", "lock file")
  .option("--to <registry[/prefix]>", "private registry (env E2E3D_PRIVATE_REGISTRY)", defaultPrivate)
  .option("--json", "print the report as JSON")
  .action(async (opts: { lock: string; to?: string; json?: boolean }) => {
    if (!opts.to) throw new Error("--to is required (or set E2E3D_PRIVATE_REGISTRY)");
    const lock = await readLockFile(opts.lock);
    const client = clientFromEnv();
    try {
      const report = await verifyMirror(client, lock, opts.to);
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      for (const image of report.images) {
        process.stderr.write(
          `${image.ok ? "ok     " : "MISSING"} ${image.name.padEnd(16)} ${image.reference} (${image.manifestsChecked} manifests, ${image.blobsChecked} blobs)\n`,
        );
        for (const problem of image.problems) process.stderr.write(`    ${problem}\n`);
      }
      process.stderr.write(
        report.ok
          ? `verified: all ${report.images.length} image(s) complete in ${opts.to}\n`
          : `incomplete: run mirror sync --lock ${opts.lock} --to ${opts.to}\n`,
      );
      process.exitCode = report.ok ? 0 : 2;
    } finally {
      await client.close();
    }
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`${formatError(err)}\n`);
  process.exitCode = 1;
}
