/**
 * Applying a seed's `network` and `loadBalancer` sections through the daemon, as changes:
 * the differences from the previously applied seed are composed onto the running configuration
 * (compose.ts) and handed to the daemon's `configApply`, all or nothing, which stores them and
 * applies them at every start. The management port goes first and on its own: its part of the
 * network section is applied before the rest, and even when the rest of the section is invalid
 * or refused, so a bad data-interface address never costs the box its management address.
 *
 * @module
 */
import type { ControlClient } from "../ctl/client.ts";
import { type ConfigDocument, formatConfig, parseConfig } from "../persist/document.ts";
import { Checker } from "../persist/document.ts";
import { checkNetworkSection, emptyNetwork, networkText } from "../persist/network_section.ts";
import { composeLoadBalancer, composeNetwork } from "./compose.ts";
import { Problems } from "./problems.ts";
import { isMapping } from "./shape.ts";
import { DEFAULT_MANAGEMENT_INTERFACE, managementInterface, type NetworkConfig } from "./types.ts";
import { validateNetwork } from "./validate_network.ts";
import { validateConfig } from "../persist/document.ts";
import { prefixContains } from "../vocab/prefix.ts";

/** The daemon as provisioning uses it. */
export interface SeedDaemon {
  client(): Promise<ControlClient>;
}

async function running(d: SeedDaemon): Promise<ConfigDocument> {
  return parseConfig(await (await d.client()).call("configExport") as string);
}

async function apply(d: SeedDaemon, doc: ConfigDocument): Promise<string[]> {
  const r = await (await d.client()).call("configApply", formatConfig(doc), { dryRun: false });
  return (r as { changes: string[] }).changes;
}

/** A stored base section (a text form) read back; undefined when absent or no longer valid. */
export function baseNetwork(text: unknown): NetworkConfig | undefined {
  if (text === undefined) return undefined;
  const c = new Checker("");
  return checkNetworkSection(c, text);
}

/** A stored base document read back; undefined when absent or no longer valid. */
export function baseLoadBalancer(text: unknown): ConfigDocument | undefined {
  if (text === undefined) return undefined;
  const r = validateConfig(text);
  return r.ok ? r.document : undefined;
}

/**
 * The management port's part of a raw `network` section (its name, its interface, the routes
 * through it, DNS and NTP when they are valid on their own), validated; undefined when the
 * section names no such interface or that part is invalid too.
 */
export function managementPart(raw: unknown): NetworkConfig | undefined {
  if (!isMapping(raw)) return undefined;
  const mgmt = typeof raw.management === "string" ? raw.management : DEFAULT_MANAGEMENT_INTERFACE;
  const interfaces = isMapping(raw.interfaces) ? raw.interfaces : {};
  if (!(mgmt in interfaces)) return undefined;
  const slice: Record<string, unknown> = {
    ...(raw.management !== undefined && { management: raw.management }),
    interfaces: { [mgmt]: interfaces[mgmt] },
  };
  const core = validateNetwork(slice, new Problems());
  if (core === undefined) return undefined;
  const routes = Array.isArray(raw.routes) ? raw.routes : [];
  const withRoutes = validateNetwork({ ...slice, routes }, new Problems());
  const out: NetworkConfig = { ...core, routes: [] };
  // The routes that go through the management port, when all of them are valid.
  if (withRoutes !== undefined) {
    out.routes = withRoutes.routes.filter((r) =>
      r.dev === mgmt || (r.dev === undefined && r.via !== undefined &&
        core.interfaces[0].addresses.some((a) => sameSubnet(a, r.via!)))
    );
  }
  for (const key of ["dns", "ntp"] as const) {
    if (raw[key] === undefined) continue;
    const part = validateNetwork({ ...slice, [key]: raw[key] }, new Problems());
    if (part?.[key] !== undefined) (out as unknown as Record<string, unknown>)[key] = part[key];
  }
  return out;
}

const sameSubnet = prefixContains;

/** What applying the network section did. */
export interface NetworkOutcome {
  /** Lines for the report. */
  report: string;
  /** The base the next seed composes against. */
  applied: unknown;
  /** The whole section was applied (else only the management port). */
  whole: boolean;
  /** Why the rest was not applied, when it was not. */
  failure?: string;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Applies `seed` (the whole section, or only its management part when `seed` is that part)
 * as a change from `base`: the management port first, then the rest.
 */
export async function applySeedNetwork(
  d: SeedDaemon,
  base: NetworkConfig | undefined,
  seed: NetworkConfig,
  managementOnly: boolean,
): Promise<NetworkOutcome> {
  const mgmt = managementInterface(seed);
  const hasMgmt = seed.interfaces.some((i) => i.name === mgmt);
  const firstStep = composeNetwork(base, seed, await running(d), true);
  if (!firstStep.ok) throw new Error(firstStep.problems.join("; "));
  const first = hasMgmt ? await apply(d, firstStep.document) : [];
  // The base for the next seed: the previous one with the management units of this one.
  const mgmtBase = composeNetwork(base, seed, {
    ...firstStep.document,
    network: base ?? emptyNetwork(),
  }, true);
  const partial = mgmtBase.ok ? networkText(mgmtBase.document.network) ?? {} : undefined;
  if (managementOnly) {
    return {
      report: `the management port ${mgmt} applied on its own (${first.length} change(s))`,
      applied: partial,
      whole: false,
    };
  }
  try {
    const rest = composeNetwork(base, seed, await running(d));
    if (!rest.ok) throw new Error(rest.problems.join("; "));
    const changes = await apply(d, rest.document);
    const overridden = rest.overridden.length > 0
      ? `; the seed's value replaced a shell change of: ${rest.overridden.join(", ")}`
      : "";
    const status = await (await d.client()).call("networkStatus").catch(() => undefined) as
      | { managed?: boolean }
      | undefined;
    const unmanaged = status?.managed === false
      ? " (stored only: the daemon does not manage the host network, --manage-host-network)"
      : "";
    return {
      report: `${seed.interfaces.length} interface(s), ${seed.routes.length} route(s), ` +
        `${seed.vips.length} VIP(s), ${seed.localAddresses.length} local address(es) configured ` +
        `(${first.length + changes.length} change(s))${overridden}${unmanaged}`,
      applied: networkText(seed) ?? {},
      whole: true,
    };
  } catch (e) {
    return {
      report: `the management port ${mgmt} applied (${first.length} change(s)); the rest was ` +
        `refused: ${message(e)}`,
      applied: partial,
      whole: false,
      failure: message(e),
    };
  }
}

/** Applies the seed's load-balancer document as a change from `base`. */
export async function applySeedLoadBalancer(
  d: SeedDaemon,
  base: ConfigDocument | undefined,
  seed: ConfigDocument,
): Promise<string> {
  const composed = composeLoadBalancer(base, seed, await running(d));
  if (!composed.ok) throw new Error(composed.problems.join("; "));
  const changes = await apply(d, composed.document);
  const overridden = composed.overridden.length > 0
    ? `; the seed's value replaced a shell change of: ${composed.overridden.join(", ")}`
    : "";
  return `${seed.services.length} service(s) configured (${changes.length} change(s))${overridden}`;
}

/** The load-balancer part of a document as stored for the next seed's merge. */
export function loadBalancerBase(doc: ConfigDocument): unknown {
  return JSON.parse(formatConfig({ ...doc, network: emptyNetwork() }));
}
