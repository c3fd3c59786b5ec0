/**
 * The transport protocols a virtual service can carry: one table with each protocol's name (as
 * the control contract, the shell and the configuration document spell it), its IP protocol
 * number, its ipvsadm option (`-t` / `-u`) and the name listings print.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PROTOCOLS, protocolNumber } from "./protocol.ts";
 * assert.ok(PROTOCOLS.join(",") === "tcp,udp");
 * assert.ok(protocolNumber("udp") === 17);
 * ```
 *
 * @module
 */
import { orList } from "./choices.ts";

/** One row of {@linkcode PROTOCOL_TABLE}. */
export interface ProtocolEntry {
  /** The name everywhere a protocol is typed or stored: `tcp`. */
  readonly name: string;
  /** The IP header's protocol number. */
  readonly number: number;
  /** How ipvsadm listings print it: `TCP`. */
  readonly display: string;
  /** The ipvsadm option that names a service of this protocol: `-t`, `--tcp-service`. */
  readonly ipvsadm: { readonly short: string; readonly long: string };
}

/**
 * Every protocol, in ipvsadm's listing order (which is the order of the protocol numbers).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PROTOCOL_TABLE } from "./protocol.ts";
 * assert.ok(PROTOCOL_TABLE[0].ipvsadm.short === "t");
 * ```
 */
export const PROTOCOL_TABLE = [
  { name: "tcp", number: 6, display: "TCP", ipvsadm: { short: "t", long: "tcp-service" } },
  { name: "udp", number: 17, display: "UDP", ipvsadm: { short: "u", long: "udp-service" } },
] as const satisfies readonly ProtocolEntry[];

/**
 * Transport protocols a virtual service can carry.
 *
 * @example
 * ```ts
 * import type { Protocol } from "./protocol.ts";
 * const p: Protocol = "tcp";
 * ```
 */
export type Protocol = typeof PROTOCOL_TABLE[number]["name"];

/**
 * The protocol names, in table order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PROTOCOLS } from "./protocol.ts";
 * assert.ok(PROTOCOLS.includes("udp"));
 * ```
 */
export const PROTOCOLS: readonly Protocol[] = PROTOCOL_TABLE.map((p) => p.name);

/**
 * The protocols as a sentence names them: `tcp or udp`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PROTOCOL_CHOICES } from "./protocol.ts";
 * assert.ok(PROTOCOL_CHOICES === "tcp or udp");
 * ```
 */
export const PROTOCOL_CHOICES: string = orList(PROTOCOLS);

/**
 * True when `value` is the name of a protocol (exact spelling, lower case).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isProtocol } from "./protocol.ts";
 * assert.ok(isProtocol("tcp") && !isProtocol("TCP") && !isProtocol("sctp"));
 * ```
 */
export function isProtocol(value: unknown): value is Protocol {
  return PROTOCOL_TABLE.some((p) => p.name === value);
}

/**
 * The table row of a protocol.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { protocolEntry } from "./protocol.ts";
 * assert.ok(protocolEntry("tcp").display === "TCP");
 * ```
 */
export function protocolEntry(protocol: Protocol): ProtocolEntry {
  return PROTOCOL_TABLE.find((p) => p.name === protocol) as ProtocolEntry;
}

/**
 * The IP protocol number of a protocol.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { protocolNumber } from "./protocol.ts";
 * assert.ok(protocolNumber("tcp") === 6);
 * ```
 */
export function protocolNumber(protocol: Protocol): number {
  return protocolEntry(protocol).number;
}

/**
 * The protocol with this IP protocol number, or undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { protocolOfNumber } from "./protocol.ts";
 * assert.ok(protocolOfNumber(17) === "udp" && protocolOfNumber(1) === undefined);
 * ```
 */
export function protocolOfNumber(number: number): Protocol | undefined {
  return PROTOCOL_TABLE.find((p) => p.number === number)?.name;
}

/**
 * The protocol an ipvsadm option names, by its long name (`tcp-service`), or undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { protocolOfIpvsadmOption } from "./protocol.ts";
 * assert.ok(protocolOfIpvsadmOption("udp-service") === "udp");
 * ```
 */
export function protocolOfIpvsadmOption(long: string): Protocol | undefined {
  return PROTOCOL_TABLE.find((p) => p.ipvsadm.long === long)?.name;
}
