// Lists the referrers of an image and summarises its SBOM and provenance.
//   npx tsx pipelines/attestations.ts <registry/repository@sha256:...> [--json]
// Exit codes: 0 read (even when nothing is attached: the output says so), 1 bad input or a registry error.
import { clientFromEnv, parseReference } from "@e2e3d/oci";
import { createLogger, describeError, formatAttestations, readAttestations } from "@e2e3d/pipeline";
import { Command } from "commander";

const log = createLogger();
const program = new Command("attestations")
  .description("List an image's OCI referrers and summarise its SBOM (CycloneDX) and provenance (SLSA)")
  .argument("<image>", "the image by digest, e.g. 127.0.0.1:5102/e2e3d/reconstruction@sha256:…")
  .option("--json", "print the summary as JSON")
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 1));

program.parse();
const [image] = program.args as [string];
const opts = program.opts<{ json?: boolean }>();
const client = clientFromEnv();
try {
  const view = await readAttestations(client, parseReference(image));
  console.log(opts.json ? JSON.stringify(view, null, 2) : formatAttestations(view));
} catch (error) {
  log.error(describeError(error));
  process.exitCode = 1;
} finally {
  await client.close();
}
