/**
 * The configuration document's `sync` section: the sync daemons a box runs (what
 * `ipvsadm --start-daemon` starts), so `config export` / `config apply`, provisioning and the
 * stored configuration carry them across a daemon restart. Each entry is one daemon of
 * {@linkcode SyncDaemonSpec}, at most one per role; in the text form the fields at the kernel's
 * defaults (syncid 0, maxlen 0, group 224.0.0.81, port 8848, ttl 1) are left out, the master
 * comes first, and the whole section is left out when no daemon runs.
 *
 * The sync daemons are not engine state: the document reaches them through
 * {@linkcode SyncOps} (the daemon's own, or `syncStart`/`syncStop`/`syncList` over the control
 * socket), and the plan's sync steps come after the services, so a backup's services are in
 * place before it installs sessions.
 *
 * @module
 */
import { PROTOCOL_ERROR, RemoteError } from "../ctl/protocol.ts";
import { ControlError } from "../fullnat/types.ts";
import {
  SYNC_DEFAULTS,
  type SyncDaemonSpec,
  type SyncRole,
  syncSpecProblem,
} from "../sync/sync_config.ts";
import { parseAddress } from "../vocab/address.ts";
import { isJsonObject, showValue } from "../vocab/json_value.ts";
import type { Checker } from "./document.ts";

/** What the document needs of a box's sync daemons. */
export interface SyncOps {
  /** The running daemons' settings, master first. */
  list(): Promise<SyncDaemonSpec[]>;
  start(spec: SyncDaemonSpec): Promise<void>;
  stop(role: SyncRole): Promise<void>;
}

/**
 * {@linkcode SyncOps} over a control connection's ops (`ControlClient.call`). A daemon from
 * before sync lists none (and refuses to start one).
 */
export function syncOpsOver(
  call: (op: string, ...args: unknown[]) => Promise<unknown>,
): SyncOps {
  return {
    list: async () => {
      let views: { spec: SyncDaemonSpec }[];
      try {
        views = await call("syncList") as { spec: SyncDaemonSpec }[];
      } catch (e) {
        if (e instanceof RemoteError && e.code === PROTOCOL_ERROR.unknownOp) return [];
        throw e;
      }
      return sortSync(views.map((d) => d.spec));
    },
    start: async (spec) => void await call("syncStart", spec),
    stop: async (role) => void await call("syncStop", role),
  };
}

/** Field order of an entry in the text form. */
export const SYNC_KEYS = [
  "role",
  "mcastInterface",
  "syncid",
  "maxlen",
  "group",
  "port",
  "ttl",
] as const;

const ROLES: readonly SyncRole[] = ["master", "backup"];

/** Master first (the order `ipvsadm -L --daemon` lists them in). */
export function sortSync(specs: readonly SyncDaemonSpec[]): SyncDaemonSpec[] {
  return [...specs].sort((a, b) => ROLES.indexOf(a.role) - ROLES.indexOf(b.role));
}

/** A copy of `spec` in the text form's key order, every field present. */
export function orderedSync(spec: SyncDaemonSpec): SyncDaemonSpec {
  return {
    role: spec.role,
    mcastInterface: spec.mcastInterface,
    syncid: spec.syncid,
    maxlen: spec.maxlen,
    group: spec.group,
    port: spec.port,
    ttl: spec.ttl,
  };
}

/** An entry of the text form: the fields at their default left out. */
export function syncText(spec: SyncDaemonSpec): Partial<SyncDaemonSpec> {
  const out: Record<string, unknown> = {};
  for (const k of SYNC_KEYS) {
    const d = (SYNC_DEFAULTS as Record<string, unknown>)[k];
    if (spec[k] !== d) out[k] = spec[k];
  }
  return out as Partial<SyncDaemonSpec>;
}

/** `master mcast eth2 syncid 5 group 192.0.2.2`: the role, interface and what is not default. */
export function describeSync(spec: SyncDaemonSpec): string {
  const parts = [spec.role, "mcast", spec.mcastInterface];
  const text = syncText(spec);
  for (const k of ["syncid", "maxlen", "group", "port", "ttl"] as const) {
    if (text[k] !== undefined) parts.push(k, String(text[k]));
  }
  return parts.join(" ");
}

