/**
 * The engine's tunables: IPVS sysctls (`/proc/sys/net/ipv4/vs/`) the engine honours, under
 * the configuration's camelCase names. Each is a switch for the whole engine, off by default
 * as in IPVS. One table: the control, the configuration document and the shell take the
 * names, defaults and checks from {@linkcode DEFAULT_TUNABLES} and {@linkcode TUNABLE_KEYS}.
 *
 * @module
 */

/** The tunables and their values. */
export interface Tunables {
  /**
   * `expire_quiescent_template`: a persistence template whose real server has weight 0 is
   * dropped on its next use, so the client is scheduled afresh (off: it stays on the quiesced
   * server, IPVS's default).
   */
  expireQuiescentTemplate: boolean;
}

/** IPVS's defaults: everything off. */
export const DEFAULT_TUNABLES: Readonly<Tunables> = Object.freeze({
  expireQuiescentTemplate: false,
});

/** Every tunable's name, in table order. */
export const TUNABLE_KEYS: readonly (keyof Tunables)[] = Object.keys(
  DEFAULT_TUNABLES,
) as (keyof Tunables)[];

/** The IPVS sysctl of each tunable, for messages and help. */
export const TUNABLE_SYSCTLS: Readonly<Record<keyof Tunables, string>> = Object.freeze({
  expireQuiescentTemplate: "expire_quiescent_template",
});
