/**
 * A `virtual_server` block read into a draft: every keyword of mainline keepalived, Alibaba
 * LVS's keepalived and DPVS's keepalived is either taken (into the draft), refused with its
 * reason (a problem at its line), or, for the few that change nothing fullnat does, ignored
 * with a note. Defaults and cross-checks (protocol, forwarding method, families, scheduler
 * flags) wait for {@linkcode buildServices}, since keepalived lets keywords come in any order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Findings } from "./findings.ts";
 * import { readVirtualServer } from "./virtual_server.ts";
 * const at = { file: "k.conf", line: 1 };
 * const f = new Findings();
 * const vs = readVirtualServer({ keyword: "virtual_server", args: ["192.0.2.10", "80"], at,
 *   block: [{ keyword: "lb_kind", args: ["SNAT"], at: { file: "k.conf", line: 2 } }] }, f);
 * assert.equal(vs?.head.kind, "address");
 * assert.deepEqual(f.problemLines(), [
 *   "k.conf:2: lb_kind SNAT (DPVS): not supported (fullnat balances services)",
 * ]);
 * ```
 *
 * @module
 */
import {
  isTunnelType,
  TUNNEL_TYPE_CHOICES,
  type TunnelOptions,
  tunnelOptionsProblem,
} from "../vocab/tunnel_type.ts";
import {
  type ForwardMethod,
  isSchedulerName,
  type Protocol,
  SCHEDULER_CHOICES,
  schedulerEntry,
  type SchedulerName,
  WEIGHT_MAX,
  WEIGHT_MIN,
} from "../vocab/mod.ts";
import { type CheckDraft, CHECKERS, OTHER_CHECKERS, readCheck, type Timing } from "./checks.ts";
import type { Findings, Where } from "./findings.ts";
import type { Statement } from "./parse.ts";
import {
  readAddressText,
  readFlag,
  readInteger,
  readNone,
  readOne,
  readPortText,
  readSeconds,
  spelled,
} from "./values.ts";

/** Where a draft's value came from, for messages about it later. */
export interface Placed<T> {
  value: T;
  at: Where;
}

/** A `real_server` as written. */
export interface RsDraft extends Timing {
  at: Where;
  address: string;
  family: 4 | 6;
  /** Absent or 0: the virtual server's port, as keepalived fills it in. */
  port?: number;
  weight?: number;
  method?: Placed<ForwardMethod>;
  /** TUN's encapsulation, when `lvs_method TUN type ...` gave one. */
  tunnel?: TunnelOptions;
  upperThreshold?: number;
  lowerThreshold?: number;
  inhibitOnFailure?: boolean;
  checks: CheckDraft[];
}

/** What a `virtual_server` names: one address and port, or a `virtual_server_group`. */
export type VsHead =
  | { kind: "address"; address: string; family: 4 | 6; port: number }
  | { kind: "group"; name: string };

/** A `virtual_server` as written. */
export interface VsDraft extends Timing {
  at: Where;
  head: VsHead;
  /** `virtual_server IP PORT` or `virtual_server group NAME`, for messages. */
  title: string;
  protocol?: Protocol;
  scheduler?: SchedulerName;
  /** Scheduler flag keywords (`sh-port`, `flag-1`, ...) in the order given. */
  flags: Placed<string>[];
  method?: Placed<ForwardMethod>;
  /** TUN's encapsulation, when `lb_kind TUN type ...` gave one. */
  tunnel?: TunnelOptions;
  family?: Placed<4 | 6>;
  persistence?: number;
  granularity?: Placed<string>;
  /** Alibaba's `est_timeout` or DPVS's `establish_timeout`, which differ for UDP. */
  estTimeout?: { value: number; keyword: string; at: Where };
  onePacket?: Where;
  /** Alibaba's `syn_proxy`. */
  synProxy?: Where;
  quorum?: number;
  hysteresis?: number;
  sorry?: { address: string; family: 4 | 6; port?: number; at: Where };
  sorryMethod?: Placed<ForwardMethod>;
  laddrGroup?: Placed<string>;
  inhibitOnFailure?: boolean;
  weight?: number;
  realServers: RsDraft[];
}