/** Checks the `sync` section (none when left out), reporting each problem at its path. */
export function checkSyncSection(c: Checker, v: unknown): SyncDaemonSpec[] | undefined {
  const list = c.list(v, "sync");
  if (list === undefined) return undefined;
  const out: SyncDaemonSpec[] = [];
  const seen = new Map<SyncRole, number>();
  let ok = true;
  list.forEach((item, i) => {
    const spec = checkEntry(c, item, `sync[${i}]`);
    if (spec === undefined) return void (ok = false);
    const first = seen.get(spec.role);
    if (first !== undefined) {
      c.problem(
        `sync[${i}].role`,
        `a ${spec.role} sync daemon is already listed at sync[${first}] (one per role)`,
      );
      ok = false;
    } else seen.set(spec.role, i);
    out.push(spec);
  });
  return ok ? sortSync(out) : undefined;
}

function checkEntry(c: Checker, v: unknown, path: string): SyncDaemonSpec | undefined {
  if (!isJsonObject(v)) {
    c.problem(path, `must be an object with role and mcastInterface (got ${showValue(v)})`);
    return undefined;
  }
  c.unknownKeys(v, SYNC_KEYS, path);
  const role = c.oneOf(v.role, `${path}.role`, ROLES);
  let mcastInterface: string | undefined;
  if (typeof v.mcastInterface !== "string" || !/^[^\s/]{1,15}$/.test(v.mcastInterface)) {
    c.problem(
      `${path}.mcastInterface`,
      `must be an interface name of 1 to 15 characters without spaces or '/' (got ${
        showValue(v.mcastInterface)
      })`,
    );
  } else mcastInterface = v.mcastInterface;
  const num = (k: "syncid" | "maxlen" | "port" | "ttl", min: number, max: number) =>
    v[k] === undefined ? SYNC_DEFAULTS[k] : c.integer(v[k], `${path}.${k}`, min, max);
  const syncid = num("syncid", 0, 255);
  const maxlen = num("maxlen", 0, 65535);
  const port = num("port", 1, 65535);
  const ttl = num("ttl", 1, 255);
  let group: string | undefined = SYNC_DEFAULTS.group;
  if (v.group !== undefined) {
    const parsed = typeof v.group === "string" ? parseAddress(v.group) : undefined;
    if (parsed === undefined) {
      c.problem(
        `${path}.group`,
        `must be a multicast group or the peer's unicast address, IPv4 or IPv6 (got ${
          showValue(v.group)
        })`,
      );
      group = undefined;
    } else group = parsed.address;
  }
  if (
    role === undefined || mcastInterface === undefined || syncid === undefined ||
    maxlen === undefined || port === undefined || ttl === undefined || group === undefined
  ) return undefined;
  const spec = { role, mcastInterface, syncid, maxlen, group, port, ttl };
  const problem = syncSpecProblem(spec);
  if (problem !== undefined) {
    c.problem(path, problem);
    return undefined;
  }
  return spec;
}

const sameSpec = (a: SyncDaemonSpec, b: SyncDaemonSpec) =>
  JSON.stringify(orderedSync(a)) === JSON.stringify(orderedSync(b));

/** One step of the sync part of a plan (the plan's `Change`, with the sync ops it needs). */
export interface SyncChange {
  readonly text: string;
  run(sync: SyncOps): Promise<unknown>;
}

/**
 * The steps from the daemons `from` to `to`: a daemon gone is stopped, a new one started, one
 * whose settings differ restarted with the new ones (it cannot be changed while it runs).
 */
export function planSync(
  from: readonly SyncDaemonSpec[],
  to: readonly SyncDaemonSpec[],
): SyncChange[] {
  const out: SyncChange[] = [];
  for (const role of ROLES) {
    const a = from.find((s) => s.role === role);
    const b = to.find((s) => s.role === role);
    if (a !== undefined && b === undefined) {
      out.push({ text: `- sync ${describeSync(a)}`, run: (s) => s.stop(role) });
    } else if (a === undefined && b !== undefined) {
      out.push({ text: `+ sync ${describeSync(b)}`, run: (s) => s.start(b) });
    } else if (a !== undefined && b !== undefined && !sameSpec(a, b)) {
      out.push({
        text: `~ sync ${describeSync(a)} -> ${describeSync(b)}`,
        run: async (s) => {
          await s.stop(role);
          await s.start(b);
        },
      });
    }
  }
  return out;
}

/** The sync ops, or the error of a target that has none (a bare engine). */
export function needSync(sync: SyncOps | undefined): SyncOps {
  if (sync !== undefined) return sync;
  throw new ControlError(
    "invalid-argument",
    "sync daemons run in the fullnat daemon; this target has none",
  );
}
