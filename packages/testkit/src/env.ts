// testcontainers settings for this machine: its reaper (Ryuk) image cannot be pulled here, so it is disabled and every
// suite tears its stack down itself in afterAll; a fixed host avoids the helper-image pull testcontainers otherwise
// does to find the Docker host. Explicit values from the environment win.
export function configureTestcontainers(env: NodeJS.ProcessEnv = process.env): void {
  env["TESTCONTAINERS_RYUK_DISABLED"] ??= "true";
  env["TESTCONTAINERS_HOST_OVERRIDE"] ??= "localhost";
}
