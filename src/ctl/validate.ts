/**
 * Checks the arguments of a control call received over the socket before the engine sees
 * them, and copies out only the fields the contract defines, so a malformed or hostile request
 * is refused with `invalid-argument` and never reaches (or leaks extra fields into) the engine.
 *
 * @module
 */

import { TUNNEL_TYPES } from "../vocab/tunnel_type.ts";
import {
  FORWARD_METHODS,
  MH_TABLE_SIZES,
  PORT_MAX,
  PROTOCOLS,
  SCHEDULER_FLAGS,
  type SchedulerFlag,
  SCHEDULERS,
  THRESHOLD_MAX,
  WEIGHT_MAX,
  WEIGHT_MIN,
} from "../vocab/mod.ts";
import {
  type Endpoint,
  MAX_CHECKS_PER_SERVER,
  MAX_SOURCE_PREFIXES,
  QUORUM_MAX,
  type RealServerSpec,
  type ServiceKey,
  type ServiceOptions,
  type SorryServerSpec,
  SOURCE_LIMIT_MAX,
  type Timeouts,
  type Tunables,
} from "../fullnat/types.ts";
import { isOffloadMode, OFFLOAD_MODES, TIMEOUT_KEYS, TUNABLE_KEYS } from "../fullnat/types.ts";
import { type CheckSpec, checkSpecProblems } from "../health/spec.ts";
import type { ControlMethod, OpArgs } from "./remote.ts";

/** The checked and copied arguments of contract method `K`, or why they were refused. */
export type ArgsCheck<K extends ControlMethod = ControlMethod> =
  | { ok: true; args: OpArgs<K> }
  | { ok: false; message: string };

class ShapeError extends Error {}

type Obj = Record<string, unknown>;

function object(value: unknown, what: string): Obj {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ShapeError(`${what} must be an object`);
  }
  return value as Obj;
}

function integer(value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new ShapeError(`${what} must be an integer in ${min}..${max}`);
  }
  return value;
}

function text(value: unknown, what: string): string {
  if (typeof value !== "string" || value === "" || value.length > 256) {
    throw new ShapeError(`${what} must be a non-empty string`);
  }
  return value;
}

function oneOf<T extends string>(value: unknown, what: string, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new ShapeError(`${what} must be one of ${allowed.join(", ")}`);
  }
  return value as T;
}

const U32_MAX = 0xffffffff;

function endpoint(value: unknown, what: string) {
  const o = object(value, what);
  return {
    address: text(o.address, `${what}.address`),
    // 0 passes: it names no port (a persistent service on every port); the engine decides.
    port: integer(o.port, `${what}.port`, 0, PORT_MAX),
  };
}

function serviceKey(value: unknown): ServiceKey {
  const o = object(value, "service key");
  return {
    protocol: oneOf(o.protocol, "service key.protocol", PROTOCOLS),
    ...endpoint(o, "service key"),
  };
}

/** The check of each field of `T`. */
type FieldChecks<T> = { [F in keyof T]-?: (v: unknown) => T[F] };

/** Copies the optional fields that are present, checking each. */
function partial<T>(o: Obj, fields: FieldChecks<T>): Partial<T> {
  const out: Partial<T> = {};
  for (const name in fields) {
    if (o[name] !== undefined) out[name] = fields[name](o[name]);
  }
  return out;
}

