/**
 * keepalived's health checkers inside a `real_server` block (`TCP_CHECK`, `HTTP_GET`,
 * `SSL_GET`, `MISC_CHECK`) read into drafts, then resolved into the document's checks once the
 * whole virtual server is read: a timing keyword a checker leaves out is taken from its
 * real server, then its virtual server (which may set it after the real servers), then
 * keepalived's default (delay_loop 60 s, connect_timeout 5 s, retry 1 (MISC_CHECK 0),
 * delay_before_retry 1 s (HTTP_GET and SSL_GET 3 s)), as keepalived's `check_data.c` does. The
 * check keeps a value when it differs from the contract's default, so the document means what
 * keepalived did whatever defaults the check runner has.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Findings } from "./findings.ts";
 * import { readCheck, resolveCheck } from "./checks.ts";
 * const f = new Findings();
 * const at = { file: "k.conf", line: 1 };
 * const draft = readCheck({ keyword: "HTTP_GET", args: [], at, block: [
 *   { keyword: "url", args: [], at, block: [{ keyword: "path", args: ["/health"], at }] },
 * ] }, f)!;
 * assert.deepEqual(resolveCheck(draft, {}, {}, f), {
 *   type: "http", delayBeforeRetry: 3, urls: [{ path: "/health" }],
 * });
 * ```
 *
 * @module
 */
import type { Findings, Where } from "./findings.ts";
import { dropUndefined, type ImportedCheck, type ImportedUrl } from "./output.ts";
import type { Statement } from "./parse.ts";
import { readAddressText, readFlag, readInteger, readOne, readSeconds, spelled } from "./values.ts";
import { PORT_MAX, PORT_MIN } from "../vocab/mod.ts";

/** Timing a virtual server, real server or checker may set (undefined: not set there). */
export interface Timing {
  delayLoop?: number;
  connectTimeout?: number;
  retry?: number;
  delayBeforeRetry?: number;
  /** HTTP_GET / SSL_GET Host header. */
  virtualHost?: string;
}

/** The checker keywords fullnat runs, and the check type each becomes. */
export const CHECKERS: Readonly<Record<string, ImportedCheck["type"]>> = {
  TCP_CHECK: "tcp",
  HTTP_GET: "http",
  SSL_GET: "https",
  MISC_CHECK: "misc",
};

/** keepalived's other checkers, refused. */
export const OTHER_CHECKERS: readonly string[] = [
  "SMTP_CHECK",
  "DNS_CHECK",
  "UDP_CHECK",
  "PING_CHECK",
  "BFD_CHECK",
  "FILE_CHECK",
];

/** The contract's defaults (ISSUE18_SCHEMA.md): a resolved value equal to one is left out. */
export const CHECK_DEFAULTS = { delayLoop: 60, connectTimeout: 5, retry: 1, delayBeforeRetry: 1 };

/** A checker as written, before defaults. */
export interface CheckDraft extends Timing {
  type: ImportedCheck["type"];
  keyword: string;
  at: Where;
  connectIp?: string;
  connectPort?: number;
  bindTo?: string;
  bindPort?: number;
  urls: UrlDraft[];
  command?: string;
  timeout?: number;
  dynamic?: boolean;
}

interface UrlDraft {
  at: Where;
  path?: string;
  statusCodes?: number[];
  digest?: string;
  virtualHost?: string;
}

/** Keywords a checker block may hold that fullnat cannot honour, with the reason. */
const REFUSED_IN_CHECKER: Readonly<Record<string, string>> = {
  warmup: "not supported yet (the first check runs within one delay_loop)",
  alpha: "not supported yet (real servers start up, as keepalived's do without alpha)",
  bind_if: "not supported yet (use bindto with an address of that interface)",
  fwmark: "not supported yet (checks are not marked)",
  http_protocol: "not supported yet (the check runner chooses the HTTP version)",
  enable_sni: "not supported yet",
  sni_name: "not supported yet",
  fast_recovery: "not supported yet",
  tls_compliant: "not supported yet",
  user: "not supported yet (the command runs as the daemon's user)",
};

/** Keywords of a `url` block fullnat cannot honour. */
const REFUSED_IN_URL: readonly string[] = [
  "regex",
  "regex_no_match",
  "regex_options",
  "regex_min_offset",
  "regex_max_offset",
  "regex_stack",
  "tls_compliant",
];

