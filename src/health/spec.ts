/**
 * What a health check is: the {@linkcode CheckSpec} a real server carries in the configuration
 * document (`services[i].realServers[j].checks`), keepalived's defaults for it, the validator
 * the document calls for each check, and the text form that leaves defaults out.
 *
 * The names and defaults are keepalived's (delay_loop 60, connect_timeout 5, retry 1 (0 for
 * MISC_CHECK, as keepalived), delay_before_retry 1, rise 1, fall 1; misc_timeout defaults to
 * delay_loop; HTTP_GET accepts any 2xx unless status codes are given), so a keepalived user can
 * carry a check over by renaming fields only.
 *
 * A checked spec is normalized: every timing field is filled in, optional fields are present
 * only when they say something (a `timeout` equal to `delayLoop`, `dynamic: false`, `bindPort:
 * 0` and a status code list equal to 200-299 are dropped), digests are lower case and status
 * codes sorted. Two checks that mean the same thing therefore compare equal with
 * {@linkcode checkKey}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkSpecProblems, formatCheck } from "./spec.ts";
 * const { spec, problems } = checkSpecProblems({ type: "http", urls: [{ path: "/" }] }, "c");
 * assert.ok(problems.length === 0 && spec?.delayLoop === 60);
 * assert.deepEqual(formatCheck(spec!), { type: "http", urls: [{ path: "/" }] });
 * ```
 *
 * @module
 */
import { isIpv6, parseAddress, PORT_MAX, PORT_MIN } from "../vocab/mod.ts";
import { isJsonObject, type JsonObject, showValue } from "../vocab/json_value.ts";

/** The kinds of check: keepalived's TCP_CHECK, HTTP_GET, SSL_GET and MISC_CHECK. */
export type CheckType = "tcp" | "http" | "https" | "misc";

/** Every check type, in the order messages list them. */
export const CHECK_TYPES: readonly CheckType[] = ["tcp", "http", "https", "misc"];

/** One URL an http or https check fetches (keepalived's `url { path; status_code; digest }`). */
export interface UrlSpec {
  /** Request path, starting with `/`. */
  path: string;
  /** Accepted status codes; absent: any of 200-299. */
  statusCodes?: number[];
  /** MD5 of the body in lower-case hex (keepalived's `digest`, as `genhash` prints it). */
  digest?: string;
}

/**
 * One health check of a real server. Durations are seconds (fractions allowed). Optional fields
 * are absent when at their default.
 */
export interface CheckSpec {
  type: CheckType;
  /** (delay_loop) seconds from the start of one round to the start of the next. */
  delayLoop: number;
  /** (connect_timeout) bound on one attempt: connect, or the whole HTTP exchange. */
  connectTimeout: number;
  /** (retry / nb_get_retry) extra attempts within a round before it counts as failed. */
  retry: number;
  /** (delay_before_retry) seconds between the attempts of one round. */
  delayBeforeRetry: number;
  /** Consecutive good rounds that bring a down check up. */
  rise: number;
  /** Consecutive failed rounds that bring an up check down. */
  fall: number;
  /** (connect_ip) address to probe; default the real server's. */
  connectIp?: string;
  /** (connect_port) port to probe; default the real server's. */
  connectPort?: number;
  /** (bind_to) source address of the probe, a local address of the box. */
  bindTo?: string;
  /** (bind_port) source port of the probe. */
  bindPort?: number;
  /** http/https: URLs fetched in order; all must pass. */
  urls?: UrlSpec[];
  /** http/https: Host header (and TLS server name); default `address:port`. */
  virtualHost?: string;
  /** misc: the command, run with `/bin/sh -c`. */
  command?: string;
  /** misc: seconds before the command is killed; default delayLoop. */
  timeout?: number;
  /**
   * misc: exit codes 2-255 mean up with weight code - 2 (keepalived's misc_dynamic); exit 0 is
   * up and leaves the weight as the last such code set it.
   */
  dynamic?: boolean;
}

/** The timing fields every check has. */
export type CheckTiming = Pick<
  CheckSpec,
  "delayLoop" | "connectTimeout" | "retry" | "delayBeforeRetry" | "rise" | "fall"
>;