const scheduler = (v: unknown) => oneOf(v, "scheduler", SCHEDULERS);
const persistence = (v: unknown) => integer(v, "persistence", 0, U32_MAX);
/** Which flags fit which scheduler is the engine's to say; here only the shape is checked. */
const schedulerFlags = (v: unknown): SchedulerFlag[] => {
  if (!Array.isArray(v) || v.length > SCHEDULER_FLAGS.length * 4) {
    throw new ShapeError(`schedulerFlags must be a list of ${SCHEDULER_FLAGS.join(", ")}`);
  }
  return v.map((f) => oneOf(f, "schedulerFlags[]", SCHEDULER_FLAGS));
};
const mhTableSize = (v: unknown) => {
  if (typeof v !== "number" || !MH_TABLE_SIZES.includes(v)) {
    throw new ShapeError(`mhTableSize must be one of ${MH_TABLE_SIZES.join(", ")}`);
  }
  return v;
};
const weight = (v: unknown) => integer(v, "weight", WEIGHT_MIN, WEIGHT_MAX);
const method = (v: unknown) => oneOf(v, "method", FORWARD_METHODS);
const flag = (what: string) => (v: unknown) => {
  if (typeof v !== "boolean") throw new ShapeError(`${what} must be true or false`);
  return v;
};
/** Which lengths fit which family is the engine's to say; here only the shape is checked. */
const persistenceMask = (v: unknown) => integer(v, "persistenceMask", 0, 128);
/** A sorry server (null: none); whether it fits the service is the engine's to say. */
const sorryServer = (v: unknown): SorryServerSpec | null => {
  if (v === null) return null;
  const o = object(v, "sorryServer");
  return {
    ...endpoint(o, "sorryServer"),
    method: o.method === undefined ? "fullnat" : method(o.method),
  };
};
/** An allow or deny list: strings; which prefixes fit the service is the engine's to say. */
const prefixList = (what: string) => (v: unknown): string[] => {
  if (!Array.isArray(v) || v.length > MAX_SOURCE_PREFIXES) {
    throw new ShapeError(`${what} must be a list of at most ${MAX_SOURCE_PREFIXES} prefixes`);
  }
  return v.map((p) => text(p, `${what}[]`));
};
/** The per-service TCP tweaks, scheduler and health settings, optional in every service request. */
const TWEAKS = {
  toa: flag("toa"),
  stripTimestamps: flag("stripTimestamps"),
  clampMss: flag("clampMss"),
  schedulerFlags,
  mhTableSize,
  persistenceMask,
  // Which keys fit the service's protocol is the engine's to say.
  timeouts: (v: unknown) => timeouts(v),
  onePacket: flag("onePacket"),
  synProxy: flag("synProxy"),
  quorum: (v: unknown) => integer(v, "quorum", 1, QUORUM_MAX),
  hysteresis: (v: unknown) => integer(v, "hysteresis", 0, QUORUM_MAX),
  sorryServer,
  allow: prefixList("allow"),
  deny: prefixList("deny"),
  sourceRate: (v: unknown) => integer(v, "sourceRate", 0, SOURCE_LIMIT_MAX),
  sourceSessions: (v: unknown) => integer(v, "sourceSessions", 0, SOURCE_LIMIT_MAX),
};

function serviceOptions(value: unknown): ServiceOptions {
  const o = object(value, "service options");
  return {
    scheduler: scheduler(o.scheduler),
    persistence: persistence(o.persistence),
    ...partial(o, TWEAKS),
  };
}

function serviceChanges(value: unknown): Partial<ServiceOptions> {
  return partial<ServiceOptions>(object(value, "service options"), {
    scheduler,
    persistence,
    ...TWEAKS,
  });
}

/** ipvsadm's INT_MAX bound of `-x` / `-y`. */
const threshold = (what: string) => (v: unknown) => integer(v, what, 0, THRESHOLD_MAX);
const THRESHOLDS = {
  upperThreshold: threshold("upperThreshold"),
  lowerThreshold: threshold("lowerThreshold"),
};
/**
 * Health checks: each copied field by field by the check's own validator (so nothing else
 * reaches the engine), the first problems named.
 */
const checks = (v: unknown): CheckSpec[] => {
  if (!Array.isArray(v) || v.length > MAX_CHECKS_PER_SERVER) {
    throw new ShapeError(`checks must be a list of at most ${MAX_CHECKS_PER_SERVER} checks`);
  }
  return v.map((c, i) => {
    const r = checkSpecProblems(c, `checks[${i}]`);
    if (r.spec === undefined) throw new ShapeError(r.problems.slice(0, 3).join("; "));
    return r.spec;
  });
};
/** The health fields of a real server, optional in every real-server request. */
const RS_HEALTH = { checks, inhibitOnFailure: flag("inhibitOnFailure") };
/** A TUNNEL server's encapsulation; which options fit which type is the engine's to say. */
const RS_TUNNEL = {
  tunnelType: (v: unknown) => oneOf(v, "tunnelType", TUNNEL_TYPES),
  tunnelPort: (v: unknown) => integer(v, "tunnelPort", 1, 65535),
  tunnelChecksum: flag("tunnelChecksum"),
};

