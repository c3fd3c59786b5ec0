/**
 * How a later seed composes with what the shell changed since the previous one: a three-way
 * merge. The differences between the previously applied seed's section (`base`) and the new
 * seed's (`seed`) are applied onto the running configuration (`running`); whatever the new
 * seed does not change stays as the shell left it, so a new seed never silently reverts a shell
 * change. Where both changed the same thing, the seed's value wins (it is the newer intent) and
 * the merge says so.
 *
 * The unit of change is small: a timeout, a tunable, a sync daemon; a service's existence, each
 * of its options, each real server (whole), each local address; an interface's existence, MTU,
 * link state and each of its addresses; a route (by destination and metric); DNS and NTP
 * settings (whole); each explicit VIP and local address. Both sides are flattened from their
 * text forms (`config export`'s), merged, built back and validated. Pure.
 *
 * @module
 */
import { type ConfigDocument, formatConfig, validateConfig } from "../persist/document.ts";
import {
  checkNetworkSection,
  emptyNetwork,
  managementSlice,
  networkText,
} from "../persist/network_section.ts";
import { Checker } from "../persist/document.ts";
import type { NetworkConfig } from "./types.ts";

type Json = Record<string, unknown>;
/** A section flattened: one entry per unit of change, its value as JSON text. */
export type Flat = Map<string, string>;

const enc = JSON.stringify;

/** The `network` section's units (see the module doc). */
export function flattenNetwork(net: NetworkConfig | undefined): Flat {
  const t = (networkText(net ?? emptyNetwork()) ?? {}) as Json;
  const out: Flat = new Map();
  if (t.management !== undefined) out.set("management", enc(t.management));
  for (const [name, i] of Object.entries((t.interfaces ?? {}) as Record<string, Json>)) {
    out.set(`if\0${name}`, "1");
    if (i.mtu !== undefined) out.set(`if\0${name}\0mtu`, enc(i.mtu));
    if (i.up !== undefined) out.set(`if\0${name}\0up`, enc(i.up));
    for (const a of (i.addresses ?? []) as string[]) {
      out.set(`if\0${name}\0addr\0${a.split("/")[0]}`, enc(a));
    }
  }
  for (const r of (t.routes ?? []) as Json[]) {
    out.set(`route\0${r.to}\0${r.metric ?? 0}`, enc(r));
  }
  if (t.dns !== undefined) out.set("dns", enc(t.dns));
  if (t.ntp !== undefined) out.set("ntp", enc(t.ntp));
  for (const kind of ["vips", "localAddresses"]) {
    for (const [iface, list] of Object.entries((t[kind] ?? {}) as Record<string, string[]>)) {
      for (const a of list) out.set(`${kind}\0${a}`, enc(iface));
    }
  }
  return out;
}

/** The `network` section's text form from its units. */
function unflattenNetwork(flat: Flat): Json {
  const t: Json = {};
  const interfaces: Record<string, Json> = {};
  const routes: unknown[] = [];
  const hosts: Record<string, Record<string, string[]>> = {};
  for (const [key, value] of flat) {
    const [kind, a, b] = key.split("\0");
    const v = JSON.parse(value);
    if (kind === "management" || kind === "dns" || kind === "ntp") t[kind] = v;
    else if (kind === "if" && b === undefined) interfaces[a] ??= {};
    else if (kind === "route") routes.push(v);
    else if (kind === "vips" || kind === "localAddresses") ((hosts[kind] ??= {})[v] ??= []).push(a);
  }
  for (const [key, value] of flat) {
    const [kind, name, field] = key.split("\0");
    if (kind !== "if" || field === undefined || interfaces[name] === undefined) continue;
    const v = JSON.parse(value);
    if (field === "addr") ((interfaces[name].addresses ??= []) as string[]).push(v);
    else interfaces[name][field] = v;
  }
  if (Object.keys(interfaces).length > 0) t.interfaces = interfaces;
  if (routes.length > 0) t.routes = routes;
  Object.assign(t, hosts);
  return t;
}

