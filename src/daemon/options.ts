/**
 * Daemon settings: defaults for a production box, overridable by flags and by the environment
 * (so tests can run several daemons side by side, each with its own queue, chains and socket).
 *
 * @module
 */

import { DEFAULT_QUEUE_BUFFER_BYTES, DEFAULT_QUEUE_MAXLEN } from "../nfqueue/constants.ts";
import { isOffloadMode, OFFLOAD_MODES, type OffloadMode } from "../fullnat/types.ts";
import {
  DEFAULT_LOCAL_PORT_RANGE,
  formatPortRange,
  isPortRange,
  PORT_MAX,
  PORT_MIN,
} from "../vocab/port.ts";
import { DEFAULT_KEEPALIVED_CONF } from "../hostnet/floating.ts";

/** Everything `fullnat daemon` needs to start. */
export interface DaemonOptions {
  /** Control socket path. Env `FULLNAT_SOCKET`. */
  socket: string;
  /** NFQUEUE number. Env `FULLNAT_QUEUE`. */
  queue: number;
  /** Prefix of the iptables chains the daemon owns. Env `FULLNAT_CHAIN_PREFIX`. */
  chainPrefix: string;
  /** Accept diverted packets while no daemon listens (iptables `--queue-bypass`). */
  failOpen: boolean;
  /** Maximum concurrent sessions. */
  maxSessions: number;
  /** Local ports handed out per local address. */
  localPorts: [number, number];
  /** Answer refused connection attempts with a reset (else drop silently). */
  rejectWithReset: boolean;
  /** What to do with a non-SYN TCP segment to a service that matches no session. */
  noSessionPolicy: "reset" | "drop";
  /** Milliseconds between expiry scans. */
  expiryIntervalMs: number;
  /** Leave sysctls alone (the operator manages them). */
  skipSysctl: boolean;
  /**
   * Directory of the durable configuration (`config.db`); null keeps nothing (`--no-persist`).
   * Env `FULLNAT_STATE_DIR`.
   */
  stateDir: string | null;
  /**
   * Directory of the state that outlives the process: the live sessions, so a restart, a
   * crash or an upgrade loses no connection (`src/kernel/run_state.ts`); null keeps them in
   * process memory (`--no-run-dir`). Env `FULLNAT_RUN_DIR`.
   */
  runDir: string | null;
  /**
   * Packet workers, 1..64: worker i reads queue `queue + i` and hands out local ports from
   * slice i of `localPorts`. Default 1 (see the README's Workers section for why).
   */
  workers: number;
  /** Reset both ends of an ESTABLISHED session when it expires (docs/design.md 4.8). */
  expiryReset: boolean;
  /** Largest packet a TOA may grow a client segment to (the real-server side's MTU). */
  mtu: number;
  /**
   * The balancer's addresses TUNNEL packets' outer headers leave from (at most one IPv4 and
   * one IPv6): `--tunnel-source`.
   */
  tunnelSources: string[];
  /**
   * Packets each queue holds while its worker is busy (the kernel's `queue_maxlen`); a burst
   * beyond it is dropped and counted in `queueDropped`.
   */
  queueMaxLen: number;
  /** Receive buffer of each queue's netlink socket, bytes (the kernel doubles it). */
  queueBufferBytes: number;
  /**
   * File holding the key that signs session-sync messages (HMAC-SHA256) and that received
   * ones must be signed with; null: sync messages are neither signed nor checked
   * (`--sync-key-file`, env `FULLNAT_SYNC_KEY_FILE`).
   */
  syncKeyFile: string | null;
  /**
   * How often (ms) a master sync daemon sends each session of this box again even when
   * nothing changed, so a peer back from a failure learns the sessions made while it was
   * away; 0: only on change (`--sync-refresh SECONDS`).
   */
  syncRefreshMs: number;
  /**
   * Apply the configuration's `network` section to the box's interfaces and bind the services'
   * VIPs and local addresses (`--manage-host-network`; the appliance's unit turns it on). Off,
   * the section is kept and exported but no interface is touched.
   */
  manageHostNetwork: boolean;
  /**
   * systemd-networkd's directory, where the boot-time `.network` files go (resolved's and
   * timesyncd's drop-ins beside it); null writes none (`--host-network-dir`).
   */
  hostNetworkDir: string | null;
  /** keepalived's configuration: the addresses it floats are never bound by the daemon. */
  keepalivedConf: string;
  /**
   * The kernel fast path's mode at start (`--offload`): when given, it replaces the saved
   * configuration's `tunables.offload` (and is saved); undefined leaves the saved one.
   */
  offload: OffloadMode | undefined;
  /** Bytes a session carries (both ways) before it is offloaded (`--offload-min-bytes`). */
  offloadMinBytes: number;
}

