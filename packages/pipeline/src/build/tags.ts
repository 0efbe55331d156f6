// Tag names. The input-digest tag marks "built from exactly these inputs"; sha-<commit> and the branch say where it
// came from. `latest` is never written: it names nothing reproducible.

/** Docker tag grammar: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
export function branchTag(branch: string | undefined): string | undefined {
  if (!branch) return undefined;
  const tag = branch
    .replace(/^refs\/heads\//, "")
    .replace(/[^A-Za-z0-9_.-]+/g, "-")
    .replace(/^[.-]+/, "")
    .slice(0, 128);
  if (!tag || tag === "latest") return undefined;
  return tag;
}

export const commitTag = (commit: string | undefined): string | undefined => (commit ? `sha-${commit}` : undefined);
