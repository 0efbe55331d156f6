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