/** Reads the checker `st` (its keyword is one of {@linkcode CHECKERS}). */
export function readCheck(st: Statement, f: Findings): CheckDraft | undefined {
  const type = CHECKERS[st.keyword];
  const d: CheckDraft = { type, keyword: st.keyword, at: st.at, urls: [] };
  if (st.args.length > 0) f.problem(st.at, `${spelled(st)}: ${st.keyword} takes no value`);
  if (st.block === undefined) {
    f.problem(st.at, `${st.keyword} needs a { } block`);
    return undefined;
  }
  const connects = type !== "misc";
  const http = type === "http" || type === "https";
  for (const s of st.block) {
    const k = s.keyword;
    if (k === "delay_loop") d.delayLoop = readSeconds(s, f, 0.001);
    else if (k === "retry") d.retry = readInteger(s, f, 0, 1_000_000);
    else if (k === "nb_get_retry" && http) d.retry = readInteger(s, f, 0, 1_000_000);
    else if ((k === "nb_get_retry" || k === "nb_sock_retry") && type === "tcp") {
      // Many TCP_CHECKs carry one (DPVS's tutorial, Alibaba LVS sites); keepalived ignores
      // both there, but what they ask for is retry.
      d.retry = readInteger(s, f, 0, 1_000_000);
      f.note(s.at, `${k} is not read by keepalived in TCP_CHECK; taken as retry`);
    } else if (k === "delay_before_retry") d.delayBeforeRetry = readSeconds(s, f, 0);
    else if (k === "connect_timeout" && connects) d.connectTimeout = readSeconds(s, f, 0.001);
    else if (k === "connect_ip" && connects) d.connectIp = address(s, f);
    else if (k === "connect_port" && connects) {
      d.connectPort = readInteger(s, f, PORT_MIN, PORT_MAX);
    } else if ((k === "bindto" || k === "bind_to") && connects) d.bindTo = address(s, f);
    else if (k === "bind_port" && connects) d.bindPort = readInteger(s, f, PORT_MIN, PORT_MAX);
    else if (k === "virtualhost" && http) d.virtualHost = readOne(s, f, "a host name");
    else if (k === "url" && http) d.urls.push(readUrl(s, f));
    else if (k === "misc_path" && !connects) d.command = readOne(s, f, "a command");
    else if (k === "misc_timeout" && !connects) d.timeout = readInteger(s, f, 1, 31_536_000);
    else if (k === "misc_dynamic" && !connects) d.dynamic = readFlag(s, f);
    else if (k === "log_all_failures") {
      f.note(s.at, `${k} ignored: fullnat keeps every check's last result and logs each change`);
    } else if (REFUSED_IN_CHECKER[k] !== undefined) {
      f.problem(s.at, `${spelled(s)}: ${REFUSED_IN_CHECKER[k]}`);
    } else f.problem(s.at, `${k}: unknown keyword in ${st.keyword}`);
  }
  if (http && d.urls.length === 0) {
    f.problem(st.at, `${st.keyword} has no url (keepalived would drop this checker)`);
  }
  if (type === "misc" && d.command === undefined) {
    f.problem(st.at, "MISC_CHECK has no misc_path (keepalived would drop this checker)");
  }
  return d;
}

function address(st: Statement, f: Findings): string | undefined {
  const text = readOne(st, f, "an address");
  return text === undefined ? undefined : readAddressText(text, st, f)?.address;
}

function readUrl(st: Statement, f: Findings): UrlDraft {
  const u: UrlDraft = { at: st.at };
  if (st.block === undefined) {
    f.problem(st.at, "url needs a { } block with its path");
    return u;
  }
  for (const s of st.block) {
    const k = s.keyword;
    if (k === "path") u.path = readOne(s, f, "a path");
    else if (k === "digest") u.digest = readDigest(s, f);
    else if (k === "status_code") u.statusCodes = readStatusCodes(s, f);
    else if (k === "virtualhost") u.virtualHost = readOne(s, f, "a host name");
    else if (REFUSED_IN_URL.includes(k)) {
      f.problem(s.at, `${spelled(s)}: not supported yet (checks compare status and digest)`);
    } else f.problem(s.at, `${k}: unknown keyword in url`);
  }
  if (u.path === undefined) f.problem(st.at, "url has no path (keepalived would drop it)");
  return u;
}

function readDigest(st: Statement, f: Findings): string | undefined {
  const text = readOne(st, f, "an MD5 digest (32 hex digits)");
  if (text === undefined) return undefined;
  if (/^[0-9a-fA-F]{32}$/.test(text)) return text.toLowerCase();
  f.problem(st.at, `${spelled(st)}: an MD5 digest is 32 hex digits`);
  return undefined;
}

