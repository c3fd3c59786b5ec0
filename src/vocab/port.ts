/**
 * Ports and port ranges: the bounds every layer checks a port against, ipvsadm's decimal port
 * text, and the local port range FULLNAT hands out per local address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isPort, parsePort } from "./port.ts";
 * assert.ok(parsePort("8080") === 8080 && isPort(8080));
 * ```
 *
 * @module
 */

/**
 * The largest port number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PORT_MAX } from "./port.ts";
 * assert.ok(PORT_MAX === 65535);
 * ```
 */
export const PORT_MAX = 65535;

/**
 * The smallest port a service, real server or local port can use; 0 names no port (ipvsadm's
 * `VIP` without `:port`, a persistent service on every port).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PORT_MIN } from "./port.ts";
 * assert.ok(PORT_MIN === 1);
 * ```
 */
export const PORT_MIN = 1;

/**
 * True when `value` is a whole number from `min` (default {@linkcode PORT_MIN}) to
 * {@linkcode PORT_MAX}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isPort } from "./port.ts";
 * assert.ok(isPort(80) && !isPort(0) && isPort(0, 0) && !isPort(65536) && !isPort("80"));
 * ```
 */
export function isPort(value: unknown, min = PORT_MIN): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= min &&
    value <= PORT_MAX;
}

/**
 * Reads a port written in decimal (at most five digits), 0 to {@linkcode PORT_MAX}, as ipvsadm
 * takes it after `VIP:`; undefined otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parsePort } from "./port.ts";
 * assert.ok(parsePort("0") === 0 && parsePort("65536") === undefined);
 * assert.ok(parsePort("http") === undefined);
 * ```
 */
export function parsePort(text: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= PORT_MAX ? port : undefined;
}

/**
 * An inclusive range of ports, `[low, high]`.
 *
 * @example
 * ```ts
 * import type { PortRange } from "./port.ts";
 * const r: PortRange = [1025, 65535];
 * ```
 */
export type PortRange = readonly [low: number, high: number];

/**
 * The local ports FULLNAT hands out per local address when none are configured: every port
 * above the privileged ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_LOCAL_PORT_RANGE } from "./port.ts";
 * assert.ok(DEFAULT_LOCAL_PORT_RANGE[0] === 1025);
 * ```
 */
export const DEFAULT_LOCAL_PORT_RANGE: PortRange = [1025, PORT_MAX];

/**
 * True when `[low, high]` is a usable range: whole ports, `PORT_MIN <= low <= high <=
 * PORT_MAX`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isPortRange } from "./port.ts";
 * assert.ok(isPortRange([1025, 65535]) && !isPortRange([2000, 1000]));
 * ```
 */
export function isPortRange(range: PortRange): boolean {
  const [low, high] = range;
  return isPort(low) && isPort(high) && low <= high;
}

/**
 * The `low-high` text of a range, as `--local-ports` takes it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatPortRange } from "./port.ts";
 * assert.ok(formatPortRange([1025, 65535]) === "1025-65535");
 * ```
 */
export function formatPortRange(range: PortRange): string {
  return `${range[0]}-${range[1]}`;
}
