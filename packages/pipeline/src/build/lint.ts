// A static check over Dockerfiles for the seed report's failure class: unpinned or `latest` bases, a `# syntax=`
// line (it pulls a frontend image), root-only file operations after switching to a non-root USER (the seed's
// `chmod ... Operation not permitted`), `chown user:group` with a group nobody created (the seed's
// `chown: invalid group`), ADD of URLs, and literal secrets in ENV/ARG. Parsing is dockerfile-ast's (the Docker
// language server's parser): line continuations, escape directives and exact line numbers come from it.
import { readFile } from "node:fs/promises";
import { DockerfileParser, type Instruction } from "dockerfile-ast";

export type LintRule =
  | "unpinned-from"
  | "latest-tag"
  | "syntax-directive"
  | "root-op-after-user"
  | "unknown-group"
  | "add-url"
  | "secret-literal";

export interface LintFinding {
  file: string;
  /** 1-based, as editors and GitHub annotations count. */
  line: number;
  rule: LintRule;
  message: string;
}

/** Groups every Debian/Ubuntu base has; a chown to them needs no groupadd. */
const SYSTEM_GROUPS = new Set(
  (
    "root daemon bin sys adm tty disk lp mail news uucp man proxy kmem dialout fax voice cdrom floppy tape sudo " +
    "audio dip www-data backup operator list irc src shadow utmp video sasl plugdev staff games users nogroup"
  ).split(" "),
);
const ROOT_USERS = new Set(["root", "0", "0:0", "root:root", "root:0", "0:root"]);
/** Paths a non-root user may own: its home and scratch space. Everything else absolute is a system path. */
const USER_WRITABLE = [/^\/tmp(\/|$)/, /^\/home\//, /^\/var\/tmp(\/|$)/];
const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|(^|_)KEY$|_KEY_|APIKEY|PRIVATE_KEY|CREDENTIAL)/i;

const lineOf = (instruction: Instruction): number => instruction.getRange().start.line + 1;

/** The shell words of a RUN (continuations already joined by the parser). */
const words = (text: string): string[] => text.split(/[\s;&|()]+/).filter(Boolean);

export function lintDockerfile(file: string, content: string): LintFinding[] {
  const doc = DockerfileParser.parse(content);
  const findings: LintFinding[] = [];
  const add = (line: number, rule: LintRule, message: string) => findings.push({ file, line, rule, message });

  for (const directive of doc.getDirectives()) {
    if (directive.getName().toLowerCase() === "syntax") {
      add(
        directive.getRange().start.line + 1,
        "syntax-directive",
        `'# syntax=${directive.getValue()}' makes the engine pull a frontend image from a public registry; delete the line (the engine's built-in frontend is used)`,
      );
    }
  }

  // ARGs declared before the first FROM: their defaults decide what `FROM ${NAME}` resolves to.
  const globalArgs = new Map<string, string | undefined>();
  for (const arg of doc.getInitialARGs()) {
    for (const property of arg.getProperties()) globalArgs.set(property.getName(), property.getValue() ?? undefined);
  }
  const stageNames = new Set<string>();
  const createdGroups = new Set<string>();
  const chowns: { line: number; group: string; spec: string }[] = [];
  let user: string | undefined; // the current stage's USER; undefined = root

  for (const instruction of doc.getInstructions()) {
    const keyword = instruction.getKeyword();
    const line = lineOf(instruction);
    const argsText = instruction.getArgumentsContent() ?? "";

    if (keyword === "FROM") {
      user = undefined;
      const args = instruction.getArguments().map((a) => a.getValue());
      const positional = args.filter((a) => !a.startsWith("--"));
      const image = positional[0] ?? "";
      if (positional[1]?.toLowerCase() === "as" && positional[2]) stageNames.add(positional[2].toLowerCase());
      checkFrom(image, line, globalArgs, stageNames, add);
      continue;
    }
    if (keyword === "USER") {
      const value = argsText.trim();
      user = ROOT_USERS.has(value) ? undefined : value;
      continue;
    }
    if (keyword === "ADD") {
      for (const arg of instruction.getArguments().map((a) => a.getValue())) {
        if (/^(https?|ftp):\/\//i.test(arg) || /^git@|\.git(#.*)?$/.test(arg)) {
          add(
            line,
            "add-url",
            `ADD of a remote source (${arg}) is unpinned and uncached; download in a RUN with a checksum, or COPY a vendored file`,
          );
        }
      }
    }
    if (keyword === "ADD" || keyword === "COPY") {
      for (const arg of instruction.getArguments().map((a) => a.getValue())) {
        const chown = /^--chown=([^:\s]+):([^\s]+)$/.exec(arg);
        if (chown) chowns.push({ line, group: chown[2]!, spec: `${chown[1]}:${chown[2]}` });
        const from = /^--from=(.+)$/.exec(arg);
        if (from && /:latest$/.test(from[1]!)) {
          add(line, "latest-tag", `COPY --from=${from[1]} uses 'latest'; take the image by digest from the lock`);
        }
      }
    }
    if (keyword === "ENV" || keyword === "ARG") {
      const props =
        "getProperties" in instruction
          ? (
              instruction as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }
            ).getProperties()
          : [];
      for (const property of props) {
        const value = property.getValue();
        if (SECRET_NAME.test(property.getName()) && value && !/^\$\{?[A-Za-z_]/.test(value)) {
          add(
            line,
            "secret-literal",
            `${keyword} ${property.getName()} has a literal value: secrets baked into an image are readable by anyone who pulls it; pass them at run time (environment or mounted secret)`,
          );
        }
      }
      if (keyword === "ARG") {
        for (const property of props) {
          if (/:latest$/.test(property.getValue() ?? "")) {
            add(
              line,
              "latest-tag",
              `ARG ${property.getName()} defaults to a 'latest' image; pin by digest from the lock`,
            );
          }
        }
      }
    }
    if (keyword === "RUN") {
      const shell = words(argsText);
      collectCreatedGroups(shell, createdGroups);
      let reportedRootOp = false; // one finding per RUN: the first offending command says enough
      for (let i = 0; i < shell.length; i++) {
        const command = shell[i]!;
        if (command === "chown") {
          const spec = shell.slice(i + 1).find((w) => !w.startsWith("-"));
          const group = spec?.includes(":") ? spec.split(":")[1] : undefined;
          if (group) chowns.push({ line, group, spec: spec! });
        }
        if (user !== undefined && (command === "chown" || command === "chmod" || command === "mkdir")) {
          const targets = shell.slice(i + 1).filter((w) => w.startsWith("/"));
          const system = targets.find((t) => !USER_WRITABLE.some((re) => re.test(t)));
          if (system && !reportedRootOp) {
            reportedRootOp = true;
            add(
              line,
              "root-op-after-user",
              `'${command} ${system}' runs as USER ${user}, which cannot change system paths ("Operation not permitted"); move it before the USER line`,
            );
          }
        }
      }
    }
  }

  for (const chown of chowns) {
    const group = chown.group;
    if (/^\d+$/.test(group) || SYSTEM_GROUPS.has(group) || createdGroups.has(group) || group.startsWith("$")) continue;
    add(
      chown.line,
      "unknown-group",
      `chown ${chown.spec}: group '${group}' is never created in this file ("invalid group"); create it (groupadd ${group}), use its numeric id, or chown to a group that exists (e.g. ${chown.spec.split(":")[0]}:0)`,
    );
  }
  return findings.sort((a, b) => a.line - b.line);
}

