/**
 * Validation of the `ha` section: the VRRP instance keepalived runs for an HA pair (interface,
 * virtual router id, priority, advertisement interval, peer, password, preemption) and the
 * addresses that float with it, VIPs and local addresses alike, in the `network` section's form
 * (`{eth0: [198.51.100.10]}`). Names and defaults are keepalived's.
 *
 * @module
 */

import { parseAddress } from "../vocab/mod.ts";
import type { Problems } from "./problems.ts";
import { bool, mapping, text, wholeNumber } from "./shape.ts";
import type { HaConfig } from "./types.ts";
import { interfaceNameProblem, validateHostAddresses } from "./validate_network.ts";

const HA_KEYS = [
  "interface",
  "virtualRouterId",
  "priority",
  "advertInterval",
  "peer",
  "authPass",
  "preempt",
  "vips",
  "localAddresses",
] as const;

/** keepalived's defaults for what the section leaves out. */
export const HA_DEFAULTS = { priority: 100, advertInterval: 1, preempt: false };

/** Addresses one VRRP advertisement carries at most (the rest go in `_excluded`). */
export const VRRP_MAX_ADDRESSES = 20;

/** Validates the `ha` section; undefined when it has problems (recorded in `problems`). */
export function validateHa(value: unknown, problems: Problems): HaConfig | undefined {
  const before = problems.list.length;
  const m = mapping(value, problems, HA_KEYS);
  if (m === undefined) return undefined;
  let iface: string | undefined;
  if (m.interface === undefined) {
    problems.add(["interface"], "missing; name the interface VRRP advertisements go out of");
  } else {
    iface = text(m.interface, problems.at("interface"), "an interface name");
    const why = iface === undefined ? undefined : interfaceNameProblem(iface);
    if (why) problems.add(["interface"], why);
  }
  let virtualRouterId: number | undefined;
  if (m.virtualRouterId === undefined) {
    problems.add(
      ["virtualRouterId"],
      "missing; give 1-255, the same on both boxes and on no other pair of the segment",
    );
  } else virtualRouterId = wholeNumber(m.virtualRouterId, problems.at("virtualRouterId"), 1, 255);
  // 255 is the address owner's priority in VRRP, which keepalived keeps for that case.
  const priority = m.priority === undefined
    ? HA_DEFAULTS.priority
    : wholeNumber(m.priority, problems.at("priority"), 1, 254);
  const advertInterval = m.advertInterval === undefined
    ? HA_DEFAULTS.advertInterval
    : wholeNumber(m.advertInterval, problems.at("advertInterval"), 1, 255);
  let peer: string | undefined;
  if (m.peer !== undefined) {
    const t = text(m.peer, problems.at("peer"), "the other box's address");
    const a = t === undefined ? undefined : parseAddress(t);
    if (t !== undefined && a === undefined) {
      problems.add(["peer"], `${JSON.stringify(t)} is not an IP address`);
    }
    peer = a?.address;
  }
  let authPass: string | undefined;
  if (m.authPass !== undefined) {
    authPass = text(m.authPass, problems.at("authPass"), "a password");
    if (authPass !== undefined && !/^[\x21-\x7e]{1,8}$/.test(authPass)) {
      problems.add(
        ["authPass"],
        "must be 1 to 8 printable characters without spaces (VRRP carries 8 bytes of it)",
      );
    }
  }
  const preempt = m.preempt === undefined
    ? HA_DEFAULTS.preempt
    : bool(m.preempt, problems.at("preempt"));
  const seen = new Map<string, string>();
  const vips = validateHostAddresses(m.vips, problems.at("vips"), "VIP", seen);
  const localAddresses = validateHostAddresses(
    m.localAddresses,
    problems.at("localAddresses"),
    "local",
    seen,
  );
  if (vips.length + localAddresses.length === 0) {
    problems.add(
      [],
      "no address floats: list the VIPs under vips and the local addresses under localAddresses",
    );
  }
  if (problems.list.length > before) return undefined;
  return {
    interface: iface!,
    virtualRouterId: virtualRouterId!,
    priority: priority!,
    advertInterval: advertInterval!,
    ...(peer !== undefined && { peer }),
    ...(authPass !== undefined && { authPass }),
    preempt: preempt!,
    vips,
    localAddresses,
  };
}
