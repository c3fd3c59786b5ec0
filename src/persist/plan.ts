/**
 * The minimal set of control operations that turns one configuration into another. Anything
 * present in both with the same settings is not touched, so its sessions, counters and
 * scheduler position survive; each step carries the line a person reads ("+ service tcp
 * 198.51.100.10:80 wrr", "~ rs 203.0.113.11:80 weight 1 -> 3 in tcp 198.51.100.10:80").
 *
 * @module
 */
import type { RemoteControl } from "../ctl/remote.ts";
import type {
  RealServerSpec,
  ServiceKey,
  ServiceOptions,
  Timeouts,
  Tunables,
} from "../fullnat/types.ts";
import { TUNABLE_KEYS } from "../fullnat/types.ts";
import { formatEndpoint, fullPersistenceMask, isIpv6 } from "../vocab/mod.ts";
import { type ConfigDocument, type ServiceConfig, serviceName } from "./document.ts";

/** One step of a plan: what it does, in words, and the control call that does it. */
export interface Change {
  readonly text: string;
  run(target: RemoteControl): Promise<unknown>;
}

const OPTION_KEYS = [
  "scheduler",
  "schedulerFlags",
  "mhTableSize",
  "persistence",
  "persistenceMask",
  "toa",
  "stripTimestamps",
  "clampMss",
  "onePacket",
  "timeouts",
] as const satisfies readonly (keyof ServiceOptions)[];

const onOff = (v: boolean) => (v ? "on" : "off");

function keyOf(s: ServiceKey): ServiceKey {
  return { protocol: s.protocol, address: s.address, port: s.port };
}

/** `wrr`, plus whatever differs from the defaults: `wrr persistence 300 toa off`. */
function describeOptions(s: ServiceConfig): string {
  const parts: string[] = [s.scheduler];
  if (s.schedulerFlags.length > 0) parts.push(`flags ${s.schedulerFlags.join(",")}`);
  if (s.scheduler === "mh") parts.push(`table ${s.mhTableSize}`);
  if (s.persistence !== 0) parts.push(`persistence ${s.persistence}`);
  if (s.persistenceMask !== fullPersistenceMask(isIpv6(s.address))) {
    parts.push(`mask /${s.persistenceMask}`);
  }
  for (const k of ["toa", "stripTimestamps", "clampMss"] as const) {
    if (!s[k]) parts.push(`${k} off`);
  }
  if (s.onePacket) parts.push("onePacket on");
  if (Object.keys(s.timeouts).length > 0) parts.push(`timeouts ${timeoutWords(s.timeouts)}`);
  return parts.join(" ");
}

/** The edit from a service's timeouts `from` to `to`: changed keys, 0 for those taken out. */
function timeoutEdit(from: Partial<Timeouts>, to: Partial<Timeouts>): Partial<Timeouts> {
  const out: Partial<Timeouts> = {};
  for (const k of Object.keys(from) as (keyof Timeouts)[]) if (to[k] === undefined) out[k] = 0;
  for (const [k, v] of Object.entries(to) as [keyof Timeouts, number][]) {
    if (from[k] !== v) out[k] = v;
  }
  return out;
}

/** `tcpEstablished=900,udp=30`, or `none`. */
function timeoutWords(t: Partial<Timeouts>): string {
  return Object.entries(t).map(([k, v]) => `${k}=${v}`).join(",") || "none";
}

/** ` thresholds 100/75` when the server has any, else nothing. */
function thresholdWords(r: RealServerSpec): string {
  const [u, l] = [r.upperThreshold ?? 0, r.lowerThreshold ?? 0];
  return u === 0 && l === 0 ? "" : ` thresholds ${u}/${l}`;
}

function optionsOf(s: ServiceConfig): ServiceOptions {
  return {
    scheduler: s.scheduler,
    schedulerFlags: [...s.schedulerFlags],
    ...(s.scheduler === "mh" && { mhTableSize: s.mhTableSize }),
    persistence: s.persistence,
    persistenceMask: s.persistenceMask,
    toa: s.toa,
    stripTimestamps: s.stripTimestamps,
    clampMss: s.clampMss,
    // Left out at their defaults, so a daemon from before them is asked nothing new.
    ...(s.onePacket && { onePacket: true }),
    ...(Object.keys(s.timeouts).length > 0 && { timeouts: { ...s.timeouts } }),
  };
}

const rsName = (r: { address: string; port: number }) => formatEndpoint(r.address, r.port);

/** The add call's spec: thresholds only when set, so a daemon from before them reads it. */
function rsSpec(r: RealServerSpec): RealServerSpec {
  const { upperThreshold = 0, lowerThreshold = 0, ...rest } = r;
  return {
    ...rest,
    ...(upperThreshold !== 0 && { upperThreshold }),
    ...(lowerThreshold !== 0 && { lowerThreshold }),
  };
}

function timeoutChange(from: Timeouts, to: Timeouts): Change | undefined {
  const changed: Partial<Timeouts> = {};
  const words: string[] = [];
  for (const k of Object.keys(to) as (keyof Timeouts)[]) {
    if (from[k] !== to[k]) {
      changed[k] = to[k];
      words.push(`${k} ${from[k]} -> ${to[k]}`);
    }
  }
  if (words.length === 0) return undefined;
  return { text: `~ timeouts ${words.join(", ")}`, run: (t) => t.setTimeouts(changed) };
}