function checkFrom(
  image: string,
  line: number,
  globalArgs: Map<string, string | undefined>,
  stageNames: Set<string>,
  add: (line: number, rule: LintRule, message: string) => void,
): void {
  if (image === "scratch" || stageNames.has(image.toLowerCase())) return;
  const variable = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(image);
  if (variable) {
    const name = variable[1]!;
    if (!globalArgs.has(name)) {
      add(line, "unpinned-from", `FROM ${image}: ${name} is not declared with ARG before the first FROM`);
      return;
    }
    const fallback = globalArgs.get(name);
    if (fallback !== undefined && fallback !== "") {
      if (/:latest(@|$)/.test(fallback))
        add(line, "latest-tag", `FROM ${image}: the default ${fallback} uses 'latest'`);
      if (!/@sha256:[a-f0-9]{64}$/.test(fallback)) {
        add(
          line,
          "unpinned-from",
          `FROM ${image}: the ARG default ${fallback} is not pinned by digest; drop the default (the pipeline passes the locked base) or pin it @sha256:`,
        );
      }
    }
    return;
  }
  if (/:latest(@|$)/.test(image) || !/[:@]/.test(image.split("/").pop() ?? "")) {
    add(
      line,
      "latest-tag",
      `FROM ${image} uses 'latest' (explicitly or by omitting the tag); take the base from the lock as ARG BASE_IMAGE`,
    );
  }
  if (!/@sha256:[a-f0-9]{64}$/.test(image)) {
    add(
      line,
      "unpinned-from",
      `FROM ${image} is not pinned: use ARG BASE_IMAGE (a repo@sha256: reference from the lock) and FROM \${BASE_IMAGE}`,
    );
  }
}

/** Groups a RUN creates: groupadd/addgroup NAME, and useradd/adduser NAME (Debian's default creates a same-named group). */
function collectCreatedGroups(shell: string[], groups: Set<string>): void {
  for (let i = 0; i < shell.length; i++) {
    const command = shell[i]!;
    if (!["groupadd", "addgroup", "useradd", "adduser"].includes(command)) continue;
    const rest: string[] = [];
    let noUserGroup = false;
    for (let j = i + 1; j < shell.length; j++) {
      const w = shell[j]!;
      if (["groupadd", "addgroup", "useradd", "adduser", "chown", "chmod", "mkdir"].includes(w)) break;
      if (w === "-N" || w === "--no-user-group") noUserGroup = true;
      if (/^(-g|--gid|-u|--uid|-G|--groups|-d|--home|--home-dir|-s|--shell|-c|--comment|--ingroup|-K|-k|-p)$/.test(w)) {
        if (w === "-g" || w === "--ingroup" || w === "--gid") noUserGroup = noUserGroup || command.startsWith("user");
        j++;
        continue;
      }
      if (!w.startsWith("-")) rest.push(w);
    }
    const name = rest[rest.length - 1];
    if (!name) continue;
    if (command === "groupadd" || command === "addgroup" || !noUserGroup) groups.add(name);
  }
}

/** Lints files from disk; `display` maps an absolute path to what messages cite (usually repo-relative). */
export async function lintDockerfiles(
  files: string[],
  display: (file: string) => string = (f) => f,
): Promise<LintFinding[]> {
  const all: LintFinding[] = [];
  for (const file of files) all.push(...lintDockerfile(display(file), await readFile(file, "utf8")));
  return all;
}

export const formatFinding = (f: LintFinding): string => `${f.file}:${f.line}: [${f.rule}] ${f.message}`;