/** A forwarding method as `lb_kind` / `lvs_method` gives it, with TUN's encapsulation. */
export interface MethodChoice {
  method: ForwardMethod;
  /** `TUN type gue port 6080 csum`: the options given after TUN. */
  tunnel?: TunnelOptions;
}

/**
 * The methods `lb_kind` / `lvs_method` name, and what fullnat does with each. After TUN,
 * keepalived's `type ipip|gue|gre`, `port N` and `nocsum|csum|remcsum` are read with its rules
 * (gue needs a port and only gue takes one; ipip takes no checksum); remote checksum offload
 * is refused as ipvsadm's `--tun-remcsum` is.
 */
export function readMethodChoice(st: Statement, f: Findings): MethodChoice | undefined {
  if (st.args.length > 1 && st.args[0] === "TUN" && st.block === undefined) {
    const tunnel = readTunnelWords(st, f);
    return tunnel === undefined ? undefined : { method: "tunnel", tunnel };
  }
  const word = readOne(st, f, "NAT, FNAT, DR or TUN");
  if (word === undefined) return undefined;
  switch (word) {
    case "NAT":
      return { method: "nat" };
    case "FNAT":
    case "FULLNAT":
      return { method: "fullnat" };
    case "DR":
      return { method: "dr" };
    case "TUN":
      return { method: "tunnel" };
    case "SNAT":
      f.problem(st.at, `${st.keyword} SNAT (DPVS): not supported (fullnat balances services)`);
      return undefined;
    default:
      f.problem(st.at, `${spelled(st)}: unknown forwarding method (NAT, FNAT, DR or TUN)`);
      return undefined;
  }
}

/** The forwarding method alone (for `sorry_server_lvs_method`, which has no tunnel words). */
export function readMethod(st: Statement, f: Findings): ForwardMethod | undefined {
  return readMethodChoice(st, f)?.method;
}

/** The words after `TUN`, as keepalived's `svr_forwarding_handler` reads them. */
function readTunnelWords(st: Statement, f: Findings): TunnelOptions | undefined {
  const out: TunnelOptions = {};
  const words = st.args.slice(1);
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === "type" || w === "port") {
      const v = words[++i];
      if (v === undefined) {
        f.problem(
          st.at,
          `${spelled(st)}: ${w === "type" ? "missing tunnel type" : "missing port"}`,
        );
        return undefined;
      }
      if (w === "type") {
        if (!isTunnelType(v)) {
          f.problem(st.at, `${spelled(st)}: unknown tunnel type ${v} (${TUNNEL_TYPE_CHOICES})`);
          return undefined;
        }
        out.tunnelType = v;
      } else {
        const port = /^[0-9]+$/.test(v) ? Number(v) : NaN;
        if (!(port >= 1 && port <= 65535)) {
          f.problem(st.at, `${spelled(st)}: invalid gue tunnel port ${v}`);
          return undefined;
        }
        out.tunnelPort = port;
      }
    } else if (w === "nocsum" || w === "csum") out.tunnelChecksum = w === "csum";
    else if (w === "remcsum") {
      f.problem(
        st.at,
        `${spelled(st)}: remcsum not supported (remote checksum offload needs the sender's ` +
          "checksum-offload state); use csum or nocsum",
      );
      return undefined;
    } else {
      f.problem(st.at, `${spelled(st)}: invalid tunnel option ${w}`);
      return undefined;
    }
  }
  const problem = tunnelOptionsProblem("tunnel", out);
  if (problem !== undefined) {
    f.problem(st.at, `${spelled(st)}: ${problem}`);
    return undefined;
  }
  // keepalived's nocsum and ipip are the defaults: said or not, nothing to carry.
  if (out.tunnelChecksum === false) delete out.tunnelChecksum;
  if (out.tunnelType === "ipip") delete out.tunnelType;
  return out;
}