function tunableChange(from: Tunables, to: Tunables): Change | undefined {
  const changed: Partial<Tunables> = {};
  const words: string[] = [];
  for (const k of TUNABLE_KEYS) {
    if (from[k] !== to[k]) {
      changed[k] = to[k];
      words.push(`${k} ${onOff(from[k])} -> ${onOff(to[k])}`);
    }
  }
  if (words.length === 0) return undefined;
  return { text: `~ tunables ${words.join(", ")}`, run: (t) => t.setTunables(changed) };
}

function addServiceChanges(s: ServiceConfig): Change[] {
  const key = keyOf(s);
  const name = serviceName(s);
  return [
    {
      text: `+ service ${name} ${describeOptions(s)}`,
      run: (t) => t.addService(key, optionsOf(s)),
    },
    ...s.realServers.map((r): Change => ({
      text: `+ rs ${rsName(r)} ${r.method} weight ${r.weight}${thresholdWords(r)} in ${name}`,
      run: (t) => t.addRealServer(key, rsSpec(r)),
    })),
    ...s.localAddresses.map((l): Change => ({
      text: `+ laddr ${l} in ${name}`,
      run: (t) => t.addLocalAddress(key, l),
    })),
  ];
}

function editServiceChanges(from: ServiceConfig, to: ServiceConfig): Change[] {
  const key = keyOf(to);
  const name = serviceName(to);
  const out: Change[] = [];

  const edits: Partial<ServiceOptions> = {};
  const words: string[] = [];
  for (const k of OPTION_KEYS) {
    if (JSON.stringify(from[k]) === JSON.stringify(to[k])) continue;
    // Leaving mh resets the table size; only an mh service may be given one.
    if (k === "mhTableSize" && to.scheduler !== "mh") continue;
    (edits as Record<string, unknown>)[k] = k === "timeouts"
      ? timeoutEdit(from.timeouts, to.timeouts)
      : to[k];
    const show = (v: unknown) =>
      typeof v === "boolean"
        ? onOff(v)
        : Array.isArray(v)
        ? v.join(",") || "none"
        : typeof v === "object" && v !== null
        ? timeoutWords(v as Partial<Timeouts>)
        : String(v);
    words.push(`${k} ${show(from[k])} -> ${show(to[k])}`);
  }
  if (words.length > 0) {
    out.push({
      text: `~ service ${name} ${words.join(", ")}`,
      run: (t) => t.editService(key, edits),
    });
  }

  // New local addresses and servers go in before old ones leave, so the service never has
  // fewer of either in between than at both ends.
  const oldLa = new Set(from.localAddresses);
  const newLa = new Set(to.localAddresses);
  for (const l of to.localAddresses) {
    if (!oldLa.has(l)) {
      out.push({ text: `+ laddr ${l} in ${name}`, run: (t) => t.addLocalAddress(key, l) });
    }
  }
  const oldRs = new Map(from.realServers.map((r) => [rsName(r), r]));
  const newRs = new Set(to.realServers.map(rsName));
  for (const r of to.realServers) {
    const before = oldRs.get(rsName(r));
    if (before === undefined) {
      out.push({
        text: `+ rs ${rsName(r)} ${r.method} weight ${r.weight}${thresholdWords(r)} in ${name}`,
        run: (t) => t.addRealServer(key, rsSpec(r)),
      });
      continue;
    }
    const edit: Partial<RealServerSpec> & { address: string; port: number } = {
      address: r.address,
      port: r.port,
    };
    const rsWords: string[] = [];
    if (before.weight !== r.weight) {
      edit.weight = r.weight;
      rsWords.push(`weight ${before.weight} -> ${r.weight}`);
    }
    if (before.method !== r.method) {
      edit.method = r.method;
      rsWords.push(`method ${before.method} -> ${r.method}`);
    }
    for (const k of ["upperThreshold", "lowerThreshold"] as const) {
      const [was, is] = [before[k] ?? 0, r[k] ?? 0];
      if (was !== is) {
        edit[k] = is;
        rsWords.push(`${k} ${was} -> ${is}`);
      }
    }
    if (rsWords.length > 0) {
      out.push({
        text: `~ rs ${rsName(r)} ${rsWords.join(", ")} in ${name}`,
        run: (t) => t.editRealServer(key, edit),
      });
    }
  }
  for (const r of from.realServers) {
    if (!newRs.has(rsName(r))) {
      const ep = { address: r.address, port: r.port };
      out.push({ text: `- rs ${rsName(r)} in ${name}`, run: (t) => t.deleteRealServer(key, ep) });
    }
  }
  for (const l of from.localAddresses) {
    if (!newLa.has(l)) {
      out.push({ text: `- laddr ${l} in ${name}`, run: (t) => t.deleteLocalAddress(key, l) });
    }
  }
  return out;
}

/**
 * The steps that turn configuration `from` into `to`, in the order they must run: timeouts,
 * tunables, removed services, then each wanted service (added whole, or edited in place). Both
 * documents must be valid; the order of entries is not compared.
 */
export function planChanges(from: ConfigDocument, to: ConfigDocument): Change[] {
  const out: Change[] = [];
  const t = timeoutChange(from.timeouts, to.timeouts);
  if (t) out.push(t);
  const tu = tunableChange(from.tunables, to.tunables);
  if (tu) out.push(tu);
  const before = new Map(from.services.map((s) => [serviceName(s), s]));
  const wanted = new Set(to.services.map(serviceName));
  for (const s of from.services) {
    if (!wanted.has(serviceName(s))) {
      const key = keyOf(s);
      out.push({ text: `- service ${serviceName(s)}`, run: (t) => t.deleteService(key) });
    }
  }
  for (const s of to.services) {
    const old = before.get(serviceName(s));
    out.push(...(old === undefined ? addServiceChanges(s) : editServiceChanges(old, s)));
  }
  return out;
}
