// Phase timing: every helper runs inside a named phase that prints when it starts and how long it took, so a slow
// phase is visible in the test output (and the suite can print a table of all phases at the end).

export interface PhaseRecord {
  name: string;
  seconds: number;
  ok: boolean;
}

const records: PhaseRecord[] = [];

/** Where phase lines go: stderr, so vitest shows them live next to the test that ran them. */
let write: (line: string) => void = (line) => process.stderr.write(`${line}\n`);

export function setPhaseWriter(writer: (line: string) => void): void {
  write = writer;
}

const stamp = () => new Date().toISOString().slice(11, 19);

export function note(message: string): void {
  write(`[testkit ${stamp()}] ${message}`);
}

/** Runs `fn` as phase `name`: prints start, end and seconds (also on failure) and records the timing. */
export async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  note(`phase ${name}: started`);
  let ok = false;
  try {
    const result = await fn();
    ok = true;
    return result;
  } finally {
    const seconds = (performance.now() - started) / 1000;
    records.push({ name, seconds, ok });
    note(`phase ${name}: ${ok ? "done" : "FAILED"} in ${seconds.toFixed(1)}s`);
  }
}

/** Records a phase timed by someone else (e.g. the reconstruction's own report of how long the job ran). */
export function recordPhase(name: string, seconds: number, ok = true): void {
  records.push({ name, seconds, ok });
  note(`phase ${name}: ${seconds.toFixed(1)}s (reported)`);
}

export function phaseRecords(): readonly PhaseRecord[] {
  return records;
}

/** An aligned table of every phase so far (printed at the end of a suite). */
export function phaseTable(list: readonly PhaseRecord[] = records): string {
  const width = Math.max(5, ...list.map((r) => r.name.length));
  const total = list.reduce((sum, r) => sum + r.seconds, 0);
  return [
    `${"phase".padEnd(width)}  seconds  result`,
    ...list.map((r) => `${r.name.padEnd(width)}  ${r.seconds.toFixed(1).padStart(7)}  ${r.ok ? "ok" : "FAILED"}`),
    `${"total".padEnd(width)}  ${total.toFixed(1).padStart(7)}`,
  ].join("\n");
}

/** Polls `check` until it returns a value (not undefined) or the deadline passes; the last reason is reported. */
export async function until<T>(
  what: string,
  check: () => Promise<{ value?: T; reason: string }>,
  options: { timeoutMs: number; intervalMs?: number; onWait?: (reason: string, waitedS: number) => void },
): Promise<T> {
  const started = Date.now();
  const interval = options.intervalMs ?? 5000;
  let lastReason = "not checked yet";
  let lastReport = 0;
  for (;;) {
    try {
      const result = await check();
      if (result.value !== undefined) return result.value;
      lastReason = result.reason;
    } catch (err) {
      lastReason = (err as Error).message;
    }
    const waited = Date.now() - started;
    if (waited > options.timeoutMs) {
      throw new Error(`${what}: gave up after ${Math.round(waited / 1000)}s: ${lastReason}`);
    }
    if (Date.now() - lastReport > 30_000) {
      lastReport = Date.now();
      (options.onWait ?? ((r, s) => note(`${what}: still waiting after ${s}s (${r})`)))(
        lastReason,
        Math.round(waited / 1000),
      );
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