/** virtual_server keywords refused, with the reason. */
const REFUSED_IN_VS: Readonly<Record<string, string>> = {
  warmup: "not supported yet (the first check runs within one delay_loop)",
  hashed: "not supported (an old IPVS flag with no effect on scheduling)",
  "flag-3": "not supported (IPVS's third scheduler flag is used by no scheduler fullnat has)",
  persistence_engine: "not supported (persistence engines such as sip need the kernel's IPVS)",
  ha_suspend: "not supported yet (checks run whether or not this box holds the VIP)",
  alpha: "not supported yet (real servers start up, as keepalived's do without alpha)",
  omega: "not supported yet (no quorum scripts run)",
  quorum_up: "not supported yet (no scripts run on quorum changes)",
  quorum_down: "not supported yet (no scripts run on quorum changes)",
  sorry_server_inhibit: "not supported yet (the sorry server is in the listing only while used)",
  vip_bind_dev: "not supported (assign the VIP with ip addr add, as for any VIP)",
  daddr_group_name: "not supported yet (client deny lists)",
  waddr_group_name: "not supported yet (client allow lists)",
  proxy_protocol: "not supported yet (PROXY protocol)",
  bps: "not supported yet (rate limits)",
  limit_proportion: "not supported yet (rate limits)",
  "src-range": "not supported (DPVS SNAT match)",
  "dst-range": "not supported (DPVS SNAT match)",
  oif: "not supported (DPVS SNAT match)",
  iif: "not supported (DPVS SNAT match)",
  hash_target: "not supported yet (DPVS hash targets)",
  expire_quiescent_conn: "not supported yet (per-service expiry of quiescent connections)",
  quic: "not supported yet (QUIC connection ids)",
};

/** real_server keywords refused, with the reason. */
const REFUSED_IN_RS: Readonly<Record<string, string>> = {
  notify_up: "not supported yet (no scripts run on state changes)",
  notify_down: "not supported yet (no scripts run on state changes)",
  alpha: "not supported yet (real servers start up, as keepalived's do without alpha)",
  warmup: "not supported yet (the first check runs within one delay_loop)",
};

/** Reads the head (`IP PORT`, `group NAME`) and block of a `virtual_server` statement. */
export function readVirtualServer(st: Statement, f: Findings): VsDraft | undefined {
  const head = readHead(st, f);
  if (head === undefined) return undefined;
  if (st.block === undefined) {
    f.problem(st.at, `${spelled(st)} needs a { } block`);
    return undefined;
  }
  const vs: VsDraft = { at: st.at, head, title: spelled(st), flags: [], realServers: [] };
  for (const s of st.block) readVsKeyword(vs, s, f);
  return vs;
}

function readHead(st: Statement, f: Findings): VsHead | undefined {
  const [a, b] = st.args;
  if (a === "fwmark") {
    f.problem(
      st.at,
      `${spelled(st)}: firewall-mark services are not supported (a fullnat service is a ` +
        `protocol, address and port); list the addresses in a virtual_server_group instead`,
    );
    return undefined;
  }
  if (a === "match") {
    f.problem(st.at, `${spelled(st)}: DPVS SNAT match services are not supported`);
    return undefined;
  }
  if (a === "group") {
    if (st.args.length === 2) return { kind: "group", name: b };
    f.problem(st.at, `${spelled(st)}: virtual_server group takes one group name`);
    return undefined;
  }
  if (st.args.length !== 2 || b === undefined || /^0+$/.test(b)) {
    f.problem(
      st.at,
      `${spelled(st)}: a virtual server is ADDRESS PORT or group NAME (fullnat services ` +
        `have a port; fwmark services are not supported)`,
    );
    return undefined;
  }
  const addr = readAddressText(a, st, f);
  const port = readPortText(b, st, f);
  if (addr === undefined || port === undefined) return undefined;
  return { kind: "address", ...addr, port };
}

function readProtocol(st: Statement, f: Findings): Protocol | undefined {
  const word = readOne(st, f, "TCP or UDP");
  if (word === undefined) return undefined;
  const upper = word.toUpperCase();
  if (upper === "TCP") return "tcp";
  if (upper === "UDP") return "udp";
  if (["SCTP", "ICMP", "ICMPV6"].includes(upper)) {
    f.problem(st.at, `protocol ${word}: not supported (fullnat balances TCP and UDP)`);
  } else f.problem(st.at, `${spelled(st)}: unknown protocol (TCP or UDP)`);
  return undefined;
}

/** Schedulers keepalived names that IPVS's table in src/vocab does not list. */
const KEEPALIVED_ONLY_SCHEDULERS: Readonly<Record<string, { title: string }>> = {
  twos: { title: "weighted random twos choice" },
  conhash: { title: "DPVS consistent hashing" },
};

