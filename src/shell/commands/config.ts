/**
 * `config export|apply|check|import|history|show|rollback|confirm`: the running configuration
 * as a declarative file, and the versions the daemon keeps of it (config_versions.ts). The
 * daemon validates a file as a whole before it changes anything; `check` asks what applying
 * would change without changing it; `import keepalived` converts a keepalived.conf first
 * (config_import.ts).
 *
 * @module
 */
import type { Command } from "commander";
import { action, type ActionInput, leaf } from "../command_kit.ts";
import type { CommandContext } from "../context.ts";
import { callOptional, UsageError } from "../errors.ts";
import { addImportCommands } from "./config_import.ts";
import { addVersionCommands, parseConfirmSeconds } from "./config_versions.ts";

/** What the daemon's `configApply` op answers. */
interface ApplyResult {
  changes: string[];
  /** With `confirmWithin`: when the change rolls back unless confirmed. */
  confirmBy?: string;
}

function changesOf(result: unknown): string[] {
  const changes = (result as Partial<ApplyResult> | null)?.changes;
  if (!Array.isArray(changes)) {
    throw new Error("the daemon's configApply answer has no changes list");
  }
  return changes.map(String);
}

/** Adds `config`. */
export function addConfigCommands(ctx: CommandContext, root: Command): void {
  const config = root.command("config").description("the configuration as a declarative file");

  leaf(ctx, config, "export", "print the running configuration").action(
    action(ctx, async ({ control }) => {
      const c = await control();
      const text = await callOptional(c.call.bind(c), "'config export'", "configExport");
      if (typeof text !== "string") throw new Error("the daemon's configExport answer is not text");
      ctx.io.out(text.replace(/\n$/, ""));
    }),
  );

  const apply = async (
    file: string,
    dryRun: boolean,
    control: ActionInput["control"],
    confirmWithin?: number,
  ) => {
    const text = await ctx.readInput(file);
    const c = await control();
    const feature = dryRun ? "'config check'" : "'config apply'";
    const answer = await callOptional(
      c.call.bind(c),
      feature,
      "configApply",
      text,
      confirmWithin === undefined ? { dryRun } : { dryRun, confirmWithin },
    );
    const changes = changesOf(answer);
    if (changes.length === 0) {
      ctx.io.out(
        dryRun ? `${file} is valid; it matches the running configuration` : "nothing to change",
      );
      return;
    }
    ctx.io.out(
      (dryRun ? `${file} is valid; applying it would:\n` : "applied:\n") +
        changes.map((c) => `  ${c}`).join("\n"),
    );
    const confirmBy = (answer as ApplyResult).confirmBy;
    if (typeof confirmBy === "string") {
      ctx.io.out(
        `run 'config confirm' by ${confirmBy} (within ${confirmWithin} s) to keep it; ` +
          `otherwise the daemon rolls it back by itself`,
      );
    }
    if (!dryRun) ctx.changed();
  };

  leaf(ctx, config, "apply", "make the running configuration match FILE (all or nothing)")
    .argument("<file>", "configuration file ('-' reads standard input)")
    .option("--dry-run", "only say what would change")
    .option(
      "--confirm-within <seconds>",
      "roll the change back by itself unless 'config confirm' follows within SECONDS",
      parseConfirmSeconds,
    )
    .action(
      action(ctx, ({ args, opts, control }) => {
        const within = opts.confirmWithin as number | undefined;
        if (within !== undefined && opts.dryRun === true) {
          throw new UsageError("--dry-run changes nothing, so there is nothing to confirm");
        }
        return apply(args[0] as string, opts.dryRun === true, control, within);
      }),
    );

  leaf(ctx, config, "check", "validate FILE and say what applying it would change")
    .argument("<file>", "configuration file ('-' reads standard input)")
    .action(action(ctx, ({ args, control }) => apply(args[0] as string, true, control)));

  addImportCommands(ctx, config);
  addVersionCommands(ctx, config);
}

/** Reads a configuration file for `config apply|check`; missing files are usage errors. */
export async function readConfigFile(
  path: string,
  stdin: (() => Promise<string>) | undefined,
): Promise<string> {
  if (path === "-") {
    if (stdin === undefined) {
      throw new UsageError("'-' (standard input) is the terminal here: give the path of a file");
    }
    return await stdin();
  }
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new UsageError(`${path}: no such file; give the path of a configuration file`);
    }
    if (e instanceof Deno.errors.IsADirectory) {
      throw new UsageError(`${path} is a directory; give the path of a configuration file`);
    }
    throw new UsageError(`cannot read ${path}: ${e instanceof Error ? e.message : e}`);
  }
}
