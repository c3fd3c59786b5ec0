/**
 * `config import keepalived FILE [--dry-run]`: a keepalived.conf (mainline, Alibaba LVS or
 * DPVS) converted into the configuration document and applied as a whole through the daemon's
 * `configApply`, or with `--dry-run` the document printed (standard output, so it can be saved
 * and applied later) with what applying it would change (standard error). Anything the file
 * asks for that cannot be honoured is listed at its `file:line` and nothing is applied (exit
 * 1); skipped sections such as VRRP are notes. What a keepalived.conf cannot say (timeouts
 * without `lvs_timeouts`, the per-service TCP tweaks) keeps its running value.
 *
 * @module
 */
import type { Command } from "commander";
import type { ConfigDocument } from "../../persist/document.ts";
import type { ImportResult } from "../../keepalived/import.ts";
import { action, type ActionInput, leaf } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { callOptional, InputRefusedError, UsageError } from "../errors.ts";

const FEATURE = "'config import'";

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** Reads and converts FILE ('-': standard input, includes relative to the current directory). */
async function convert(ctx: CommandContext, file: string): Promise<ImportResult> {
  // The importer is loaded when used: every other command starts without it.
  const { importKeepalived } = await import("../../keepalived/import.ts");
  const { fsSource } = await import("../../keepalived/source.ts");
  if (file === "-") {
    const text = await ctx.readInput("-");
    return await importKeepalived("stdin", fsSource(), { text });
  }
  try {
    return await importKeepalived(file, fsSource());
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new UsageError(`${file}: no such file; give the path of a keepalived.conf`);
    }
    if (e instanceof Deno.errors.IsADirectory) {
      throw new UsageError(`${file} is a directory; give the path of a keepalived.conf`);
    }
    throw new UsageError(`cannot read ${file}: ${e instanceof Error ? e.message : e}`);
  }
}

/** The document to apply: the imported services over the running configuration, validated. */
async function documentToApply(
  ctx: CommandContext,
  file: string,
  result: ImportResult,
  control: ActionInput["control"],
): Promise<ConfigDocument> {
  const c = await control();
  const exported = await callOptional(c.call.bind(c), FEATURE, "configExport");
  if (typeof exported !== "string") throw new Error("the daemon's configExport answer is not text");
  const { mergeWithRunning } = await import("../../keepalived/merge.ts");
  const { validateConfig } = await import("../../persist/document.ts");
  const merged = mergeWithRunning(result.document!, JSON.parse(exported));
  const checked = validateConfig(merged);
  if (!checked.ok) {
    for (const p of checked.problems) ctx.io.err(`${file}: converted document: ${p}`);
    throw new InputRefusedError(
      `nothing imported: this fullnat refuses the converted document ` +
        `(${plural(checked.problems.length, "problem")})`,
    );
  }
  return checked.document;
}

async function run(
  ctx: CommandContext,
  file: string,
  dryRun: boolean,
  control: ActionInput["control"],
): Promise<void> {
  const result = await convert(ctx, file);
  for (const n of result.notes) ctx.io.err(`note: ${n}`);
  if (result.problems.length > 0 || result.document === undefined) {
    for (const p of result.problems) ctx.io.err(p);
    throw new InputRefusedError(
      `nothing imported: ${plural(result.problems.length, "problem")} in ${
        file === "-" ? "standard input" : file
      }`,
    );
  }
  const doc = await documentToApply(ctx, file, result, control);
  const { formatConfig } = await import("../../persist/document.ts");
  const text = formatConfig(doc);
  const c = await control();
  const answer = await callOptional(c.call.bind(c), FEATURE, "configApply", text, { dryRun });
  const changes = (answer as { changes?: unknown } | null)?.changes;
  if (!Array.isArray(changes)) {
    throw new Error("the daemon's configApply answer has no changes list");
  }
  const listed = changes.map((x) => `  ${x}`).join("\n");
  const services = plural(doc.services.length, "service");
  if (dryRun) {
    ctx.io.out(text.replace(/\n$/, ""));
    ctx.io.err(
      changes.length === 0
        ? `${services}; it matches the running configuration`
        : `${services}; applying it would:\n${listed}`,
    );
    return;
  }
  ctx.io.out(
    changes.length === 0
      ? `imported ${services}: nothing to change`
      : `imported ${services}:\n${listed}`,
  );
  if (changes.length > 0) ctx.changed();
}

/** Adds `config import keepalived` under `config`. */
export function addImportCommands(ctx: CommandContext, config: Command): void {
  const imp = config.command("import").description(
    "convert another balancer's configuration and apply it (all or nothing)",
  );
  leaf(
    ctx,
    imp,
    "keepalived",
    "apply a keepalived.conf (mainline, Alibaba LVS or DPVS) as the whole configuration",
  )
    .argument("<file>", "keepalived.conf, with what it includes ('-' reads standard input)")
    .option("--dry-run", "print the resulting configuration document and what would change")
    .action(
      action(
        ctx,
        ({ args, opts, control }) => run(ctx, args[0] as string, opts.dryRun === true, control),
      ),
    );
}