function readScheduler(st: Statement, f: Findings): SchedulerName | undefined {
  const name = readOne(st, f, "a scheduler name");
  if (name === undefined) return undefined;
  if (isSchedulerName(name)) return name;
  const entry = schedulerEntry(name) ?? KEEPALIVED_ONLY_SCHEDULERS[name];
  f.problem(
    st.at,
    entry === undefined
      ? `${spelled(st)}: unknown scheduler (fullnat has ${SCHEDULER_CHOICES})`
      : `${st.keyword} ${name} (${entry.title}): not supported; fullnat schedules with ${SCHEDULER_CHOICES}`,
  );
  return undefined;
}

/** smtp_alert: mail on state changes; off is honoured, on is not. */
function readSmtpAlert(s: Statement, f: Findings): void {
  const on = readFlag(s, f);
  if (on === true) f.problem(s.at, `${spelled(s)}: not supported yet (no mail is sent)`);
}

/** The keywords shared by virtual_server and real_server: timing and the Host header. */
function readTiming(t: Timing, s: Statement, f: Findings): boolean {
  switch (s.keyword) {
    case "delay_loop":
      t.delayLoop = readSeconds(s, f, 0.001);
      return true;
    case "connect_timeout":
      t.connectTimeout = readSeconds(s, f, 0.001);
      return true;
    case "retry":
      t.retry = readInteger(s, f, 0, 1_000_000);
      return true;
    case "delay_before_retry":
      t.delayBeforeRetry = readSeconds(s, f, 0);
      return true;
    case "virtualhost":
      t.virtualHost = readOne(s, f, "a host name");
      return true;
  }
  return false;
}

const SCHEDULER_FLAG_WORDS = [
  "flag-1",
  "flag-2",
  "sh-port",
  "sh-fallback",
  "mh-port",
  "mh-fallback",
];

function readVsKeyword(vs: VsDraft, s: Statement, f: Findings): void {
  const k = s.keyword;
  if (readTiming(vs, s, f)) return;
  switch (k) {
    case "protocol":
      vs.protocol = readProtocol(s, f) ?? vs.protocol;
      return;
    case "lb_algo":
    case "lvs_sched":
      vs.scheduler = readScheduler(s, f) ?? vs.scheduler;
      return;
    case "lb_kind":
    case "lvs_method": {
      const m = readMethodChoice(s, f);
      if (m !== undefined) {
        vs.method = { value: m.method, at: s.at };
        vs.tunnel = m.tunnel;
      }
      return;
    }
    case "ip_family": {
      const word = readOne(s, f, "inet or inet6");
      if (word === "inet" || word === "inet6") {
        vs.family = { value: word === "inet" ? 4 : 6, at: s.at };
      } else if (word !== undefined) f.problem(s.at, `${spelled(s)}: must be inet or inet6`);
      return;
    }
    case "persistence_timeout":
      // With no value keepalived takes IPVS's default, 360 s.
      vs.persistence = s.args.length === 0 && s.block === undefined
        ? 360
        : readInteger(s, f, 1, 2_000_000);
      return;
    case "persistence_granularity": {
      const text = readOne(s, f, "a netmask (IPv4) or prefix length (IPv6)");
      if (text !== undefined) vs.granularity = { value: text, at: s.at };
      return;
    }
    case "est_timeout":
    case "establish_timeout": {
      const n = readInteger(s, f, 1, 2_000_000);
      if (n !== undefined) vs.estTimeout = { value: n, keyword: k, at: s.at };
      return;
    }
    case "ops":
      if (readNone(s, f)) vs.onePacket = s.at;
      return;
    case "syn_proxy":
      if (readNone(s, f)) vs.synProxy = s.at;
      return;
    case "quorum":
      vs.quorum = readInteger(s, f, 1, 2 ** 31 - 1);
      return;
    case "hysteresis":
      vs.hysteresis = readInteger(s, f, 0, 2 ** 31 - 1);
      return;
    case "inhibit_on_failure":
      vs.inhibitOnFailure = readFlag(s, f);
      return;
    case "weight":
      vs.weight = readInteger(s, f, 1, WEIGHT_MAX);
      return;
    case "sorry_server":
      readSorryServer(vs, s, f);
      return;
    case "sorry_server_lvs_method": {
      const m = readMethod(s, f);
      if (m !== undefined) vs.sorryMethod = { value: m, at: s.at };
      return;
    }
    case "laddr_group_name": {
      const name = readOne(s, f, "a local_address_group name");
      if (name !== undefined) vs.laddrGroup = { value: name, at: s.at };
      return;
    }
    case "real_server": {
      const rs = readRealServer(s, f);
      if (rs !== undefined) vs.realServers.push(rs);
      return;
    }
    case "smtp_alert":
      readSmtpAlert(s, f);
      return;
    case "snmp_name":
      f.note(s.at, "snmp_name ignored: fullnat has no SNMP agent");
      return;
    case "nat_mask":
      f.note(s.at, "nat_mask ignored, as keepalived ignores it");
      return;
  }
  if (SCHEDULER_FLAG_WORDS.includes(k)) {
    if (readNone(s, f)) vs.flags.push({ value: k, at: s.at });
    return;
  }
  if (REFUSED_IN_VS[k] !== undefined) {
    f.problem(s.at, `${spelled(s)}: ${REFUSED_IN_VS[k]}`);
    return;
  }
  if (CHECKERS[k] !== undefined || OTHER_CHECKERS.includes(k)) {
    f.problem(s.at, `${k}: a checker belongs inside a real_server block`);
    return;
  }
  f.problem(s.at, `${k}: unknown keyword in virtual_server`);
}

