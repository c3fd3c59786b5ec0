/**
 * The box's network as the kernel has it now (`ip -j addr`, `ip -j route`, `ip -j neigh`),
 * for the shell's `show interfaces|routes|arp`. Read in the daemon, so the shell sees the
 * namespace the daemon serves.
 *
 * @module
 */
import { ControlError } from "../fullnat/types.ts";
import { exec } from "../provision/exec.ts";

/** What can be shown. */
export const LIVE_KINDS = ["interfaces", "routes", "arp"] as const;
/** One of {@linkcode LIVE_KINDS}. */
export type LiveKind = typeof LIVE_KINDS[number];

const ARGS: Record<LiveKind, string[][]> = {
  interfaces: [["-j", "addr", "show"]],
  routes: [["-j", "-4", "route", "show"], ["-j", "-6", "route", "show"]],
  arp: [["-j", "neigh", "show"]],
};

/** `ip -j ...`'s answer for `kind` (routes: IPv4 then IPv6), as parsed JSON objects. */
export async function liveNetwork(kind: unknown): Promise<Record<string, unknown>[]> {
  if (typeof kind !== "string" || !(LIVE_KINDS as readonly string[]).includes(kind)) {
    throw new ControlError(
      "invalid-argument",
      `networkLive takes one of ${LIVE_KINDS.join(", ")} (got ${JSON.stringify(kind)})`,
    );
  }
  const out: Record<string, unknown>[] = [];
  for (const args of ARGS[kind as LiveKind]) {
    const r = await exec("ip", args);
    if (r.code !== 0) throw new Error(`ip ${args.join(" ")} failed: ${r.stderr.trim()}`);
    const text = new TextDecoder().decode(r.stdout).trim();
    if (text !== "") out.push(...JSON.parse(text) as Record<string, unknown>[]);
  }
  return out;
}
