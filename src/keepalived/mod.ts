/**
 * keepalived.conf import: the mainline, Alibaba LVS and DPVS dialects read (includes, groups,
 * ranges, checkers) and converted into fullnat's configuration document, with every keyword
 * that cannot be honoured reported at its `file:line`. Used by `config import keepalived`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { importKeepalived, memorySource } from "./mod.ts";
 * const r = await importKeepalived("k.conf", memorySource({ "k.conf":
 *   "virtual_server fwmark 1 {\n}\n" }));
 * assert.equal(r.document, undefined);
 * assert.match(r.problems[0], /^k\.conf:1: virtual_server fwmark 1: firewall-mark services/);
 * ```
 *
 * @module
 */
export * from "./findings.ts";
export * from "./import.ts";
export * from "./merge.ts";
export * from "./output.ts";
export * from "./parse.ts";
export * from "./source.ts";
