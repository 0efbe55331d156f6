// Dagger 0.21's dockerBuild keeps a stage's ARG values in the image's environment (seen against the lab's engine:
// `ARG GREETING` + buildArgs GREETING=same → Env GREETING=same), where Docker's builder keeps them build-time only.
// The adapter removes those again; it needs the names the Dockerfile really sets with ENV, which must stay. No
// Dockerfile parser on npm is kept up to date with BuildKit's syntax, and only ENV keys are needed, so: this.

/** Logical lines: backslash continuations joined, comments and blank lines dropped. */
function instructions(dockerfile: string): string[] {
  const joined = dockerfile.replace(/\\\r?\n/g, " ");
  return joined
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/** Names an ENV instruction sets, in both forms: `ENV A=1 B="x y"` and the legacy `ENV A value`. */
export function envDeclaredNames(dockerfile: string): Set<string> {
  const names = new Set<string>();
  for (const line of instructions(dockerfile)) {
    const match = /^ENV\s+(.*)$/i.exec(line);
    if (!match) continue;
    const body = match[1]!;
    if (/^[A-Za-z_][A-Za-z0-9_]*\s+[^=]*$/.test(body) && !body.includes("=")) {
      names.add(body.split(/\s+/)[0]!);
      continue;
    }
    for (const pair of body.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=/g)) names.add(pair[1]!);
  }
  return names;
}

/** Build-arg names Dagger would leave in the image's environment though the Dockerfile never sets them with ENV. */
export function leakedBuildArgs(dockerfile: string, buildArgNames: Iterable<string>): string[] {
  const declared = envDeclaredNames(dockerfile);
  return [...buildArgNames].filter((name) => !declared.has(name));
}