/** keepalived's defaults for the timing fields of tcp, http and https checks. */
export const CHECK_DEFAULTS: Readonly<CheckTiming> = {
  delayLoop: 60,
  connectTimeout: 5,
  retry: 1,
  delayBeforeRetry: 1,
  rise: 1,
  fall: 1,
};

/**
 * keepalived's defaults for a check of the given type: those of {@linkcode CHECK_DEFAULTS},
 * except that a misc check makes no retry unless told (keepalived's MISC_CHECK sets its
 * default retry to 0: a script that fails is believed at once).
 */
export function checkDefaults(type: CheckType): Readonly<CheckTiming> {
  return type === "misc" ? MISC_DEFAULTS : CHECK_DEFAULTS;
}

const MISC_DEFAULTS: Readonly<CheckTiming> = { ...CHECK_DEFAULTS, retry: 0 };

/** Longest duration a check takes, in seconds: one day (well inside what a timer can wait). */
export const CHECK_MAX_SECONDS = 86400;

/** Shortest non-zero duration: timers work in milliseconds. */
export const CHECK_MIN_SECONDS = 0.001;

/** Most retries, rise or fall a check takes. */
export const CHECK_MAX_COUNT = 1000;

/** Every field a check may carry, in the order of the text form. */
export const CHECK_FIELDS = [
  "type",
  "delayLoop",
  "connectTimeout",
  "retry",
  "delayBeforeRetry",
  "rise",
  "fall",
  "connectIp",
  "connectPort",
  "bindTo",
  "bindPort",
  "urls",
  "virtualHost",
  "command",
  "timeout",
  "dynamic",
] as const;

const HTTP_FIELDS = ["urls", "virtualHost"] as const;
const MISC_FIELDS = ["command", "timeout", "dynamic"] as const;
const URL_FIELDS = ["path", "statusCodes", "digest"] as const;

/** True when a check of this type speaks HTTP. */
export function isHttpCheck(type: CheckType): boolean {
  return type === "http" || type === "https";
}

/** True when the status code passes the URL's list (any 2xx when it gives none). */
export function statusAccepted(url: UrlSpec, code: number): boolean {
  return url.statusCodes === undefined
    ? code >= 200 && code <= 299
    : url.statusCodes.includes(code);
}

/** How a URL's accepted statuses read in a reason: `200`, `200, 301` or `200-299`. */
export function describeStatusCodes(url: UrlSpec): string {
  return url.statusCodes === undefined ? "200-299" : url.statusCodes.join(", ");
}

/** The seconds a misc command may run before it is killed. */
export function miscTimeout(spec: CheckSpec): number {
  return spec.timeout ?? spec.delayLoop;
}

/** The address and port a check probes for the given real server. */
export function checkTarget(
  spec: CheckSpec,
  rs: { address: string; port: number },
): { address: string; port: number } {
  return { address: spec.connectIp ?? rs.address, port: spec.connectPort ?? rs.port };
}

type Obj = JsonObject;
const isObject = isJsonObject;
const show = showValue;

const ALL_2XX = Array.from({ length: 100 }, (_, i) => 200 + i);

/** Optional context the validator uses to check address families against the real server. */
export interface CheckContext {
  /** The real server's address: connectIp and bindTo must be of its family. */
  rsAddress?: string;
}

/**
 * Checks one check as written in the document and fills in its defaults. Every problem is
 * reported, each prefixed with `path` (`services[0].realServers[1].checks[0]`); `spec` is set
 * only when there are none. Never throws.
 */
