// The stack's view of @e2e3d/oci: reading the lock, naming mirrored references, and proving a digest is complete in
// the private registry (manifest, every child manifest, every blob: oci's verify). Kept in one small module so the
// rest of the package does not depend on the client's details.
import {
  clientFromEnv,
  type LockFile,
  mirroredReference,
  OciError,
  readLockFile as ociReadLockFile,
  verifyImage,
} from "@e2e3d/oci";
import { ImageResolutionError } from "./errors.js";

export type { LockFile };
export { mirroredReference };

export async function readLockFile(path: string): Promise<LockFile> {
  try {
    return await ociReadLockFile(path);
  } catch (err) {
    if (err instanceof OciError) {
      throw new ImageResolutionError(err.message, {
        context: { file: path },
        ...(err.hint ? { hint: err.hint } : {}),
      });
    }
    throw err;
  }
}

/** Problems found for `reference` (empty when the image and everything under it is present). */
export async function verifyDigestPresent(reference: string, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  try {
    const result = await verifyImage(clientFromEnv(env), reference);
    return result.ok ? [] : result.problems;
  } catch (err) {
    return [err instanceof Error ? err.message : String(err)];
  }
}
