/**
 * The kernel settings the fast path (`--offload established`) needs in the balancer's network
 * namespace, beside the data path's own (`sysctl.ts`):
 *
 * - `nf_conntrack_tcp_loose=0`: conntrack does not pick up a connection from a mid-stream
 *   packet, so a TCP packet of a session the daemon did not hand over finds no entry, is
 *   INVALID, and reaches the queue from mangle (`diversion_rules.ts`); with 1, conntrack
 *   would make junk entries of it that later block the real one.
 * - `nf_conntrack_acct=1`: entries count packets and bytes (the per-service and per-server
 *   stats of offloaded sessions); it must be on before entries are made.
 * - the TCP timeouts per state set to the engine's (`ipvsadm --set`), so an offloaded
 *   session lasts as long in the kernel as it would in the engine, and a closed one's local
 *   port comes back as soon (the kernel's TIME_WAIT of 120 s would hold it for minutes).
 *
 * Like the others they are put back when the daemon stops for good. Per-service timeouts
 * have no kernel counterpart here: the kernel applies the engine-wide ones.
 *
 * @module
 */
import type { Timeouts } from "../fullnat/types.ts";

const NF = "net/netfilter";

/** The settings wanted for timeouts `t`, as [path relative to /proc/sys, value]. */
export function offloadSysctls(t: Timeouts): Array<[string, string]> {
  const timeout = (state: string, seconds: number): [string, string] => [
    `${NF}/nf_conntrack_tcp_timeout_${state}`,
    String(seconds),
  ];
  return [
    [`${NF}/nf_conntrack_tcp_loose`, "0"],
    [`${NF}/nf_conntrack_acct`, "1"],
    timeout("established", t.tcpEstablished),
    timeout("syn_sent", t.tcpSynSent),
    timeout("syn_recv", t.tcpSynRecv),
    timeout("fin_wait", t.tcpFinWait),
    timeout("time_wait", t.tcpTimeWait),
    timeout("close", t.tcpClose),
    timeout("close_wait", t.tcpCloseWait),
    timeout("last_ack", t.tcpLastAck),
  ];
}