export function checkSpecProblems(
  v: unknown,
  path: string,
  context: CheckContext = {},
): { spec?: CheckSpec; problems: string[] } {
  const problems: string[] = [];
  const problem = (field: string, message: string) =>
    problems.push(`${field === "" ? path : `${path}.${field}`}: ${message}`);
  if (!isObject(v)) {
    problem("", `must be an object with a type (tcp, http, https or misc) (got ${show(v)})`);
    return { problems };
  }
  for (const k of Object.keys(v)) {
    if (!(CHECK_FIELDS as readonly string[]).includes(k)) {
      problem(k, `unknown field (allowed: ${CHECK_FIELDS.join(", ")})`);
    }
  }

  let type: CheckType | undefined;
  if (typeof v.type === "string" && (CHECK_TYPES as readonly string[]).includes(v.type)) {
    type = v.type as CheckType;
  } else problem("type", `must be one of ${CHECK_TYPES.join(", ")} (got ${show(v.type)})`);

  const seconds = (field: string, min: number): number | undefined => {
    const x = v[field];
    if (typeof x !== "number" || !Number.isFinite(x) || x < min || x > CHECK_MAX_SECONDS) {
      problem(
        field,
        `must be a number of seconds from ${min} to ${CHECK_MAX_SECONDS} (got ${show(x)})`,
      );
      return undefined;
    }
    return x;
  };
  const integer = (field: string, min: number, max: number): number | undefined => {
    const x = v[field];
    if (typeof x !== "number" || !Number.isInteger(x) || x < min || x > max) {
      problem(field, `must be an integer from ${min} to ${max} (got ${show(x)})`);
      return undefined;
    }
    return x;
  };
  const defaults = checkDefaults(type ?? "tcp");
  const timing = (field: keyof CheckTiming, read: () => number | undefined) =>
    v[field] === undefined ? defaults[field] : read();

  const delayLoop = timing("delayLoop", () => seconds("delayLoop", CHECK_MIN_SECONDS));
  const connectTimeout = timing(
    "connectTimeout",
    () => seconds("connectTimeout", CHECK_MIN_SECONDS),
  );
  const retry = timing("retry", () => integer("retry", 0, CHECK_MAX_COUNT));
  const delayBeforeRetry = timing("delayBeforeRetry", () => seconds("delayBeforeRetry", 0));
  const rise = timing("rise", () => integer("rise", 1, CHECK_MAX_COUNT));
  const fall = timing("fall", () => integer("fall", 1, CHECK_MAX_COUNT));

  const rsFamily = context.rsAddress === undefined
    ? undefined
    : (isIpv6(context.rsAddress) ? 6 : 4);
  const address = (field: string): string | undefined => {
    const x = v[field];
    if (x === undefined) return undefined;
    const parsed = typeof x === "string" ? parseAddress(x) : undefined;
    if (parsed === undefined) {
      problem(field, `must be an IPv4 or IPv6 address as a string (got ${show(x)})`);
      return undefined;
    }
    if (!usableAddress(parsed.address)) {
      problem(field, `${x} is not a unicast address`);
      return undefined;
    }
    if (rsFamily !== undefined && parsed.family !== rsFamily) {
      problem(
        field,
        `${x} is IPv${parsed.family} but the real server ${context.rsAddress} is IPv${rsFamily}`,
      );
      return undefined;
    }
    return parsed.address;
  };
  const connectIp = address("connectIp");
  const bindTo = address("bindTo");
  if (connectIp !== undefined && bindTo !== undefined && isIpv6(connectIp) !== isIpv6(bindTo)) {
    problem("bindTo", `${bindTo} and connectIp ${connectIp} are of different IP versions`);
  }
  const connectPort = v.connectPort === undefined
    ? undefined
    : integer("connectPort", PORT_MIN, PORT_MAX);
  const bindPort = v.bindPort === undefined ? undefined : integer("bindPort", 0, PORT_MAX);

  const spec: CheckSpec = {
    type: type ?? "tcp",
    delayLoop: delayLoop ?? 0,
    connectTimeout: connectTimeout ?? 0,
    retry: retry ?? 0,
    delayBeforeRetry: delayBeforeRetry ?? 0,
    rise: rise ?? 0,
    fall: fall ?? 0,
  };
  if (connectIp !== undefined) spec.connectIp = connectIp;
  if (connectPort !== undefined) spec.connectPort = connectPort;
  if (bindTo !== undefined) spec.bindTo = bindTo;
  if (bindPort !== undefined && bindPort !== 0) spec.bindPort = bindPort;

  if (type !== undefined) {
    const misplaced = (fields: readonly string[], owner: string) => {
      for (const f of fields) {
        if (v[f] !== undefined) problem(f, `applies to ${owner} checks only (the type is ${type})`);
      }
    };
    if (!isHttpCheck(type)) misplaced(HTTP_FIELDS, "http and https");
    if (type !== "misc") misplaced(MISC_FIELDS, "misc");
  }

  if (type !== undefined && isHttpCheck(type)) {
    const urls = checkUrls(v.urls, type, problem);
    if (urls !== undefined) spec.urls = urls;
    if (v.virtualHost !== undefined) {
      const host = v.virtualHost;
      if (typeof host !== "string" || !/^[\x21-\x7e]+$/.test(host)) {
        problem(
          "virtualHost",
          `must be a host name without spaces, like www.example.com (got ${show(host)})`,
        );
      } else spec.virtualHost = host;
    }
  }

  if (type === "misc") {
    const command = v.command;
    if (command === undefined) {
      problem("command", "must be given for a misc check (the command to run)");
    } else if (typeof command !== "string" || command.trim() === "") {
      problem("command", `must be a command line as a non-empty string (got ${show(command)})`);
    } else if (command.includes("\0")) {
      problem("command", "must not contain a NUL character");
    } else spec.command = command;
    if (v.timeout !== undefined) {
      const t = seconds("timeout", CHECK_MIN_SECONDS);
      if (t !== undefined && t !== spec.delayLoop) spec.timeout = t;
    }
    if (v.dynamic !== undefined) {
      if (typeof v.dynamic !== "boolean") {
        problem("dynamic", `must be true or false (got ${show(v.dynamic)})`);
      } else if (v.dynamic) spec.dynamic = true;
    }
  }

  return problems.length === 0 ? { spec, problems } : { problems };
}