/** Milliseconds between a worker's offload steps. */
export const OFFLOAD_INTERVAL_MS = 100;

/** `--sync-refresh`'s default, seconds. */
export const DEFAULT_SYNC_REFRESH_S = 30;

/** Defaults, with the environment applied. */
export function defaultDaemonOptions(
  env: (k: string) => string | undefined = Deno.env.get,
): DaemonOptions {
  return {
    socket: env("FULLNAT_SOCKET") ?? "/run/fullnat/control.sock",
    queue: env("FULLNAT_QUEUE")
      ? parseIntStrict(env("FULLNAT_QUEUE")!, "FULLNAT_QUEUE", 0, 65535)
      : 0,
    chainPrefix: env("FULLNAT_CHAIN_PREFIX") ?? "FULLNAT",
    failOpen: false,
    maxSessions: 1 << 20,
    localPorts: [DEFAULT_LOCAL_PORT_RANGE[0], DEFAULT_LOCAL_PORT_RANGE[1]],
    rejectWithReset: true,
    noSessionPolicy: "reset",
    expiryIntervalMs: 1000,
    skipSysctl: false,
    stateDir: env("FULLNAT_STATE_DIR") || "/var/lib/fullnat",
    runDir: env("FULLNAT_RUN_DIR") || "/run/fullnat",
    workers: 1,
    expiryReset: true,
    mtu: 1500,
    tunnelSources: [],
    queueMaxLen: DEFAULT_QUEUE_MAXLEN,
    queueBufferBytes: DEFAULT_QUEUE_BUFFER_BYTES,
    syncKeyFile: env("FULLNAT_SYNC_KEY_FILE") || null,
    syncRefreshMs: DEFAULT_SYNC_REFRESH_S * 1000,
    manageHostNetwork: false,
    hostNetworkDir: null,
    keepalivedConf: DEFAULT_KEEPALIVED_CONF,
    offload: undefined,
    offloadMinBytes: 0,
  };
}

/** Parses a whole decimal number in a range or throws an Error naming the setting. */
export function parseIntStrict(text: string, what: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(text)) {
    throw new Error(`${what} must be a whole number (got ${JSON.stringify(text)})`);
  }
  const n = Number(text);
  if (n < min || n > max) throw new Error(`${what} must be from ${min} to ${max} (got ${n})`);
  return n;
}

/**
 * Reads `--offload MODE` (undefined: not given) and `--offload-min-bytes N` into `d`; throws
 * an Error naming the flag when one is wrong, leaving `d` as it was.
 */
export function applyOffloadFlags(
  d: DaemonOptions,
  mode: string | undefined,
  minBytes: string,
): void {
  if (mode !== undefined && !isOffloadMode(mode)) {
    throw new Error(
      `--offload must be ${OFFLOAD_MODES.join(" or ")} (got ${JSON.stringify(mode)})`,
    );
  }
  const bytes = parseIntStrict(minBytes, "--offload-min-bytes", 0, Number.MAX_SAFE_INTEGER);
  d.offload = mode;
  d.offloadMinBytes = bytes;
}

/** Parses `LOW-HIGH` into a port range. */
export function parsePortRange(text: string): [number, number] {
  const m = /^([0-9]+)-([0-9]+)$/.exec(text);
  if (!m) {
    throw new Error(
      `Local port range must look like ${formatPortRange(DEFAULT_LOCAL_PORT_RANGE)} (got ${
        JSON.stringify(text)
      })`,
    );
  }
  const lo = parseIntStrict(m[1], "Local port range start", PORT_MIN, PORT_MAX);
  const hi = parseIntStrict(m[2], "Local port range end", PORT_MIN, PORT_MAX);
  if (!isPortRange([lo, hi])) {
    throw new Error(`Local port range ${text} is empty: the start is above the end`);
  }
  return [lo, hi];
}

/** Chain prefixes become iptables chain names, which allow 28 characters and no spaces. */
export function checkChainPrefix(p: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,19}$/.test(p)) {
    throw new Error(
      `Chain prefix must be 1-20 letters, digits, '_' or '-', starting with a letter (got ${
        JSON.stringify(p)
      })`,
    );
  }
  return p;
}

/**
 * Reads the session-sync key file: its bytes, surrounding white space trimmed (a key written
 * with `echo` has a newline). Throws an Error naming the file when it cannot be read or holds
 * fewer than 16 bytes (a short key is a guessable one).
 */
export function readSyncKey(path: string): Uint8Array {
  let text: string;
  try {
    text = Deno.readTextFileSync(path).trim();
  } catch (e) {
    throw new Error(`--sync-key-file ${path}: ${e instanceof Error ? e.message : e}`);
  }
  const key = new TextEncoder().encode(text);
  if (key.length < 16) {
    throw new Error(`--sync-key-file ${path}: the key must be at least 16 bytes`);
  }
  return key;
}
