// Secret masking for everything the testkit prints or attaches: every secret value is replaced by its name.

export class Masker {
  private readonly values = new Map<string, string>();

  add(name: string, value: string | undefined): void {
    // Short values would mask ordinary words; generated secrets are 16+ characters (packages/stack/src/secrets.ts).
    if (value && value.length >= 8) this.values.set(value, name);
  }

  mask(text: string): string {
    let out = text;
    for (const [value, name] of this.values) out = out.split(value).join(`***${name}***`);
    return out;
  }

  /** Which secrets (by name) occur in `text`. */
  found(text: string): string[] {
    return [...this.values].filter(([value]) => text.includes(value)).map(([, name]) => name);
  }
}
