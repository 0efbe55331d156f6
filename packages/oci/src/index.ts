// Public API of @e2e3d/oci: a registry client with digest-preserving copy, the image lock, mirroring and promotion.
export {
  type ArtifactSpec,
  type AttachResult,
  addToReferrersIndex,
  artifactManifest,
  attachArtifact,
  EMPTY_CONFIG_DESCRIPTOR,
  readArtifact,
} from "./attach.js";
export {
  Authenticator,
  Credential,
  type CredentialProvider,
  chainCredentials,
  defaultCredentials,
  dockerConfigCredentials,
  envCredentials,
  parseChallenge,
  staticCredentials,
} from "./auth.js";
export {
  type Manifest,
  type ManifestInfo,
  RegistryClient,
  type RegistryClientOptions,
  referrersTag,
} from "./client.js";
export { type CopyEvent, type CopyOptions, type CopyStats, copyImage, type VerifyResult, verifyImage } from "./copy.js";
export {
  type Descriptor,
  MANIFEST_ACCEPT,
  MediaType,
  type ParsedManifest,
  parseManifest,
  platformKey,
  sha256Digest,
} from "./descriptor.js";
export { clientFromEnv, formatBytes } from "./env.js";
export {
  AuthError,
  DigestMismatchError,
  formatError,
  InvalidReferenceError,
  LockFileError,
  LockFileMissingError,
  ManifestError,
  NotFoundError,
  OciError,
  RegistryConnectionError,
  RegistryHttpError,
  TagImmutableError,
  VerificationError,
} from "./errors.js";
export { readImagesFile, readLockFile, serialiseLock, writeLockFile } from "./lock/files.js";
export {
  type CheckResult,
  canonicalSource,
  checkLock,
  type DriftItem,
  resolveImage,
  updateLock,
  upstreamReference,
} from "./lock/resolve.js";
export { ImageSpec, ImagesFile, LockEntry, LockFile } from "./lock/schema.js";
export {
  type MirrorRecord,
  type MirrorVerifyReport,
  mirroredReference,
  mirroredTagReference,
  normalisePrivateRegistry,
  type SyncOptions,
  syncLock,
  verifyMirror,
} from "./mirror.js";
export { type PromoteOptions, type PromoteResult, promote } from "./promote.js";
export {
  formatReference,
  isLoopbackRegistry,
  parseReference,
  type Reference,
  repositoryName,
  withDigest,
  withTag,
} from "./reference.js";
export { parseRemapRules, type RemapRule, remapReference, remapRulesFromEnv } from "./remap.js";
export { backoffDelay, parseRetryAfter, type TransportMetrics, type TransportOptions } from "./transport.js";
