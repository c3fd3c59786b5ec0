/**
 * Engine-wide switches that IPVS keeps as sysctls under `/proc/sys/net/ipv4/vs/` (set there
 * with `sysctl`, not ipvsadm): one row per switch, with IPVS's name, the shell's name and what
 * it does, so the configuration document (`tunables`), the control contract, the shell's
 * `tunable set NAME on|off` and the checks all read one table. Each is off by default, as in
 * IPVS.
 *
 * @module
 */

/** Every tunable, by its name in the configuration document. */
export interface Tunables {
  /**
   * IPVS's `expire_nodest_conn`: a client packet of a session whose real server was deleted
   * ends that session at once (and is then handled as a packet with no session) instead of
   * being forwarded to the deleted server.
   */
  expireNodestConn: boolean;
  /**
   * `expire_quiescent_template`: a persistence template whose real server has weight 0 is
   * dropped on its next use, so the client is scheduled afresh (off: it stays on the quiesced
   * server, IPVS's default).
   */
  expireQuiescentTemplate: boolean;
  /**
   * The kernel fast path (`--offload`): `established` hands established FULLNAT and NAT TCP
   * sessions to the kernel's conntrack (`offload.ts`, `src/daemon/offload_step.ts`), `off`
   * keeps every packet in the engine. Not an IPVS sysctl, and not a switch: left out (and so
   * absent from {@linkcode DEFAULT_TUNABLES} and every listing) while `off`.
   */
  offload?: OffloadMode;
}

/** The fast path's modes (`--offload`, document `tunables.offload`, shell `tunable offload`). */
export type OffloadMode = "off" | "established";

/** Every {@linkcode OffloadMode}, the default first. */
export const OFFLOAD_MODES: readonly OffloadMode[] = ["off", "established"];

/** True when `v` is an {@linkcode OffloadMode}. */
export function isOffloadMode(v: unknown): v is OffloadMode {
  return (OFFLOAD_MODES as readonly unknown[]).includes(v);
}

/** The offload mode `t` says, `off` when it says none. */
export function offloadMode(t: Partial<Tunables> | undefined): OffloadMode {
  return t?.offload ?? "off";
}

/** IPVS's defaults: every switch off (and no offload). */
export const DEFAULT_TUNABLES: Readonly<Tunables> = Object.freeze({
  expireNodestConn: false,
  expireQuiescentTemplate: false,
});

/** The keys of the on/off switches (every tunable but `offload`). */
export type SwitchKey = Exclude<keyof Tunables, "offload">;

/** One tunable: its document key, IPVS's sysctl name, the shell's word and a summary. */
export interface TunableEntry {
  key: SwitchKey;
  sysctl: string;
  shell: string;
  summary: string;
}

/** The tunables in display order. */
export const TUNABLE_TABLE: readonly TunableEntry[] = [
  {
    key: "expireNodestConn",
    sysctl: "expire_nodest_conn",
    shell: "expire-nodest-conn",
    summary: "end a session at its next client packet when its real server was deleted",
  },
  {
    key: "expireQuiescentTemplate",
    sysctl: "expire_quiescent_template",
    shell: "expire-quiescent-template",
    summary: "schedule a persistent client afresh when its template's real server has weight 0",
  },
];

/** The document keys of every tunable. */
export const TUNABLE_KEYS: readonly SwitchKey[] = TUNABLE_TABLE.map((t) => t.key);

/** The IPVS sysctl of each tunable, for messages and help. */
export const TUNABLE_SYSCTLS: Readonly<Record<SwitchKey, string>> = Object.freeze(
  Object.fromEntries(TUNABLE_TABLE.map((t) => [t.key, t.sysctl])) as Record<
    SwitchKey,
    string
  >,
);

/** The entry a shell word, sysctl name or document key names, if any. */
export function tunableEntry(name: string): TunableEntry | undefined {
  return TUNABLE_TABLE.find((t) => t.shell === name || t.sysctl === name || t.key === name);
}
