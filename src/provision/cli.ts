/**
 * `fullnat provision ...`: check a provisioning file, turn it into a seed image, and apply a
 * seed at first boot. Registered on the main command by {@linkcode registerProvision}.
 *
 *   fullnat provision check FILE
 *   fullnat provision seed FILE -o seed.img [--allow-invalid]
 *   fullnat provision firstboot [--seed DEV] [--root DIR] [--netns NAME] [--socket PATH] ...
 *
 * @module
 */

import { basename } from "node:path";
import { type Command, CommanderError } from "commander";
import { defaultSocketPath } from "../ctl/socket_path.ts";
import { firstboot } from "./firstboot.ts";
import { loadBalancerProblems } from "./load_balancer.ts";
import { formatProblem } from "./problems.ts";
import { buildSeed } from "./seed.ts";
import { detectFormat } from "./source.ts";
import { SECTION_ORDER } from "./types.ts";
import { checkProvisioning, type ValidationResult } from "./validate.ts";

/**
 * Ends a command unsuccessfully: prints `message` (if any) on standard error and throws the
 * error `main` turns into exit status 2 without printing anything more.
 */
async function fail(message = ""): Promise<never> {
  if (message !== "") {
    await Deno.stderr.write(new TextEncoder().encode(`fullnat provision: ${message}\n`));
  }
  throw new CommanderError(2, "fullnat.provision.failed", message);
}

async function readFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return await fail(`no such provisioning file: ${path}`);
    }
    throw e;
  }
}

/** Reads and validates a provisioning file. */
export async function checkFile(
  path: string,
): Promise<{ bytes: Uint8Array; result: ValidationResult }> {
  const bytes = await readFile(path);
  const text = new TextDecoder().decode(bytes);
  return { bytes, result: checkProvisioning(text, basename(path), loadBalancerProblems) };
}

/** The report `check` prints: the problems, or what the file provisions. */
export function formatCheck(path: string, result: ValidationResult): string {
  const warnings = result.warnings.map((w) => `warning: ${formatProblem(w)}\n`).join("");
  if (result.problems.length === 0) {
    const present = SECTION_ORDER.filter((s) => result.provisioning[s] !== undefined);
    return `${path}: valid; provisions ${
      present.length > 0 ? present.join(", ") : "nothing"
    }\n${warnings}`;
  }
  const n = result.problems.length;
  const lines = [`${path}: ${n} problem${n === 1 ? "" : "s"}`];
  for (const p of result.problems) lines.push(`  ${formatProblem(p)}`);
  if (!result.fatal) {
    const ok = SECTION_ORDER.filter((s) => result.provisioning[s] !== undefined);
    lines.push(
      `sections that would still be applied: ${ok.length > 0 ? ok.join(", ") : "none"}; ` +
        `not applied: ${result.invalid.join(", ")}`,
    );
  }
  return lines.join("\n") + "\n" + warnings;
}

async function seconds(text: string, what: string): Promise<number> {
  if (!/^[0-9]+$/.test(text)) await fail(`${what} takes whole seconds, not "${text}"`);
  return Number(text) * 1000;
}

/** Adds `provision check|seed|firstboot` to the `fullnat` command. */
export function registerProvision(program: Command): void {
  const provision = program.command("provision")
    .description("provisioning files: check them, make seed images, apply a seed at first boot");

  provision.command("check")
    .description("validate a provisioning file (YAML or JSON) and list every problem")
    .argument("<file>", "provisioning file")
    .action(async (file: string) => {
      const { result } = await checkFile(file);
      await Deno.stdout.write(new TextEncoder().encode(formatCheck(file, result)));
      if (result.problems.length > 0) await fail();
    });

  provision.command("seed")
    .description("write a NoCloud-style seed image (FAT, label cidata) holding a provisioning file")
    .argument("<file>", "provisioning file")
    .requiredOption("-o, --output <image>", "seed image to write (replaced if it exists)")
    .option("--allow-invalid", "build the seed even when the file has problems (to test reporting)")
    .action(async (file: string, o: { output: string; allowInvalid?: boolean }) => {
      const { bytes, result } = await checkFile(file);
      if (result.problems.length > 0) {
        await Deno.stderr.write(new TextEncoder().encode(formatCheck(file, result)));
        if (!o.allowInvalid) {
          await fail(
            "no seed written; fix the problems above (or pass --allow-invalid to build it anyway)",
          );
        }
      }
      const text = new TextDecoder().decode(bytes);
      await buildSeed(bytes, detectFormat(text, basename(file)), o.output);
      console.log(`${o.output}: seed image with ${file} (label cidata)`);
    });

  provision.command("firstboot")
    .description(
      "apply the seed volume labelled cidata (run once per seed by fullnat-provision.service)",
    )
    .option("--seed <device>", "seed device or image (default: the volume labelled cidata)")
    .option("--seed-wait <seconds>", "how long to look for a labelled seed still being probed", "5")
    .option("--root <dir>", "the box's root directory (hostname, admin's home, state)", "/")
    .option("--netns <name>", "network namespace for the ip commands (tests)")
    .option("--socket <path>", "daemon control socket (env FULLNAT_SOCKET)")
    .option("--daemon-wait <seconds>", "how long to wait for the daemon's control socket", "90")
    .option("--state-dir <dir>", "record of applied seeds (default ROOT/var/lib/fullnat/provision)")
    .option("--console <path>", "console to report on", "/dev/console")
    .option("--no-console", "report in the log only")
    .option("--force", "apply even if this seed was applied before")
    .option("--mgmt", "apply the management plane too (the default when --root is /)")
    .action(async (o) => {
      const result = await firstboot({
        seed: o.seed,
        seedWaitMs: await seconds(o.seedWait, "--seed-wait"),
        root: o.root,
        netns: o.netns,
        socket: o.socket ?? defaultSocketPath(),
        daemonWaitMs: await seconds(o.daemonWait, "--daemon-wait"),
        stateDir: o.stateDir,
        console: o.console === false ? undefined : o.console,
        force: Boolean(o.force),
        mgmt: o.mgmt ? true : undefined,
      });
      if (result.problems.length > 0 || result.failures.length > 0) await fail();
    });
}
