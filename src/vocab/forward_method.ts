/**
 * Forwarding methods: how a real server is reached. One table with each method's name (as the
 * control contract, the shell and the configuration document spell it), its ipvsadm option
 * (`-b`, `-m`, `-g`, `-i`), the word ipvsadm listings print in the Forward column, and whether
 * this build implements it. A method listed but not implemented is refused by ipvsadm's parser
 * with a message that names what to use instead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FORWARD_METHODS, forwardMethodEntry } from "./forward_method.ts";
 * assert.ok(FORWARD_METHODS.join(",") === "fullnat,nat,dr,tunnel");
 * assert.ok(forwardMethodEntry("nat").display === "Masq");
 * ```
 *
 * @module
 */
import { orList } from "./choices.ts";

/** One row of {@linkcode FORWARD_METHOD_TABLE}. */
export interface ForwardMethodEntry {
  /** The name everywhere a method is typed or stored: `fullnat`. */
  readonly name: string;
  /** How messages and ipvsadm's help name it: `FULLNAT`, `direct routing`. */
  readonly title: string;
  /** The ipvsadm option that asks for it: `-b`, `--fullnat`. */
  readonly ipvsadm: { readonly short: string; readonly long: string };
  /** The Forward column of `ipvsadm -L -n`: `FullNat`, `Masq`, `Route`, `Tunnel`. */
  readonly display: string;
  /** Other words the shell takes for it (besides its name and ipvsadm letter). */
  readonly aliases: readonly string[];
  /** What it rewrites, for help texts (implemented methods): `fullnat rewrites both addresses`. */
  readonly effect?: string;
  /** True when this build forwards with it. */
  readonly supported: boolean;
}

/**
 * Every forwarding method ipvsadm can name, the supported ones first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FORWARD_METHOD_TABLE } from "./forward_method.ts";
 * assert.ok(FORWARD_METHOD_TABLE.find((m) => m.ipvsadm.short === "g")?.supported === true);
 * ```
 */
export const FORWARD_METHOD_TABLE = [
  {
    name: "fullnat",
    title: "FULLNAT",
    ipvsadm: { short: "b", long: "fullnat" },
    display: "FullNat",
    aliases: [],
    effect: "fullnat rewrites both addresses",
    supported: true,
  },
  {
    name: "nat",
    title: "NAT",
    ipvsadm: { short: "m", long: "masquerading" },
    display: "Masq",
    aliases: ["masq"],
    effect: "nat only the destination",
    supported: true,
  },
  {
    name: "dr",
    title: "direct routing",
    ipvsadm: { short: "g", long: "gatewaying" },
    display: "Route",
    aliases: [],
    effect: "dr forwards the packet unchanged to the server on an attached segment",
    supported: true,
  },
  {
    name: "tunnel",
    title: "tunnelling",
    ipvsadm: { short: "i", long: "ipip" },
    display: "Tunnel",
    aliases: ["tun", "ipip"],
    effect: "tunnel wraps the packet in IPIP",
    supported: true,
  },
] as const satisfies readonly ForwardMethodEntry[];

/** Any method ipvsadm can name, implemented or not. */
export type AnyForwardMethod = typeof FORWARD_METHOD_TABLE[number]["name"];

/**
 * How a real server is reached, among the methods this build implements. `fullnat` rewrites
 * source and destination (ipvsadm `-b`); `nat` rewrites only the destination and relies on the
 * real server routing its replies back through the balancer (ipvsadm `-m`).
 *
 * @example
 * ```ts
 * import type { ForwardMethod } from "./forward_method.ts";
 * const m: ForwardMethod = "nat";
 * ```
 */
export type ForwardMethod = Extract<
  typeof FORWARD_METHOD_TABLE[number],
  { supported: true }
>["name"];

const SUPPORTED: readonly ForwardMethodEntry[] = FORWARD_METHOD_TABLE.filter((m) => m.supported);

/**
 * The implemented methods, in table order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FORWARD_METHODS } from "./forward_method.ts";
 * assert.ok(FORWARD_METHODS.includes("fullnat"));
 * ```
 */
export const FORWARD_METHODS: readonly ForwardMethod[] = SUPPORTED.map((m) =>
  m.name as ForwardMethod
);

/**
 * The method of a real server added without one: FULLNAT (ipvsadm's own default, direct
 * routing, cannot work here).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_FORWARD_METHOD } from "./forward_method.ts";
 * assert.ok(DEFAULT_FORWARD_METHOD === "fullnat");
 * ```
 */
export const DEFAULT_FORWARD_METHOD: ForwardMethod = "fullnat";

/**
 * The implemented methods as a sentence names them: `fullnat, nat or dr`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FORWARD_METHOD_CHOICES } from "./forward_method.ts";
 * assert.ok(FORWARD_METHOD_CHOICES === "fullnat, nat, dr or tunnel");
 * ```
 */
export const FORWARD_METHOD_CHOICES: string = orList(FORWARD_METHODS);

/**
 * ipvsadm's refusal of a method this build does not implement, naming the options that work.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UNSUPPORTED_FORWARDING } from "./forward_method.ts";
 * assert.ok(UNSUPPORTED_FORWARDING.includes("use -b (FULLNAT), -m (NAT)"));
 * ```
 */
export const UNSUPPORTED_FORWARDING: string = "forwarding method not supported by fullnat: use " +
  orList(SUPPORTED.map((m) => `-${m.ipvsadm.short} (${m.title})`));

/**
 * True when `value` names a method this build implements.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isForwardMethod } from "./forward_method.ts";
 * assert.ok(isForwardMethod("nat") && isForwardMethod("dr") && !isForwardMethod("ipip"));
 * ```
 */
export function isForwardMethod(value: unknown): value is ForwardMethod {
  return (FORWARD_METHODS as readonly unknown[]).includes(value);
}

/**
 * The table row of a method.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forwardMethodEntry } from "./forward_method.ts";
 * assert.ok(forwardMethodEntry("fullnat").ipvsadm.short === "b");
 * ```
 */
export function forwardMethodEntry(method: AnyForwardMethod): ForwardMethodEntry {
  return FORWARD_METHOD_TABLE.find((m) => m.name === method) as ForwardMethodEntry;
}

/**
 * The method an ipvsadm option asks for, by its long name (`masquerading`), or undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forwardMethodOfIpvsadmOption } from "./forward_method.ts";
 * assert.ok(forwardMethodOfIpvsadmOption("gatewaying") === "dr");
 * ```
 */
export function forwardMethodOfIpvsadmOption(long: string): AnyForwardMethod | undefined {
  return FORWARD_METHOD_TABLE.find((m) => m.ipvsadm.long === long)?.name;
}

/**
 * Reads a method as a person types it: its name, an alias or its ipvsadm letter, in any case.
 * Only implemented methods are found.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forwardMethodOfWord } from "./forward_method.ts";
 * assert.ok(forwardMethodOfWord("M") === "nat" && forwardMethodOfWord("masq") === "nat");
 * assert.ok(forwardMethodOfWord("g") === "dr" && forwardMethodOfWord("ipip") === "tunnel");
 * assert.ok(forwardMethodOfWord("route") === undefined);
 * ```
 */
export function forwardMethodOfWord(word: string): ForwardMethod | undefined {
  const w = word.toLowerCase();
  const found = SUPPORTED.find((m) =>
    m.name === w || m.ipvsadm.short === w || m.aliases.includes(w)
  );
  return found?.name as ForwardMethod | undefined;
}
