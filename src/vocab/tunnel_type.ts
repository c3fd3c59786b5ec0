/**
 * The encapsulations of a TUNNEL real server, as IPVS has them since Linux 5.2 (ipvsadm
 * 1.31's `--tun-type ipip|gue|gre`, `--tun-port`, `--tun-nocsum|--tun-csum`; keepalived's
 * `lvs_method TUN type gue port N csum`): IPIP (IPv4 in IPv4, IPv6 in IPv6), GUE (the packet
 * behind a UDP header and a 4-byte GUE header, as Katran and IPVS send it) and GRE. Which
 * options go with which type follows ipvsadm's `tunnel_types_v_options` table; remote checksum
 * offload (`--tun-remcsum`) needs the sender's checksum-offload state, which a packet from the
 * queue no longer has, so it is refused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tunnelOptionsProblem } from "./tunnel_type.ts";
 * assert.equal(tunnelOptionsProblem("tunnel", { tunnelType: "gue", tunnelPort: 6080 }), undefined);
 * assert.match(tunnelOptionsProblem("tunnel", { tunnelType: "gue" }) ?? "", /needs its UDP port/);
 * ```
 *
 * @module
 */
import { orList } from "./choices.ts";

/** Tunnel types, by IPVS's code (`IP_VS_CONN_F_TUNNEL_TYPE_*`: ipip 0, gue 1, gre 2). */
export const TUNNEL_TYPES = ["ipip", "gue", "gre"] as const;

/** A tunnel type's name. */
export type TunnelType = typeof TUNNEL_TYPES[number];

/** The type a TUNNEL server has when none is given (ipvsadm's `DEF_TUNNEL_TYPE`). */
export const DEFAULT_TUNNEL_TYPE: TunnelType = "ipip";

/** `ipip, gue or gre`, for messages. */
export const TUNNEL_TYPE_CHOICES: string = orList(TUNNEL_TYPES);

/** Whether `v` names a tunnel type. */
export function isTunnelType(v: unknown): v is TunnelType {
  return typeof v === "string" && (TUNNEL_TYPES as readonly string[]).includes(v);
}

/** The code IPVS (and the engine) gives a tunnel type. */
export function tunnelTypeCode(t: TunnelType): number {
  return TUNNEL_TYPES.indexOf(t);
}

/** A real server's tunnel options as given (left out: the defaults). */
export interface TunnelOptions {
  tunnelType?: TunnelType;
  /** GUE's UDP destination port (required for gue, refused for the others). */
  tunnelPort?: number;
  /** A checksum in the GUE (UDP) or GRE header (default off; refused for ipip). */
  tunnelChecksum?: boolean;
}

/**
 * What is wrong with `options` on a real server forwarded by `method`, or undefined: tunnel
 * options only with `tunnel`; gue needs a port; ipip takes neither a port nor a checksum, gre
 * no port.
 */
export function tunnelOptionsProblem(
  method: string,
  options: TunnelOptions,
): string | undefined {
  const type = options.tunnelType ?? DEFAULT_TUNNEL_TYPE;
  const given = options.tunnelType !== undefined || options.tunnelPort !== undefined ||
    options.tunnelChecksum !== undefined;
  if (method !== "tunnel") {
    return given
      ? `tunnel options (type, port, checksum) apply to tunnel real servers only, not ${method}`
      : undefined;
  }
  if (!isTunnelType(type)) return `tunnel type ${String(type)} is not ${TUNNEL_TYPE_CHOICES}`;
  if (type === "gue" && options.tunnelPort === undefined) {
    return "a gue tunnel needs its UDP port";
  }
  if (type !== "gue" && options.tunnelPort !== undefined) {
    return `${type === "ipip" ? "an" : "a"} ${type} tunnel takes no port (only gue does)`;
  }
  if (type === "ipip" && options.tunnelChecksum === true) {
    return "an ipip tunnel has no checksum (gue and gre do)";
  }
  return undefined;
}
