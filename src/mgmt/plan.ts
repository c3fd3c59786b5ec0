/**
 * The management plan: the {@linkcode ManagementInput} checked and reduced to what sshd and the
 * host firewall need: the management interface, the addresses SSH is offered on (its
 * configured addresses plus the link-local fallback), the HA and sync openings, and the
 * session settings.
 *
 * Only the management interface's own entry is read; the other interfaces are none of the
 * management plane's business, so a bad data-interface address cannot cost SSH. A problem in
 * the management interface's addresses drops all of them (never half of them) and leaves the
 * fallback: the box stays reachable on the link, and the problem is reported.
 *
 * @module
 */

import { parseAddress, parsePrefix } from "../vocab/mod.ts";
import { fallbackAddresses } from "./link_local.ts";
import {
  DEFAULT_IDLE_TIMEOUT_S,
  DEFAULT_SSH_PORT,
  isInterfaceName,
  type ManagementInput,
  type SyncAccess,
} from "./types.ts";

/** One address SSH is offered on. */
export interface ListenAddress {
  /** Canonical address text, no prefix length. */
  address: string;
  family: 4 | 6;
  /** Where it comes from: the configuration or the MAC-derived fallback. */
  source: "configured" | "fallback";
  /** An IPv6 link-local address needs its interface (`fe80::1%eth0`). */
  linkLocal: boolean;
}

/** What the generators take. */
export interface ManagementPlan {
  management: string;
  sshPort: number;
  /** Seconds; 0 disables the idle timeout. */
  idleTimeoutS: number;
  /** Configured addresses first, then the fallback ones, without duplicates. */
  listen: ListenAddress[];
  /** The fallback addresses with prefix length (`ip addr replace`), when the MAC is known. */
  fallback: string[];
  ha?: { interface: string; peer?: { address: string; family: 4 | 6 } };
  sync: SyncAccess[];
}

/** A plan and what was wrong with the input (each problem names the field). */
export interface PlanResult {
  plan: ManagementPlan;
  problems: string[];
}

const isV6LinkLocal = (address: string, family: 4 | 6) =>
  family === 6 && /^fe[89ab][0-9a-f]:/i.test(address);

/**
 * Checks `input` and makes the plan. Throws only when there is no usable management interface
 * name or port (nothing can be derived); every other problem is reported and worked around.
 */
export function planManagement(input: ManagementInput): PlanResult {
  const problems: string[] = [];
  const mgmt = input.management;
  if (!isInterfaceName(mgmt)) {
    throw new RangeError(`management interface ${JSON.stringify(mgmt)} is not an interface name`);
  }
  const sshPort = input.sshPort ?? DEFAULT_SSH_PORT;
  if (!Number.isInteger(sshPort) || sshPort < 1 || sshPort > 65535) {
    throw new RangeError(`SSH port must be 1-65535 (got ${sshPort})`);
  }
  let idleTimeoutS = input.idleTimeoutS ?? DEFAULT_IDLE_TIMEOUT_S;
  if (!Number.isInteger(idleTimeoutS) || idleTimeoutS < 0 || idleTimeoutS > 86400) {
    problems.push(
      `idle timeout must be whole seconds from 0 (none) to 86400 (got ${idleTimeoutS}); ` +
        `using ${DEFAULT_IDLE_TIMEOUT_S}`,
    );
    idleTimeoutS = DEFAULT_IDLE_TIMEOUT_S;
  }

  const configured: ListenAddress[] = [];
  const entry = input.interfaces.find((i) => i.name === mgmt);
  const bad: string[] = [];
  for (const text of entry?.addresses ?? []) {
    const a = text.includes("/") ? parsePrefix(text) : undefined;
    const parsed = a === undefined ? parseAddress(text) : a.ok ? a.prefix : undefined;
    if (parsed === undefined) {
      bad.push(a !== undefined && !a.ok ? a.message : `${JSON.stringify(text)} is not an address`);
      continue;
    }
    configured.push({
      address: parsed.address,
      family: parsed.family,
      source: "configured",
      linkLocal: isV6LinkLocal(parsed.address, parsed.family),
    });
  }
  if (bad.length > 0) {
    problems.push(
      `management interface ${mgmt}: ${bad.join("; ")}; none of its configured addresses ` +
        `is used, SSH is offered on the fallback addresses only`,
    );
    configured.length = 0;
  }

  const fallback: string[] = [];
  if (input.mac !== undefined) {
    try {
      const f = fallbackAddresses(input.mac);
      fallback.push(f.ipv4, f.ipv6);
    } catch (e) {
      problems.push(`management interface ${mgmt}: ${(e as Error).message}; no fallback address`);
    }
  }
  const listen: ListenAddress[] = [...configured];
  for (const f of fallback) {
    const address = f.slice(0, f.indexOf("/"));
    if (listen.some((l) => l.address === address)) continue;
    const family = address.includes(":") ? 6 : 4;
    listen.push({ address, family, source: "fallback", linkLocal: family === 6 });
  }

  let ha: ManagementPlan["ha"];
  if (input.ha !== undefined) {
    if (!isInterfaceName(input.ha.interface)) {
      problems.push(`ha.interface ${JSON.stringify(input.ha.interface)} is not an interface name`);
    } else {
      ha = { interface: input.ha.interface };
      if (input.ha.peer !== undefined) {
        const p = parseAddress(input.ha.peer);
        if (p === undefined) {
          problems.push(
            `ha.peer ${JSON.stringify(input.ha.peer)} is not an address; VRRP is accepted ` +
              `from any sender on ${input.ha.interface}`,
          );
        } else ha.peer = { address: p.address, family: p.family };
      }
    }
  }
  const sync: SyncAccess[] = [];
  for (const s of input.sync ?? []) {
    if (
      !isInterfaceName(s.interface) || !Number.isInteger(s.port) || s.port < 1 || s.port > 65535
    ) {
      problems.push(`sync on ${JSON.stringify(s.interface)} port ${s.port}: not usable, ignored`);
    } else if (!sync.some((x) => x.interface === s.interface && x.port === s.port)) {
      sync.push({ interface: s.interface, port: s.port });
    }
  }
  return {
    plan: { management: mgmt, sshPort, idleTimeoutS, listen, fallback, ha, sync },
    problems,
  };
}
