/**
 * Applying a configuration document to a running target, all or nothing: the document is first
 * applied to a fresh in-memory engine (pure, no I/O) so every problem the engine itself would
 * raise is found before anything real changes; then only the difference to the running
 * configuration is applied; a step that still fails rolls the target back to where it was.
 *
 * @module
 */
import type { RemoteControl } from "../ctl/remote.ts";
import { EngineControl } from "../fullnat/control.ts";
import { Engine } from "../fullnat/engine.ts";
import { ControlError } from "../fullnat/types.ts";
import { type ConfigDocument, configFromViews, ConfigInvalidError } from "./document.ts";
import { planChanges, serviceOptionsOf } from "./plan.ts";
import type { SyncOps } from "./sync_section.ts";
import { type NetworkOps, sameNetwork } from "./network_section.ts";

/** What {@linkcode applyConfig} did (or, for a dry run, would do). */
export interface ApplyResult {
  /** One line per step, as {@linkcode planChanges} words them; empty when nothing differs. */
  changes: string[];
}

/** Options of {@linkcode applyConfig}. */
export interface ApplyOptions {
  /** Validate and report the changes without applying any. */
  dryRun?: boolean;
  /**
   * The box's sync daemons. Without them the document's `sync` section is neither read nor
   * applied: the running configuration reads as running none, and a document naming some
   * fails at its first sync step.
   */
  sync?: SyncOps;
  /**
   * The box's host network. Without it the document's `network` section reads as empty and a
   * document configuring one is refused.
   */
  network?: NetworkOps;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * An engine that exists only to be configured (no sessions, no clock, no I/O): where a
 * configuration is tried out before anything real changes.
 */
export function scratchEngine(): EngineControl {
  return new EngineControl(new Engine({ clock: () => 0, capacity: 1 }));
}

/**
 * Applies `doc` to a fresh engine and returns every refusal, each with the path of the entry
 * that caused it. An entry whose service could not be added is not tried further.
 */
export function checkOnFreshEngine(doc: ConfigDocument): string[] {
  const control = scratchEngine();
  const problems: string[] = [];
  const attempt = (path: string, fn: () => void): boolean => {
    try {
      fn();
      return true;
    } catch (e) {
      if (!(e instanceof ControlError)) throw e;
      problems.push(`${path}: ${e.message}`);
      return false;
    }
  };
  attempt("timeouts", () => control.setTimeouts(doc.timeouts));
  attempt("tunables", () => control.setTunables(doc.tunables));
  doc.services.forEach((s, i) => {
    const key = { protocol: s.protocol, address: s.address, port: s.port };
    const ok = attempt(`services[${i}]`, () => control.addService(key, serviceOptionsOf(s)));
    if (!ok) return;
    s.realServers.forEach((r, j) =>
      attempt(`services[${i}].realServers[${j}]`, () => control.addRealServer(key, { ...r }))
    );
    s.localAddresses.forEach((l, j) =>
      attempt(`services[${i}].localAddresses[${j}]`, () => control.addLocalAddress(key, l))
    );
  });
  return problems;
}

/**
 * The configuration a target is running now, with its sync daemons when `sync` is given and
 * the box's network when `network` is.
 */
export async function readRunning(
  target: RemoteControl,
  sync?: SyncOps,
  network?: NetworkOps,
): Promise<ConfigDocument> {
  const [services, timeouts, tunables, daemons] = await Promise.all([
    target.listServices(),
    target.getTimeouts(),
    target.getTunables(),
    sync?.list() ?? [],
  ]);
  return configFromViews(services, timeouts, tunables, daemons, network?.current());
}

/**
 * Makes `target` run `doc`, changing only what differs. Refuses (changing nothing) a document
 * the engine would not accept. If a step fails anyway, the steps already made are undone by
 * planning back to the configuration read at the start.
 *
 * @throws {ConfigInvalidError} listing every refusal of the fresh-engine check.
 * @throws {ControlError} when a step failed; the message says whether the rollback worked.
 */
export async function applyConfig(
  target: RemoteControl,
  doc: ConfigDocument,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const problems = checkOnFreshEngine(doc);
  const { sync, network } = options;
  const before = await readRunning(target, sync, network);
  if (network !== undefined) problems.push(...await network.check(doc, before));
  else if (!sameNetwork(before.network, doc.network)) {
    problems.push(
      "network: the box's network is configured by the fullnat daemon; this target has none",
    );
  }
  if (problems.length > 0) throw new ConfigInvalidError(problems);
  const plan = planChanges(before, doc);
  const changes = plan.flatMap((c) => [c.text, ...(c.more ?? [])]);
  if (options.dryRun) return { changes };
  for (const step of plan) {
    try {
      await step.run(target, sync, network);
    } catch (e) {
      const undo = await rollBack(target, before, sync, network);
      const code = e instanceof ControlError ? e.code : "invalid-argument";
      throw new ControlError(
        code,
        `Applying the configuration failed at "${step.text}": ${message(e)}. ` +
          (undo.length === 0
            ? "Rolled back to the previous configuration; nothing was changed."
            : `Rolling back was incomplete:\n${undo.map((u) => `  ${u}`).join("\n")}`),
      );
    }
  }
  return { changes };
}

/** Plans from whatever runs now back to `previous` and runs every step; returns failures. */
async function rollBack(
  target: RemoteControl,
  previous: ConfigDocument,
  sync: SyncOps | undefined,
  network: NetworkOps | undefined,
): Promise<string[]> {
  let now: ConfigDocument;
  try {
    now = await readRunning(target, sync, network);
  } catch (e) {
    return [`cannot read the running configuration: ${message(e)}`];
  }
  const failures: string[] = [];
  for (const step of planChanges(now, previous)) {
    try {
      await step.run(target, sync, network);
    } catch (e) {
      failures.push(`${step.text}: ${message(e)}`);
    }
  }
  return failures;
}
