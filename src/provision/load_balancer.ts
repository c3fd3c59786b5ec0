/**
 * The `loadBalancer` section: the configuration document of src/persist (what
 * `fullnat config export` writes), checked with the persist layer's own validator and a dry run
 * on a fresh engine, and applied to the running daemon as a whole through its `configApply` op
 * (or, on a daemon without that op, through the same all-or-nothing apply over control ops).
 *
 * @module
 */

import type { ControlClient } from "../ctl/client.ts";
import { PROTOCOL_ERROR, RemoteError } from "../ctl/protocol.ts";
import { applyConfig, checkOnFreshEngine } from "../persist/apply.ts";
import { type ConfigDocument, formatConfig, validateConfig } from "../persist/document.ts";
import { syncOpsOver } from "../persist/sync_section.ts";
import type { PathStep, Problem } from "./problems.ts";

/** Turns the persist layer's `path: message` text back into a path and a message. */
export function splitProblem(text: string): Problem {
  const colon = text.indexOf(": ");
  const head = colon < 0 ? "" : text.slice(0, colon);
  if (head === "" || head === "(document)" || !/^[A-Za-z_][\w.[\]-]*$/.test(head)) {
    return { path: [], message: colon < 0 || head === "(document)" ? text.slice(colon + 2) : text };
  }
  const path: PathStep[] = [];
  for (const m of head.matchAll(/([A-Za-z_][\w-]*)|\[(\d+)\]/g)) {
    path.push(m[1] !== undefined ? m[1] : Number(m[2]));
  }
  return { path, message: text.slice(colon + 2) };
}

/** The document with defaults filled in, or every problem (schema first, then the engine's). */
export function checkLoadBalancer(
  value: unknown,
): { ok: true; document: ConfigDocument } | { ok: false; problems: Problem[] } {
  const checked = validateConfig(value);
  if (!checked.ok) return { ok: false, problems: checked.problems.map(splitProblem) };
  const refusals = checkOnFreshEngine(checked.document);
  if (refusals.length > 0) return { ok: false, problems: refusals.map(splitProblem) };
  return { ok: true, document: checked.document };
}

/** The validator {@linkcode validateProvisioning} takes for this section. */
export function loadBalancerProblems(value: unknown): Problem[] {
  const r = checkLoadBalancer(value);
  return r.ok ? [] : r.problems;
}

/**
 * Makes the daemon run `doc`, all or nothing. Returns the changes made (one line each; empty
 * when the daemon already ran exactly this).
 */
export async function applyLoadBalancer(
  client: ControlClient,
  doc: ConfigDocument,
): Promise<string[]> {
  try {
    const result = await client.call("configApply", formatConfig(doc), { dryRun: false }) as {
      changes: string[];
    };
    return result.changes;
  } catch (e) {
    if (!(e instanceof RemoteError && e.code === PROTOCOL_ERROR.unknownOp)) throw e;
  }
  // A daemon without persistence serves no configApply; the same planned apply runs from here,
  // its sync daemons through the sync ops.
  return (await applyConfig(client, doc, {
    sync: syncOpsOver((op, ...a) => client.call(op, ...a)),
  }))
    .changes;
}
