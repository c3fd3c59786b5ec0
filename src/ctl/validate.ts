/**
 * Checks the arguments of a control call received over the socket before the engine sees
 * them, and copies out only the fields the contract defines, so a malformed or hostile request
 * is refused with `invalid-argument` and never reaches (or leaks extra fields into) the engine.
 *
 * @module
 */

import {
  FORWARD_METHODS,
  PORT_MAX,
  PROTOCOLS,
  SCHEDULERS,
  WEIGHT_MAX,
  WEIGHT_MIN,
} from "../vocab/mod.ts";
import type { ControlMethod } from "./remote.ts";

/** The checked and copied arguments, or why they were refused. */
export type ArgsCheck = { ok: true; args: unknown[] } | { ok: false; message: string };

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

function serviceKey(value: unknown) {
  const o = object(value, "service key");
  return {
    protocol: oneOf(o.protocol, "service key.protocol", PROTOCOLS),
    ...endpoint(o, "service key"),
  };
}

/** Copies the optional fields that are present, checking each. */
function partial(o: Obj, fields: Record<string, (v: unknown) => unknown>): Obj {
  const out: Obj = {};
  for (const [name, check] of Object.entries(fields)) {
    if (o[name] !== undefined) out[name] = check(o[name]);
  }
  return out;
}

const scheduler = (v: unknown) => oneOf(v, "scheduler", SCHEDULERS);
const persistence = (v: unknown) => integer(v, "persistence", 0, U32_MAX);
const weight = (v: unknown) => integer(v, "weight", WEIGHT_MIN, WEIGHT_MAX);
const method = (v: unknown) => oneOf(v, "method", FORWARD_METHODS);
const flag = (what: string) => (v: unknown) => {
  if (typeof v !== "boolean") throw new ShapeError(`${what} must be true or false`);
  return v;
};
/** The per-service TCP tweaks, optional in every service request. */
const TWEAKS = {
  toa: flag("toa"),
  stripTimestamps: flag("stripTimestamps"),
  clampMss: flag("clampMss"),
};

function serviceOptions(value: unknown, all: boolean): Obj {
  const o = object(value, "service options");
  if (all) {
    return {
      scheduler: scheduler(o.scheduler),
      persistence: persistence(o.persistence),
      ...partial(o, TWEAKS),
    };
  }
  return partial(o, { scheduler, persistence, ...TWEAKS });
}

function realServer(value: unknown, all: boolean): Obj {
  const o = object(value, "real server");
  const base = endpoint(o, "real server");
  if (all) return { ...base, weight: weight(o.weight), method: method(o.method) };
  return { ...base, ...partial(o, { weight, method }) };
}

const TIMEOUT_FIELDS = [
  "tcpEstablished",
  "tcpSynSent",
  "tcpSynRecv",
  "tcpFinWait",
  "tcpTimeWait",
  "tcpClose",
  "tcpCloseWait",
  "tcpLastAck",
  "udp",
];

function timeouts(value: unknown): Obj {
  const o = object(value, "timeouts");
  const unknown = Object.keys(o).filter((k) => !TIMEOUT_FIELDS.includes(k));
  if (unknown.length > 0) throw new ShapeError(`unknown timeout '${unknown[0]}'`);
  return partial(
    o,
    Object.fromEntries(TIMEOUT_FIELDS.map((f) => [f, (v: unknown) => integer(v, f, 0, U32_MAX)])),
  );
}

const address = (v: unknown) => text(v, "address");

/** Per method: the accepted argument counts and the check of each argument. */
const SHAPES: Record<ControlMethod, { min: number; checks: ((v: unknown) => unknown)[] }> = {
  addService: { min: 2, checks: [serviceKey, (v) => serviceOptions(v, true)] },
  editService: { min: 2, checks: [serviceKey, (v) => serviceOptions(v, false)] },
  deleteService: { min: 1, checks: [serviceKey] },
  addRealServer: { min: 2, checks: [serviceKey, (v) => realServer(v, true)] },
  editRealServer: { min: 2, checks: [serviceKey, (v) => realServer(v, false)] },
  deleteRealServer: { min: 2, checks: [serviceKey, (v) => endpoint(v, "real server")] },
  addLocalAddress: { min: 2, checks: [serviceKey, address] },
  deleteLocalAddress: { min: 2, checks: [serviceKey, address] },
  clear: { min: 0, checks: [] },
  zeroStats: { min: 0, checks: [serviceKey] },
  listServices: { min: 0, checks: [] },
  listConnections: { min: 0, checks: [] },
  getTimeouts: { min: 0, checks: [] },
  setTimeouts: { min: 1, checks: [timeouts] },
  diversion: { min: 0, checks: [] },
};

/** Checks `args` for `method` and returns clean copies, or the reason they are refused. */
export function checkArgs(method: ControlMethod, args: readonly unknown[]): ArgsCheck {
  const shape = SHAPES[method];
  if (args.length < shape.min || args.length > shape.checks.length) {
    const count = shape.min === shape.checks.length
      ? `${shape.min}`
      : `${shape.min} to ${shape.checks.length}`;
    return { ok: false, message: `${method} takes ${count} argument(s), got ${args.length}` };
  }
  try {
    return { ok: true, args: args.map((a, i) => shape.checks[i](a)) };
  } catch (e) {
    if (e instanceof ShapeError) return { ok: false, message: `${method}: ${e.message}` };
    throw e;
  }
}
