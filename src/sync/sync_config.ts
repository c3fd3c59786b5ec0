/**
 * A sync daemon's settings as `ipvsadm --start-daemon` gives them, their defaults (the
 * kernel's: group 224.0.0.81, port 8848, TTL 1, syncid 0) and their checks, shared by the
 * ipvsadm parser, the control socket and the daemon. The message length limit follows the
 * kernel's `start_sync_thread`: unset, a master sends at most 1500 less the IP and UDP headers
 * (1472) whatever the interface's MTU, a backup reads up to its MTU (at least 1500) less them;
 * set, it is clamped as the kernel clamps it.
 *
 * @module
 */
import { ControlError } from "../fullnat/types.ts";
import { parseAddress } from "../vocab/address.ts";
import { SYNC_GROUP, SYNC_PORT } from "./wire.ts";

/** The two roles; a box may run both at once (each with its own settings), as IPVS allows. */
export type SyncRole = "master" | "backup";

/** One sync daemon's settings. */
export interface SyncDaemonSpec {
  role: SyncRole;
  /** The interface messages go out of (master) or are read on (backup). */
  mcastInterface: string;
  /** 0-255; a backup with 0 takes every syncid. */
  syncid: number;
  /** Largest message, bytes of UDP payload; 0: from the MTU, as the kernel picks it. */
  maxlen: number;
  /** Multicast group, or a unicast address: the peer's (master) or this box's (backup). */
  group: string;
  port: number;
  ttl: number;
}

/** The kernel's defaults for what `--start-daemon` leaves out. */
export const SYNC_DEFAULTS = { syncid: 0, maxlen: 0, group: SYNC_GROUP, port: SYNC_PORT, ttl: 1 };

/** Bytes of IPv4 and UDP headers (IPv6: 48). */
const HLEN4 = 28;
const HLEN6 = 48;

/** What is wrong with `spec`, or undefined. */
export function syncSpecProblem(spec: SyncDaemonSpec): string | undefined {
  if (spec.role !== "master" && spec.role !== "backup") return `unknown sync role '${spec.role}'`;
  if (!/^[^\s/]{1,15}$/.test(spec.mcastInterface)) {
    return `invalid multicast interface name '${spec.mcastInterface}'`;
  }
  if (!Number.isInteger(spec.syncid) || spec.syncid < 0 || spec.syncid > 255) {
    return "invalid syncid: must be 0-255";
  }
  if (!Number.isInteger(spec.maxlen) || spec.maxlen < 0 || spec.maxlen > 65535) {
    return "invalid sync-maxlen: must be 1-65535";
  }
  if (parseAddress(spec.group) === undefined) return `invalid mcast-group '${spec.group}'`;
  if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535) {
    return "invalid mcast-port: must be 1-65535";
  }
  if (!Number.isInteger(spec.ttl) || spec.ttl < 1 || spec.ttl > 255) {
    return "invalid mcast-ttl: must be 1-255";
  }
  return undefined;
}

/** True when `address` (checked) is IPv6. */
export const isV6Group = (address: string): boolean => address.includes(":");

/** True when `address` (checked, IPv4 or IPv6) is a multicast address. */
export function isMulticast(address: string): boolean {
  if (isV6Group(address)) return /^ff/i.test(address);
  const first = Number(address.split(".")[0]);
  return first >= 224 && first <= 239;
}

/** The message length limit the daemon uses, from the setting and the interface's MTU. */
export function effectiveMaxlen(spec: SyncDaemonSpec, interfaceMtu: number): number {
  const hlen = isV6Group(spec.group) ? HLEN6 : HLEN4;
  if (spec.maxlen > 0) {
    const min = spec.role === "backup" ? 1024 : 1;
    return Math.min(Math.max(spec.maxlen, min), 65535 - hlen);
  }
  const mtu = spec.role === "backup" ? Math.min(Math.max(interfaceMtu, 1500), 65535) : 1500;
  return mtu - hlen;
}

/** ipvsadm's line for a running daemon (`ipvsadm -L --daemon`). */
export function formatSyncDaemon(spec: SyncDaemonSpec, maxlen: number): string {
  return `${spec.role} sync daemon (mcast=${spec.mcastInterface}, syncid=${spec.syncid}, ` +
    `maxlen=${maxlen}, group=${spec.group}, port=${spec.port}, ttl=${spec.ttl})`;
}

/** `x` as a sync role, or a ControlError (what the control socket received). */
export function checkSyncRole(x: unknown): SyncRole {
  if (x === "master" || x === "backup") return x;
  throw new ControlError("invalid-argument", "daemon state must be master or backup");
}

/** `x` as a whole, valid {@linkcode SyncDaemonSpec}, or a ControlError saying what is wrong. */
export function checkSyncSpec(x: unknown): SyncDaemonSpec {
  const o = (typeof x === "object" && x !== null ? x : {}) as Record<string, unknown>;
  const spec = {
    role: checkSyncRole(o.role),
    mcastInterface: o.mcastInterface,
    syncid: o.syncid ?? SYNC_DEFAULTS.syncid,
    maxlen: o.maxlen ?? SYNC_DEFAULTS.maxlen,
    group: o.group ?? SYNC_DEFAULTS.group,
    port: o.port ?? SYNC_DEFAULTS.port,
    ttl: o.ttl ?? SYNC_DEFAULTS.ttl,
  } as SyncDaemonSpec;
  if (typeof spec.mcastInterface !== "string" || typeof spec.group !== "string") {
    throw new ControlError("invalid-argument", "a sync daemon needs an interface and a group");
  }
  const problem = syncSpecProblem(spec);
  if (problem !== undefined) throw new ControlError("invalid-argument", problem);
  return { ...spec, group: parseAddress(spec.group)!.address };
}
