// Package distconsts declares the constants the Dagger v0.21.8 engine, CLI and SDK code read from upstream's
// engine/distconsts module (see go.mod for why it is a stand-in). Values are what upstream's engine image expects;
// tools/lab/src/dagger/image.ts lays the lab's engine image out to match them (e.g. runc and dagger-init under
// /usr/local/bin, the state volume at /var/lib/dagger).
package distconsts

// How a client finds an engine: the legacy container name a dev build falls back to, and the engine's socket.
const (
	EngineContainerName   = "dagger-engine.dev"
	DefaultEngineSockAddr = "unix:///run/dagger/engine.sock"
)

// Where the engine expects its helpers and its state inside its image.
const (
	RuncPath       = "/usr/local/bin/runc"
	DaggerInitPath = "/usr/local/bin/dagger-init"

	EngineDefaultStateDir = "/var/lib/dagger"

	// Builtin SDK content (module runtimes); the lab's image ships none, so module SDKs are fetched on demand.
	EngineContainerBuiltinContentDir   = "/usr/local/share/dagger/content"
	GoSDKManifestDigestEnvName         = "DAGGER_GO_SDK_MANIFEST_DIGEST"
	PythonSDKManifestDigestEnvName     = "DAGGER_PYTHON_SDK_MANIFEST_DIGEST"
	TypescriptSDKManifestDigestEnvName = "DAGGER_TYPESCRIPT_SDK_MANIFEST_DIGEST"

	EngineCustomCACertsDir = "/usr/local/share/ca-certificates"
)

// Default images of a few core APIs (e.g. Container.terminal). The lab never pulls them: no Docker Hub here.
const (
	AlpineVersion = "3.22.1"
	AlpineImage   = "alpine:" + AlpineVersion

	GolangVersion = "1.25.3"
	GolangImage   = "golang:" + GolangVersion + "-alpine"

	BusyboxVersion = "1.37.0"
	BusyboxImage   = "busybox:" + BusyboxVersion
)

// The annotation `dagger version` reads an engine image's version from.
const OCIVersionAnnotation = "org.opencontainers.image.version"
