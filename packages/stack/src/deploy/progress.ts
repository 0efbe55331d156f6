// Progress lines for long steps: which step, how far, how long. Never given secrets.
export interface Reporter {
  step(name: string): void;
  info(message: string): void;
  warn(message: string): void;
}

export function terminalReporter(write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Reporter {
  const started = Date.now();
  let stepStarted = started;
  const stamp = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
  return {
    step(name) {
      stepStarted = Date.now();
      write(`[${stamp()}] == ${name}`);
    },
    info(message) {
      write(`[${stamp()}] ${message} (+${((Date.now() - stepStarted) / 1000).toFixed(0)}s in step)`);
    },
    warn(message) {
      write(`[${stamp()}] WARNING ${message}`);
    },
  };
}

export const silentReporter: Reporter = { step() {}, info() {}, warn() {} };

/**
 * Replaces every secret value with *** in whatever the reporter prints: container log tails and compose output are
 * not ours, and a service that logs its own connection URL must not leak a password into a CI log.
 */
export function maskingReporter(inner: Reporter, secrets: string[]): Reporter {
  const values = secrets.filter((v) => v.length >= 8);
  const mask = (text: string) => values.reduce((acc, v) => acc.split(v).join("***"), text);
  return {
    step: (name) => inner.step(mask(name)),
    info: (message) => inner.info(mask(message)),
    warn: (message) => inner.warn(mask(message)),
  };
}

export function maskText(text: string, secrets: string[]): string {
  return secrets.filter((v) => v.length >= 8).reduce((acc, v) => acc.split(v).join("***"), text);
}