function realServer(value: unknown): RealServerSpec {
  const o = object(value, "real server");
  return {
    ...endpoint(o, "real server"),
    weight: weight(o.weight),
    method: method(o.method),
    ...partial(o, THRESHOLDS),
    ...partial(o, RS_HEALTH),
    ...partial(o, RS_TUNNEL),
  };
}

function realServerChanges(value: unknown): Partial<RealServerSpec> & Endpoint {
  const o = object(value, "real server");
  return {
    ...endpoint(o, "real server"),
    ...partial<Omit<RealServerSpec, "address" | "port">>(o, {
      weight,
      method,
      ...THRESHOLDS,
      ...RS_HEALTH,
      ...RS_TUNNEL,
    }),
  };
}

function timeouts(value: unknown): Partial<Timeouts> {
  const o = object(value, "timeouts");
  const known: readonly string[] = TIMEOUT_KEYS;
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new ShapeError(`unknown timeout '${unknown[0]}'`);
  const out: Partial<Timeouts> = {};
  for (const f of TIMEOUT_KEYS) {
    if (o[f] !== undefined) out[f] = integer(o[f], f, 0, U32_MAX);
  }
  return out;
}

function tunables(value: unknown): Partial<Tunables> {
  const o = object(value, "tunables");
  const known: readonly string[] = [...TUNABLE_KEYS, "offload"];
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new ShapeError(`unknown tunable '${unknown[0]}'`);
  const out: Partial<Tunables> = {};
  for (const f of TUNABLE_KEYS) if (o[f] !== undefined) out[f] = flag(f)(o[f]);
  if (o.offload !== undefined) {
    if (!isOffloadMode(o.offload)) {
      throw new ShapeError(`offload must be ${OFFLOAD_MODES.join(" or ")}`);
    }
    out.offload = o.offload;
  }
  return out;
}

const address = (v: unknown) => text(v, "address");

/** How the arguments of one method are checked: how many are required, and each one's check. */
interface ArgsShape<A extends readonly unknown[]> {
  min: number;
  checks: { [I in keyof A]-?: (v: unknown) => A[I] };
}

/** Per method: the accepted argument counts and the check of each argument. */
const SHAPES: { [K in ControlMethod]: ArgsShape<OpArgs<K>> } = {
  addService: { min: 2, checks: [serviceKey, serviceOptions] },
  editService: { min: 2, checks: [serviceKey, serviceChanges] },
  deleteService: { min: 1, checks: [serviceKey] },
  addRealServer: { min: 2, checks: [serviceKey, realServer] },
  editRealServer: { min: 2, checks: [serviceKey, realServerChanges] },
  deleteRealServer: { min: 2, checks: [serviceKey, (v) => endpoint(v, "real server")] },
  addLocalAddress: { min: 2, checks: [serviceKey, address] },
  deleteLocalAddress: { min: 2, checks: [serviceKey, address] },
  clear: { min: 0, checks: [] },
  zeroStats: { min: 0, checks: [serviceKey] },
  listServices: { min: 0, checks: [] },
  listConnections: { min: 0, checks: [] },
  getTimeouts: { min: 0, checks: [] },
  setTimeouts: { min: 1, checks: [timeouts] },
  getTunables: { min: 0, checks: [] },
  setTunables: { min: 1, checks: [tunables] },
  diversion: { min: 0, checks: [] },
};

/** Checks `args` for `method` and returns clean copies, or the reason they are refused. */
export function checkArgs<K extends ControlMethod>(
  method: K,
  args: readonly unknown[],
): ArgsCheck<K> {
  const shape: ArgsShape<OpArgs<K>> = SHAPES[method];
  const checks: readonly ((v: unknown) => unknown)[] = shape.checks;
  if (args.length < shape.min || args.length > checks.length) {
    const count = shape.min === checks.length ? `${shape.min}` : `${shape.min} to ${checks.length}`;
    return { ok: false, message: `${method} takes ${count} argument(s), got ${args.length}` };
  }
  try {
    // Each check returns its argument's type (SHAPES is typed by the contract), so the copies
    // are the method's arguments.
    return { ok: true, args: args.map((a, i) => checks[i](a)) as OpArgs<K> };
  } catch (e) {
    if (e instanceof ShapeError) return { ok: false, message: `${method}: ${e.message}` };
    throw e;
  }
}
