// Promotion through @e2e3d/oci: a release tag is the tested manifest's exact bytes PUT under a new tag in the same
// repository (no blob traffic, digest preserved byte for byte). Never forced: release tags are immutable.
import { clientFromEnv, parseReference, promote, type RegistryClient } from "@e2e3d/oci";
import { existingAttestations } from "@e2e3d/pipeline";
import type { Promoter, TagState } from "./release.js";

export function registryPromoter(client: RegistryClient = clientFromEnv()): Promoter & { close(): Promise<void> } {
  return {
    async attestations(repository, digest) {
      return [...(await existingAttestations(client, parseReference(`${repository}@${digest}`))).keys()];
    },
    async inspect(repository, tag, digest): Promise<TagState> {
      const info = await client.headManifest(parseReference(`${repository}:${tag}`));
      if (!info) return { state: "absent" };
      return info.digest === digest ? { state: "same" } : { state: "other", digest: info.digest };
    },
    async tag(repository, digest, tag) {
      await promote(client, { from: `${repository}@${digest}`, tags: [tag], force: false });
      // Read back what the tag resolves to now, independently of what promote reported.
      const after = await client.headManifest(parseReference(`${repository}:${tag}`));
      return after?.digest ?? "(missing)";
    },
    close: () => client.close(),
  };
}