/** `status_code 200 301-302 ...`: codes and ranges, 100-599. */
function readStatusCodes(st: Statement, f: Findings): number[] | undefined {
  if (st.args.length === 0) {
    f.problem(st.at, "status_code needs one or more codes or ranges (200 or 200-299)");
    return undefined;
  }
  const codes = new Set<number>();
  for (const word of st.args) {
    const m = /^([0-9]{3})(?:-([0-9]{3}))?$/.exec(word);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m ? Number(m[2] ?? m[1]) : NaN;
    if (!(lo >= 100 && hi <= 599 && lo <= hi)) {
      f.problem(st.at, `${spelled(st)}: ${word} is not a status code or range from 100 to 599`);
      return undefined;
    }
    for (let c = lo; c <= hi; c++) codes.add(c);
  }
  return [...codes].sort((a, b) => a - b);
}

/** True when `codes` is exactly keepalived's default, 200 to 299. */
function isDefaultStatus(codes: number[]): boolean {
  return codes.length === 100 && codes[0] === 200 && codes[99] === 299;
}

/** The first value set, or the default. */
const first = <T>(fallback: T, ...values: (T | undefined)[]): T =>
  values.find((v) => v !== undefined) ?? fallback;

/**
 * The check `d` becomes, with the timing of its real server `rs` and virtual server `vs` as
 * fallbacks; values at the contract's defaults left out.
 */
export function resolveCheck(
  d: CheckDraft,
  rs: Timing,
  vs: Timing,
  f: Findings,
): ImportedCheck {
  const http = d.type === "http" || d.type === "https";
  const delayLoop = first(60, d.delayLoop, rs.delayLoop, vs.delayLoop);
  const connectTimeout = first(5, d.connectTimeout, rs.connectTimeout, vs.connectTimeout);
  const retry = first(d.type === "misc" ? 0 : 1, d.retry, rs.retry, vs.retry);
  const delayBeforeRetry = first(
    http ? 3 : 1,
    d.delayBeforeRetry,
    rs.delayBeforeRetry,
    vs.delayBeforeRetry,
  );
  const unlessDefault = (v: number, def: number) => (v === def ? undefined : v);
  const out: ImportedCheck = {
    type: d.type,
    delayLoop: unlessDefault(delayLoop, CHECK_DEFAULTS.delayLoop),
    connectTimeout: d.type === "misc"
      ? undefined
      : unlessDefault(connectTimeout, CHECK_DEFAULTS.connectTimeout),
    retry: unlessDefault(retry, CHECK_DEFAULTS.retry),
    delayBeforeRetry: unlessDefault(delayBeforeRetry, CHECK_DEFAULTS.delayBeforeRetry),
    connectIp: d.connectIp,
    connectPort: d.connectPort,
    bindTo: d.bindTo,
    bindPort: d.bindPort,
  };
  if (http) {
    out.urls = d.urls.filter((u) => u.path !== undefined).map((u): ImportedUrl =>
      dropUndefined({
        path: u.path!,
        statusCodes: u.statusCodes === undefined || isDefaultStatus(u.statusCodes)
          ? undefined
          : u.statusCodes,
        digest: u.digest,
      })
    );
    out.virtualHost = urlHost(
      d,
      first<string | undefined>(
        undefined,
        d.virtualHost,
        rs.virtualHost,
        vs.virtualHost,
      ),
      f,
    );
  }
  if (d.type === "misc") {
    out.command = d.command;
    out.timeout = d.timeout === delayLoop ? undefined : d.timeout;
    out.dynamic = d.dynamic === true ? true : undefined;
  }
  return dropUndefined(out);
}

/**
 * The one Host header of a check: keepalived lets each url name its own; that maps only when
 * every url of the check ends up with the same one.
 */
function urlHost(d: CheckDraft, host: string | undefined, f: Findings): string | undefined {
  const hosts = new Set(d.urls.map((u) => u.virtualHost ?? host));
  if (hosts.size <= 1) return [...hosts][0] ?? host;
  const at = d.urls.find((u) => u.virtualHost !== undefined)?.at ?? d.at;
  f.problem(
    at,
    `url virtualhost: the urls of one ${d.keyword} ask for different Host headers; ` +
      `not supported yet (one virtualhost per check: split them into several checks)`,
  );
  return host;
}
