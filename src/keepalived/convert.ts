/**
 * A read keepalived.conf turned into the configuration document: the top-level statements are
 * sorted into groups (read first, since virtual servers may name groups defined after them),
 * virtual servers (each becoming one service, or one per group member), `global_defs` (whose
 * `lvs_timeouts` become the document's timeouts), the sections fullnat leaves to others
 * (VRRP, the box's own addresses and routes: skipped with a note) and what cannot be honoured.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Findings } from "./findings.ts";
 * import { convertStatements } from "./convert.ts";
 * const at = { file: "k.conf", line: 1 };
 * const f = new Findings();
 * convertStatements([{ keyword: "vrrp_instance", args: ["VI_1"], at, block: [] }], f);
 * assert.deepEqual(f.noteLines(), [
 *   "k.conf:1: vrrp_instance VI_1 skipped: VRRP is left to keepalived itself, run beside the daemon",
 * ]);
 * ```
 *
 * @module
 */
import type { Timeouts } from "../fullnat/timeouts.ts";
import { formatEndpoint } from "../vocab/mod.ts";
import type { Findings, Where } from "./findings.ts";
import { type LaddrGroup, readLaddrGroup, readVsGroup, type VsGroup } from "./groups.ts";
import type { ImportedDocument, ImportedService } from "./output.ts";
import type { Statement } from "./parse.ts";
import { buildServices, type Groups } from "./services.ts";
import { readInteger, spelled } from "./values.ts";
import { readVirtualServer, type VsDraft } from "./virtual_server.ts";

const VRRP = "VRRP is left to keepalived itself, run beside the daemon";

/** Top-level sections fullnat leaves alone, with the reason given in the note. */
export const SKIPPED_SECTIONS: Readonly<Record<string, string>> = {
  vrrp_instance: VRRP,
  vrrp_sync_group: VRRP,
  vrrp_script: VRRP,
  vrrp_track_process: VRRP,
  vrrp_track_file: VRRP,
  track_file: VRRP,
  track_process: VRRP,
  garp_group: VRRP,
  linkbeat_interfaces: VRRP,
  bfd_instance: VRRP,
  static_ipaddress: "the box's own addresses are set with ip or provisioning",
  static_routes: "the box's own routes are set with ip or provisioning",
  static_rules: "the box's own routing rules are set with ip or provisioning",
  net_namespace: "a keepalived process setting",
  net_namespace_ipvs: "a keepalived process setting",
  namespace_with_ipsets: "a keepalived process setting",
  instance: "a keepalived process setting",
  use_pid_dir: "a keepalived process setting",
  child_wait_time: "a keepalived process setting",
  tunnel_group: "DPVS tunnel devices are not configured here",
};

/** DPVS's address lists, defined at the top level; a virtual server naming one is refused there. */
const DPVS_ADDRESS_LISTS = ["deny_address_group", "allow_address_group"];

/** `lvs_timeouts` words and the timeouts they set (ipvsadm --set tcp tcpfin udp). */
const LVS_TIMEOUT_WORDS: Readonly<Record<string, keyof Timeouts>> = {
  tcp: "tcpEstablished",
  tcpfin: "tcpFinWait",
  udp: "udp",
};

/** How many skipped global_defs keywords a note names. */
const MAX_NAMED = 8;

/** Reads `global_defs`: `lvs_timeouts` maps; the rest is keepalived's own and noted as skipped. */
function readGlobalDefs(st: Statement, f: Findings): Partial<Timeouts> | undefined {
  let timeouts: Partial<Timeouts> | undefined;
  const skipped: string[] = [];
  for (const s of st.block ?? []) {
    if (s.keyword !== "lvs_timeouts") {
      skipped.push(s.keyword);
      continue;
    }
    if (s.args.length === 0 || s.args.length % 2 !== 0 || s.block !== undefined) {
      f.problem(s.at, `${spelled(s)}: lvs_timeouts takes pairs: tcp N, tcpfin N, udp N`);
      continue;
    }
    for (let i = 0; i < s.args.length; i += 2) {
      const key = LVS_TIMEOUT_WORDS[s.args[i]];
      if (key === undefined) {
        f.problem(s.at, `lvs_timeouts ${s.args[i]}: unknown (tcp, tcpfin or udp)`);
        continue;
      }
      const n = readInteger({ ...s, args: [s.args[i + 1]] }, f, 1, 2_000_000);
      if (n !== undefined) timeouts = { ...timeouts, [key]: n };
    }
  }
  if (skipped.length > 0) {
    const names = [...new Set(skipped)];
    const shown = names.length > MAX_NAMED ? names.slice(0, MAX_NAMED - 1) : names;
    const more = names.length - shown.length;
    f.note(
      st.at,
      `global_defs skipped (${shown.join(", ")}${more > 0 ? ` and ${more} more` : ""}): ` +
        `keepalived's own settings` + (timeouts !== undefined ? "; lvs_timeouts taken" : ""),
    );
  }
  return timeouts;
}

/** The whole document from the top-level statements, or undefined when there were problems. */
export function convertStatements(
  statements: Statement[],
  f: Findings,
): ImportedDocument | undefined {
  const groups: Groups = { vsGroups: new Map(), laddrGroups: new Map() };
  const drafts: VsDraft[] = [];
  let timeouts: Partial<Timeouts> | undefined;
  const define = <G extends VsGroup | LaddrGroup>(map: Map<string, G>, g: G | undefined) => {
    if (g === undefined) return;
    const before = map.get(g.name);
    if (before !== undefined) {
      f.problem(g.at, `${g.name} is already defined (${before.at.file}:${before.at.line})`);
    } else map.set(g.name, g);
  };
  for (const st of statements) {
    const k = st.keyword;
    if (k === "virtual_server_group") define(groups.vsGroups, readVsGroup(st, f));
    else if (k === "local_address_group") define(groups.laddrGroups, readLaddrGroup(st, f));
    else if (k === "virtual_server") {
      const vs = readVirtualServer(st, f);
      if (vs !== undefined) drafts.push(vs);
    } else if (k === "global_defs") {
      const t = readGlobalDefs(st, f);
      if (t !== undefined) timeouts = { ...timeouts, ...t };
    } else if (SKIPPED_SECTIONS[k] !== undefined) {
      const name = st.args.length > 0 ? ` ${st.args.join(" ")}` : "";
      f.note(st.at, `${k}${name} skipped: ${SKIPPED_SECTIONS[k]}`);
    } else if (DPVS_ADDRESS_LISTS.includes(k)) {
      // Only data; a virtual server that uses it is refused where it names it.
    } else if (k === "SSL") {
      f.problem(
        st.at,
        "SSL (client certificate and key for SSL_GET): not supported yet",
      );
    } else f.problem(st.at, `${k}: unknown keyword at the top level`);
  }
  const services: ImportedService[] = [];
  const defined = new Map<string, Where>();
  for (const vs of drafts) {
    for (const svc of buildServices(vs, groups, f)) {
      const key = `${svc.protocol} ${formatEndpoint(svc.address, svc.port)}`;
      const before = defined.get(key);
      if (before !== undefined) {
        f.problem(vs.at, `service ${key} is already defined (${before.file}:${before.line})`);
        continue;
      }
      defined.set(key, vs.at);
      services.push(svc);
    }
  }
  if (f.problems.length > 0) return undefined;
  return { version: 1, ...(timeouts !== undefined && { timeouts }), services };
}
