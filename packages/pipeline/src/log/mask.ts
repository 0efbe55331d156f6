// Secret masking for everything the loggers and the exec helper print. Values registered here are replaced by
// "***" wherever they occur, including inside longer strings (a URL, a command line, a log line).

const MASK = "***";
/** Shorter values would mask ordinary words and digits in every line; Actions' own masker has the same floor. */
const MIN_SECRET_LENGTH = 4;

export class SecretMasker {
  readonly #secrets = new Set<string>();

  /** Registers a secret and its common encodings (URL-encoded, base64 as in Basic auth headers). */
  add(value: string | undefined): void {
    if (!value || value.length < MIN_SECRET_LENGTH) return;
    this.#secrets.add(value);
    const encoded = encodeURIComponent(value);
    if (encoded !== value) this.#secrets.add(encoded);
    this.#secrets.add(Buffer.from(value).toString("base64"));
  }

  get size(): number {
    return this.#secrets.size;
  }

  mask(text: string): string {
    if (this.#secrets.size === 0) return text;
    // Longest first, so a secret that contains another is masked whole.
    let out = text;
    for (const secret of [...this.#secrets].sort((a, b) => b.length - a.length)) {
      out = out.split(secret).join(MASK);
    }
    return out;
  }
}
