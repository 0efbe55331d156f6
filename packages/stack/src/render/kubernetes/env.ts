// Environment and arguments for Kubernetes, from the model's compose form. A value that is exactly a secret reference
// becomes a secretKeyRef; a reference inside a longer value (a database URL, a JSON connection) becomes Kubernetes'
// dependent-variable form $(E2E3D_SECRET_X), with E2E3D_SECRET_X itself a secretKeyRef defined first. Values never
// appear in the chart: only the Secret's name (a Helm value) and its keys (the deployment's secrets.env variables).
import type { ServiceSpec } from "../../model/types.js";

const SECRET_REF = /\$\{(E2E3D_SECRET_[A-Z0-9_]+):\?[^}]*\}/g;
const WHOLE_REF = /^\$\{(E2E3D_SECRET_[A-Z0-9_]+):\?[^}]*\}$/;

/** Compose text → Kubernetes text: `$$` is a literal `$`; a literal `$(` must not be expanded by the kubelet. */
function literal(text: string): string {
  return text.replace(/\$\$/g, "$").replace(/\$\(/g, "$$$$(");
}

/** Replaces each secret reference with $(VARIABLE); returns the text and the variables it needs. */
export function expand(text: string): { text: string; variables: string[] } {
  const variables: string[] = [];
  let out = "";
  let last = 0;
  for (const match of text.matchAll(SECRET_REF)) {
    out += literal(text.slice(last, match.index)) + `$(${match[1]})`;
    variables.push(match[1]!);
    last = match.index! + match[0].length;
  }
  return { text: out + literal(text.slice(last)), variables };
}

export interface EnvEntry {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: { name: string; key: string } };
}

/** The container's env list and args/command with secrets referenced, given the Secret's name (a template token). */
export function containerEnv(
  service: ServiceSpec,
  secretName: string,
): { env: EnvEntry[]; command?: string[]; args?: string[] } {
  const needed = new Set<string>();
  const entries: EnvEntry[] = [];
  const fromSecret = (key: string) => ({ secretKeyRef: { name: secretName, key } });
  for (const [name, value] of Object.entries(service.environment)) {
    const whole = WHOLE_REF.exec(value);
    if (whole) {
      entries.push({ name, valueFrom: fromSecret(whole[1]!) });
      continue;
    }
    const { text, variables } = expand(value);
    for (const v of variables) needed.add(v);
    entries.push({ name, value: text });
  }
  const convert = (list?: string[]) => {
    if (!list) return undefined;
    return list.map((arg) => {
      const { text, variables } = expand(arg);
      for (const v of variables) needed.add(v);
      return text;
    });
  };
  // compose `entrypoint` replaces the image's ENTRYPOINT (Kubernetes `command`); compose `command` its CMD (`args`).
  const command = convert(service.entrypoint);
  const args = convert(service.command);
  const helpers = [...needed].sort().map((name) => ({ name, valueFrom: fromSecret(name) }));
  return { env: [...helpers, ...entries], ...(command ? { command } : {}), ...(args ? { args } : {}) };
}
