/**
 * `config import keepalived`'s conversion, from a file name to the configuration document: read
 * the file and its includes, convert, and report every problem and note with its `file:line`.
 * The document comes back only when the whole file converts; nothing is applied here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { importKeepalived } from "./import.ts";
 * import { memorySource } from "./source.ts";
 * const r = await importKeepalived("keepalived.conf", memorySource({ "keepalived.conf":
 *   "virtual_server 192.0.2.10 80 {\n  lb_algo rr\n  lb_kind FNAT\n  protocol TCP\n" +
 *   "  real_server 10.0.0.1 80 {\n    weight 2\n  }\n}\n" }));
 * assert.deepEqual(r.problems, []);
 * assert.equal(r.document?.services[0].realServers[0].weight, 2);
 * ```
 *
 * @module
 */
import { convertStatements } from "./convert.ts";
import { Findings } from "./findings.ts";
import { type ImportedDocument, importedDocumentText } from "./output.ts";
import { loadConfig } from "./parse.ts";
import { fsSource, type KeepalivedSource } from "./source.ts";

/** What an import found: the document (when the whole file converts), problems and notes. */
export interface ImportResult {
  document?: ImportedDocument;
  /** The document's JSON text (see `output.ts`), when there is a document. */
  text?: string;
  /** `file:line: message`, in reading order; any one means nothing may be applied. */
  problems: string[];
  /** `file:line: message`: skipped sections and ignored details; never fatal. */
  notes: string[];
}

/** Options of {@linkcode importKeepalived}. */
export interface ImportOptions {
  /** The main file's text, when it does not come from the source (standard input). */
  text?: string;
}

/**
 * Reads and converts the keepalived.conf at `path` (relative paths from the current directory
 * with the default source). Throws only when the main file itself cannot be read.
 */
export async function importKeepalived(
  path: string,
  source: KeepalivedSource = fsSource(),
  options: ImportOptions = {},
): Promise<ImportResult> {
  const findings = new Findings();
  const statements = await loadConfig(path, source, findings, options);
  const document = convertStatements(statements, findings);
  return {
    ...(document !== undefined && { document, text: importedDocumentText(document) }),
    problems: findings.problemLines(),
    notes: findings.noteLines(),
  };
}

/**
 * The whole result as text (the golden files hold this): the notes, the problems, then the
 * document or the word that nothing is imported.
 */
export function formatImportReport(result: ImportResult): string {
  const section = (title: string, lines: string[]) =>
    `${title}:\n${lines.length === 0 ? "  (none)" : lines.map((l) => `  ${l}`).join("\n")}\n`;
  return section("notes", result.notes) + section("problems", result.problems) +
    (result.text !== undefined
      ? `document:\n${result.text}`
      : "document: none, nothing is imported\n");
}
