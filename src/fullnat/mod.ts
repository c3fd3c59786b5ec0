/**
 * The FULLNAT packet engine: a pure, synchronous rewrite of IPv4 TCP/UDP packets between
 * clients, virtual services, local addresses and real servers.
 *
 * @module
 */
export { Engine, type EngineOptions, type MalformedPolicy, type RejectPolicy } from "./engine.ts";
export { type PacketSink, Verdict } from "../nfqueue/handler.ts";
export { EngineControl } from "./control.ts";
export type { EngineCounters } from "./counters.ts";
export * from "./types.ts";