/** `ADDRESS [PORT]` arguments; a port left out or 0 is the virtual server's. */
function addressAndPort(
  st: Statement,
  f: Findings,
): { address: string; family: 4 | 6; port?: number } | undefined {
  if (st.args.length < 1 || st.args.length > 2) {
    f.problem(st.at, `${spelled(st)}: ${st.keyword} takes ADDRESS [PORT]`);
    return undefined;
  }
  const addr = readAddressText(st.args[0], st, f);
  const text = st.args[1];
  const same = text === undefined || /^0+$/.test(text);
  const port = same ? undefined : readPortText(text, st, f);
  if (addr === undefined || (!same && port === undefined)) return undefined;
  return { ...addr, port };
}

function readSorryServer(vs: VsDraft, s: Statement, f: Findings): void {
  if (s.block !== undefined) {
    f.problem(s.at, "sorry_server takes no { } block");
    return;
  }
  const server = addressAndPort(s, f);
  if (server !== undefined) vs.sorry = { ...server, at: s.at };
}

/** Reads a `real_server IP [PORT] { ... }` statement. */
export function readRealServer(st: Statement, f: Findings): RsDraft | undefined {
  const server = addressAndPort(st, f);
  if (server === undefined) return undefined;
  const rs: RsDraft = { at: st.at, ...server, checks: [] };
  for (const s of st.block ?? []) {
    const k = s.keyword;
    if (readTiming(rs, s, f)) continue;
    if (k === "weight") rs.weight = readInteger(s, f, WEIGHT_MIN, WEIGHT_MAX);
    else if (k === "lvs_method") {
      const m = readMethodChoice(s, f);
      if (m !== undefined) {
        rs.method = { value: m.method, at: s.at };
        rs.tunnel = m.tunnel;
      }
    } else if (k === "uthreshold") rs.upperThreshold = readInteger(s, f, 0, 2 ** 31 - 1);
    else if (k === "lthreshold") rs.lowerThreshold = readInteger(s, f, 0, 2 ** 31 - 1);
    else if (k === "inhibit_on_failure") rs.inhibitOnFailure = readFlag(s, f);
    else if (k === "smtp_alert") readSmtpAlert(s, f);
    else if (k === "snmp_name") f.note(s.at, "snmp_name ignored: fullnat has no SNMP agent");
    else if (CHECKERS[k] !== undefined) {
      const check = readCheck(s, f);
      if (check !== undefined) rs.checks.push(check);
    } else if (OTHER_CHECKERS.includes(k)) {
      f.problem(
        s.at,
        `${k}: not supported yet (fullnat checks: TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK)`,
      );
    } else if (REFUSED_IN_RS[k] !== undefined) {
      f.problem(s.at, `${spelled(s)}: ${REFUSED_IN_RS[k]}`);
    } else f.problem(s.at, `${k}: unknown keyword in real_server`);
  }
  return rs;
}
