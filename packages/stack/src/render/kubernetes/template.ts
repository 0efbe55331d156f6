// Helm template expressions inside objects built as plain data. An object is built with tokens where a value comes
// from .Values, stringified with the `yaml` package, and each token is then replaced by its template expression:
// inline (`replicas: {{ ... }}`) or as a block (`nodeSelector:` followed by `{{- toYaml ... | nindent N }}`).
// Literal text that contains `{{` is escaped first, so nothing from the model can be read as a template.
import { stringify } from "yaml";

export class Templated {
  private readonly inline: string[] = [];
  private readonly blocks: string[] = [];
  private readonly lineTexts: Array<(indent: string) => string> = [];

  /** A scalar rendered by Helm, e.g. `.Values.replicas.reconstruction` or `index .Values.images "x" | quote`. */
  value(expr: string): string {
    this.inline.push(expr);
    return `HELMV${this.inline.length - 1}X`;
  }

  /** A mapping or list rendered by Helm with toYaml, placed under the key that holds the token. */
  block(expr: string): string {
    this.blocks.push(expr);
    return `HELMB${this.blocks.length - 1}X`;
  }

  /**
   * Whole lines of template text (a conditional key), as an object key whose value is null: `{ [t.lines(f)]: null }`.
   * `f` gets the key's indentation and returns the lines, each already indented.
   */
  lines(text: (indent: string) => string): string {
    this.lineTexts.push(text);
    return `HELML${this.lineTexts.length - 1}X`;
  }

  /** YAML documents (`---` separated) with every token replaced. */
  render(docs: unknown[]): string {
    const text = docs
      // YAML 1.1 as Helm and the API server read it (`yes` is a boolean there, so it is quoted); no anchors.
      .map((d) => stringify(d, { lineWidth: 0, version: "1.1", aliasDuplicateObjects: false }))
      .join("---\n")
      .replace(/\{\{/g, '{{ "{{" }}');
    const withBlocks = text.replace(/^( *)(- )?([^\s:][^:]*): HELMB(\d+)X$/gm, (_all, indent: string, dash, key, i) => {
      const column = indent.length + (dash ? 2 : 0);
      return `${indent}${dash ?? ""}${key}:\n{{- toYaml (${this.blocks[Number(i)]}) | nindent ${column + 2} }}`;
    });
    const withLines = withBlocks.replace(/^( *)HELML(\d+)X: null$/gm, (_all, indent: string, i) =>
      this.lineTexts[Number(i)]!(indent),
    );
    const done = withLines.replace(/HELMV(\d+)X/g, (_all, i) => `{{ ${this.inline[Number(i)]} }}`);
    const left = /HELM[VBL]\d+X/.exec(done);
    if (left) throw new Error(`template token ${left[0]} was not replaced (a block token must be a mapping value)`);
    return done;
  }
}
