// The Go toolchain and environment for the lab's builds from wrapper modules (compose, Dagger, the kube tools): one
// cache under <stateDir>/go, so a module downloaded or a package compiled for one build is reused by the others.
import { join } from "node:path";
import { which } from "./exec.js";

/** `go` on PATH, else the official tarball's usual place. */
export function findGo(): string | undefined {
  return which("go") ?? which("/usr/local/go/bin/go");
}

export const goCacheDir = (stateDir: string) => join(stateDir, "go");

/**
 * GOPATH, GOMODCACHE and GOCACHE under the lab's state; the Go found here, never a downloaded toolchain; the
 * wrapper module's go.sum as written (-mod=readonly). Static (CGO off) unless the build links C code.
 */
export function goEnvironment(stateDir: string, options: { cgo?: boolean } = {}): NodeJS.ProcessEnv {
  const goDir = goCacheDir(stateDir);
  return {
    ...process.env,
    GOPATH: join(goDir, "path"),
    GOMODCACHE: join(goDir, "mod"),
    GOCACHE: join(goDir, "cache"),
    GOTOOLCHAIN: "local",
    GOFLAGS: "-mod=readonly -buildvcs=false",
    CGO_ENABLED: options.cgo ? "1" : "0",
  };
}