/** The load-balancer parts of a document (everything but `network`). */
export function flattenDocument(doc: ConfigDocument | undefined): Flat {
  const out: Flat = new Map();
  if (doc === undefined) return out;
  const t = JSON.parse(formatConfig({ ...doc, network: emptyNetwork() })) as Json;
  for (const [k, v] of Object.entries((t.timeouts ?? {}) as Json)) {
    out.set(`timeouts\0${k}`, enc(v));
  }
  for (const [k, v] of Object.entries((t.tunables ?? {}) as Json)) {
    out.set(`tunables\0${k}`, enc(v));
  }
  for (const d of (t.sync ?? []) as Json[]) out.set(`sync\0${d.role}`, enc(d));
  for (const s of (t.services ?? []) as Json[]) {
    const name = `${s.protocol} ${s.address} ${s.port}`;
    out.set(`svc\0${name}`, enc({ protocol: s.protocol, address: s.address, port: s.port }));
    for (const [k, v] of Object.entries(s)) {
      if (["protocol", "address", "port", "realServers", "localAddresses"].includes(k)) continue;
      out.set(`svc\0${name}\0opt\0${k}`, enc(v));
    }
    for (const r of (s.realServers ?? []) as Json[]) {
      out.set(`svc\0${name}\0rs\0${r.address} ${r.port}`, enc(r));
    }
    for (const l of (s.localAddresses ?? []) as string[]) out.set(`svc\0${name}\0la\0${l}`, enc(l));
  }
  return out;
}

function unflattenDocument(flat: Flat): Json {
  const timeouts: Json = {};
  const tunables: Json = {};
  const sync: unknown[] = [];
  const services = new Map<string, Json>();
  for (const [key, value] of flat) {
    const [kind, a, b] = key.split("\0");
    if (kind === "timeouts") timeouts[a] = JSON.parse(value);
    else if (kind === "tunables") tunables[a] = JSON.parse(value);
    else if (kind === "sync") sync.push(JSON.parse(value));
    else if (kind === "svc" && b === undefined) services.set(a, JSON.parse(value));
  }
  for (const [key, value] of flat) {
    const [kind, name, part, id] = key.split("\0");
    const s = services.get(name);
    if (kind !== "svc" || part === undefined || s === undefined) continue;
    const v = JSON.parse(value);
    if (part === "opt") s[id] = v;
    else if (part === "rs") ((s.realServers ??= []) as unknown[]).push(v);
    else if (part === "la") ((s.localAddresses ??= []) as unknown[]).push(v);
  }
  return {
    version: 1,
    timeouts,
    tunables,
    ...(sync.length > 0 && { sync }),
    services: [...services.values()],
  };
}

/** What a merge did. */
export interface Merged {
  flat: Flat;
  /** Units both the shell and the new seed changed: the seed's value was taken. */
  overridden: string[];
}

/**
 * Applies the differences `base` → `seed` onto `running`, for the units `only` admits (all
 * when absent). Running's order is kept; units the seed adds come after.
 */
export function merge3(
  base: Flat,
  seed: Flat,
  running: Flat,
  only?: (key: string) => boolean,
): Merged {
  const flat: Flat = new Map(running);
  const overridden: string[] = [];
  for (const key of new Set([...base.keys(), ...seed.keys()])) {
    if (only !== undefined && !only(key)) continue;
    const [b, s] = [base.get(key), seed.get(key)];
    if (b === s) continue;
    const r = running.get(key);
    if (r !== b && r !== s) overridden.push(key.split("\0").join(" "));
    if (s === undefined) flat.delete(key);
    else flat.set(key, s);
  }
  return { flat, overridden };
}

/** The outcome of a composition: the document to apply, or every problem of the merge. */
export type Composed =
  | { ok: true; document: ConfigDocument; overridden: string[] }
  | { ok: false; problems: string[] };

/**
 * The running document with its `network` section composed: `base` → `seed` applied onto
 * `running.network`, only the management port's units when `managementOnly`.
 */
export function composeNetwork(
  base: NetworkConfig | undefined,
  seed: NetworkConfig,
  running: ConfigDocument,
  managementOnly = false,
): Composed {
  const b = flattenNetwork(base);
  const s = flattenNetwork(seed);
  const slice = new Set([
    ...flattenNetwork(managementSlice(seed)).keys(),
    ...flattenNetwork(managementSlice(base ?? emptyNetwork())).keys(),
  ]);
  const merged = merge3(
    b,
    s,
    flattenNetwork(running.network),
    managementOnly ? (k) => slice.has(k) : undefined,
  );
  const c = new Checker("");
  const net = checkNetworkSection(c, unflattenNetwork(merged.flat));
  if (net === undefined) return { ok: false, problems: c.problems };
  return { ok: true, document: { ...running, network: net }, overridden: merged.overridden };
}

/** The running document with its load-balancer parts composed from `base` → `seed`. */
export function composeLoadBalancer(
  base: ConfigDocument | undefined,
  seed: ConfigDocument,
  running: ConfigDocument,
): Composed {
  const merged = merge3(flattenDocument(base), flattenDocument(seed), flattenDocument(running));
  const checked = validateConfig(unflattenDocument(merged.flat), { at: "loadBalancer" });
  if (!checked.ok) return { ok: false, problems: checked.problems };
  return {
    ok: true,
    document: { ...checked.document, network: running.network },
    overridden: merged.overridden,
  };
}