/** Loopback is fine for a check (a service on the box itself); nothing that is not one host. */
function usableAddress(address: string): boolean {
  const p = parseAddress(address);
  if (p === undefined) return false;
  if (p.family === 4) return p.v4 !== 0 && p.v4 >>> 28 !== 14 && p.v4 !== 0xffffffff;
  const w = p.v6;
  const unspecified = w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0;
  return !unspecified && w[0] >>> 24 !== 0xff;
}

function checkUrls(
  v: unknown,
  type: CheckType,
  problem: (field: string, message: string) => void,
): UrlSpec[] | undefined {
  if (v === undefined) {
    problem("urls", `must list at least one URL for an ${type} check, like [{"path": "/"}]`);
    return undefined;
  }
  if (!Array.isArray(v) || v.length === 0) {
    problem("urls", `must be a non-empty list of URLs, like [{"path": "/"}] (got ${show(v)})`);
    return undefined;
  }
  const out: UrlSpec[] = [];
  let ok = true;
  v.forEach((u, i) => {
    const at = `urls[${i}]`;
    if (!isObject(u)) {
      problem(at, `must be an object with a path (got ${show(u)})`);
      ok = false;
      return;
    }
    for (const k of Object.keys(u)) {
      if (!(URL_FIELDS as readonly string[]).includes(k)) {
        problem(`${at}.${k}`, `unknown field (allowed: ${URL_FIELDS.join(", ")})`);
        ok = false;
      }
    }
    const url: UrlSpec = { path: "" };
    if (typeof u.path !== "string" || !/^\/[\x21-\x7e]*$/.test(u.path)) {
      problem(
        `${at}.path`,
        `must be a path starting with "/" and without spaces, like /health (got ${show(u.path)})`,
      );
      ok = false;
    } else url.path = u.path;
    if (u.statusCodes !== undefined) {
      const codes = u.statusCodes;
      if (!Array.isArray(codes) || codes.length === 0) {
        problem(
          `${at}.statusCodes`,
          `must be a non-empty list of HTTP status codes (got ${show(codes)})`,
        );
        ok = false;
      } else {
        const bad = codes.findIndex((c) =>
          typeof c !== "number" || !Number.isInteger(c) || c < 100 || c > 599
        );
        if (bad >= 0) {
          problem(
            `${at}.statusCodes[${bad}]`,
            `must be an HTTP status code from 100 to 599 (got ${show(codes[bad])})`,
          );
          ok = false;
        } else {
          const sorted = [...new Set(codes as number[])].sort((a, b) => a - b);
          const all2xx = sorted.length === ALL_2XX.length &&
            sorted.every((c, j) => c === ALL_2XX[j]);
          if (!all2xx) url.statusCodes = sorted;
        }
      }
    }
    if (u.digest !== undefined) {
      if (typeof u.digest !== "string" || !/^[0-9a-fA-F]{32}$/.test(u.digest)) {
        problem(
          `${at}.digest`,
          `must be an MD5 digest, 32 hexadecimal digits as genhash prints it (got ${
            show(u.digest)
          })`,
        );
        ok = false;
      } else url.digest = u.digest.toLowerCase();
    }
    out.push(url);
  });
  return ok ? out : undefined;
}

