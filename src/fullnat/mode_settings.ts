/**
 * Settings a service holds for its FULLNAT real servers that DR and TUNNEL servers never use:
 * local addresses (the packet keeps the client's address), and the TOA, timestamp and MSS
 * switches (the server sees the client's own segments, and its replies bypass the balancer).
 * Modes mix within a service, as in IPVS, so these stay service settings; what is refused is a
 * service whose servers are all DR or TUNNEL carrying them, since there they would do nothing
 * while looking configured. NAT servers are left out of the rule: NAT services with local
 * addresses were accepted before it, and refusing them now would fail their stored
 * configuration at the next start.
 *
 * @module
 */
import type { ForwardMethod } from "./types.ts";

/** Modes that use none of the FULLNAT-only settings, with their Forward column names. */
const NOT_USING: Partial<Record<ForwardMethod, string>> = {
  dr: "DR (Route)",
  tunnel: "TUNNEL (Tunnel)",
};

/** The FULLNAT-only settings of one service, as a change would leave them. */
export interface FullnatSettings {
  /** The service has local addresses. */
  localAddresses: boolean;
  /** Switches the change turns on by name (a default left alone is not a request). */
  switchedOn: readonly ("toa" | "stripTimestamps" | "clampMss")[];
}

const SWITCH_WORDS = {
  toa: "TOA",
  stripTimestamps: "timestamp stripping",
  clampMss: "MSS clamping",
} as const;

/**
 * Why a service whose real servers (sorry server included) have `methods` cannot hold
 * `settings`, or undefined when it can: only when every server is DR or TUNNEL.
 */
export function unusedSettingsProblem(
  methods: readonly ForwardMethod[],
  settings: FullnatSettings,
): string | undefined {
  if (methods.length === 0 || !methods.every((m) => NOT_USING[m] !== undefined)) return undefined;
  const modes = [...new Set(methods.map((m) => NOT_USING[m] as string))].sort().join(" and ");
  const which = `its real servers are all ${modes}`;
  if (settings.localAddresses) {
    return `local addresses are used by FULLNAT real servers only, and ${which}, whose ` +
      `packets keep the client's address: delete the local addresses first, or keep a ` +
      `FULLNAT real server in the service`;
  }
  if (settings.switchedOn.length > 0) {
    const words = settings.switchedOn.map((k) => SWITCH_WORDS[k]).join(", ");
    return `${words} ${settings.switchedOn.length > 1 ? "apply" : "applies"} to FULLNAT ` +
      `real servers only, and ${which}, which see the client's own packets`;
  }
  return undefined;
}
