// Upstream remapping, in the spirit of containers-registries.conf(5) `[[registry]] prefix/location`:
// `docker.io=127.0.0.1:5101/docker.io` makes every docker.io image come from the lab upstream, so the lab stands in
// for the public registries while the lock keeps the public references. The longest matching prefix wins.
import { InvalidReferenceError } from "./errors.js";
import { formatReference, parseReference, type Reference } from "./reference.js";

export interface RemapRule {
  /** registry[/repository prefix], e.g. docker.io or quay.io/minio */
  prefix: string;
  /** where it is served instead: registry[/path prefix], e.g. 127.0.0.1:5101/docker.io */
  location: string;
}

const PREFIX = /^[a-z0-9.-]+(?::\d{1,5})?(?:\/[a-z0-9._/-]+)?$/;

/** Parses `from=to` rules (CLI flags, env E2E3D_REGISTRY_REMAP as a comma-separated list). */
export function parseRemapRules(values: readonly string[]): RemapRule[] {
  return values
    .flatMap((value) => value.split(","))
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map((entry) => {
      const eq = entry.indexOf("=");
      const prefix = eq > 0 ? entry.slice(0, eq).trim().replace(/\/+$/, "") : "";
      const location =
        eq > 0
          ? entry
              .slice(eq + 1)
              .trim()
              .replace(/\/+$/, "")
          : "";
      if (!PREFIX.test(prefix) || !PREFIX.test(location)) {
        throw new InvalidReferenceError(`invalid remap rule ${JSON.stringify(entry)}`, {
          operation: "parse remap rule",
          hint: "write SOURCE=LOCATION, e.g. docker.io=127.0.0.1:5101/docker.io (registry[/path] on both sides)",
        });
      }
      return { prefix: prefix === "index.docker.io" ? "docker.io" : prefix, location };
    });
}

/** Applies the longest matching rule; a reference no rule matches is returned unchanged. */
export function remapReference(ref: Reference, rules: readonly RemapRule[]): Reference {
  const name = `${ref.registry}/${ref.repository}`;
  let best: RemapRule | undefined;
  for (const rule of rules) {
    if (
      (name === rule.prefix || name.startsWith(`${rule.prefix}/`)) &&
      rule.prefix.length >= (best?.prefix.length ?? -1)
    )
      best = rule;
  }
  if (!best) return ref;
  const mapped = `${best.location}${name.slice(best.prefix.length)}`;
  const suffix = `${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
  try {
    return parseReference(`${mapped}${suffix}`);
  } catch (cause) {
    throw new InvalidReferenceError(
      `remapping ${formatReference(ref)} with ${best.prefix}=${best.location} gives an invalid reference`,
      {
        reference: formatReference(ref),
        cause,
      },
    );
  }
}

/** Rules from E2E3D_REGISTRY_REMAP (comma-separated from=to) plus explicit ones; explicit ones come last and win ties. */
export function remapRulesFromEnv(env: NodeJS.ProcessEnv = process.env, extra: readonly string[] = []): RemapRule[] {
  return parseRemapRules([...(env["E2E3D_REGISTRY_REMAP"] ? [env["E2E3D_REGISTRY_REMAP"]] : []), ...extra]);
}