/**
 * A checked spec, or an Error listing every problem (for callers that have one check and no
 * document around it, such as tests and tools).
 */
export function normalizeCheck(v: unknown, path = "check", context: CheckContext = {}): CheckSpec {
  const { spec, problems } = checkSpecProblems(v, path, context);
  if (spec === undefined) throw new Error(`Invalid health check:\n  ${problems.join("\n  ")}`);
  return spec;
}

/**
 * The text form of a check: fields in the fixed order of {@linkcode CHECK_FIELDS}, those at
 * their default left out, so `formatCheck(normalizeCheck(formatCheck(s)))` equals
 * `formatCheck(s)`.
 */
export function formatCheck(spec: CheckSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { type: spec.type };
  const defaults = checkDefaults(spec.type);
  for (const k of Object.keys(defaults) as (keyof CheckTiming)[]) {
    if (spec[k] !== defaults[k]) out[k] = spec[k];
  }
  if (spec.connectIp !== undefined) out.connectIp = spec.connectIp;
  if (spec.connectPort !== undefined) out.connectPort = spec.connectPort;
  if (spec.bindTo !== undefined) out.bindTo = spec.bindTo;
  if (spec.bindPort !== undefined && spec.bindPort !== 0) out.bindPort = spec.bindPort;
  if (isHttpCheck(spec.type)) {
    out.urls = (spec.urls ?? []).map((u) => {
      const url: Record<string, unknown> = { path: u.path };
      if (u.statusCodes !== undefined) url.statusCodes = [...u.statusCodes];
      if (u.digest !== undefined) url.digest = u.digest;
      return url;
    });
    if (spec.virtualHost !== undefined) out.virtualHost = spec.virtualHost;
  }
  if (spec.type === "misc") {
    out.command = spec.command;
    if (spec.timeout !== undefined && spec.timeout !== spec.delayLoop) out.timeout = spec.timeout;
    if (spec.dynamic === true) out.dynamic = true;
  }
  return out;
}

/** One text per meaning: equal keys, equal checks (a runner need not restart). */
export function checkKey(spec: CheckSpec): string {
  return JSON.stringify(formatCheck(spec));
}

/** The endpoint a check belongs to: its real server. */
export interface RsTarget {
  address: string;
  port: number;
}

/** The outcome of one attempt (re-exported by probe.ts, which produces it). */
export interface ProbeResult {
  ok: boolean;
  /** Short and specific: `connected in 3 ms`, `connection refused`, `HTTP 500 on /health (expected 200)`. */
  reason: string;
  /** misc with dynamic: the weight the exit code asks for (code - 2). */
  weight?: number;
  /** How long the attempt took, in milliseconds. */
  ms: number;
}

/** What a runner knows about its check (re-exported by runner.ts, which keeps it). */
export interface CheckStatus {
  up: boolean;
  /** When `up` last changed (or the runner was made), epoch milliseconds. */
  since: number;
  /** Why the check is in its state: the reason of the attempt that decided it. */
  reason: string;
  /** The last attempt, with when it ended (epoch ms). */
  lastResult?: ProbeResult & { at: number };
  /** Rounds completed. */
  rounds: number;
  /** Rounds that failed (every attempt of the round failed). */
  failures: number;
  /** Times `up` changed. */
  transitions: number;
  /** misc with dynamic: the weight the last exit code 2-255 asked for (absent before any). */
  weight?: number;
}

/** Options of a runner the schema names (runner.ts adds what tests replace). */
export interface BaseRunnerOptions {
  /** Milliseconds before the first round (spread checks over delayLoop); default 0. */
  firstDelayMs?: number;
  /** The state before the first verdict; default true (keepalived assumes up). */
  initiallyUp?: boolean;
}
