/**
 * Durable running configuration: the declarative document, whole-document validation and
 * minimal application, the SQLite store, and the daemon hooks.
 *
 * @module
 */
export * from "./document.ts";
export * from "./plan.ts";
export * from "./apply.ts";
export * from "./store.ts";
export * from "./attach.ts";
export * from "./network_section.ts";
