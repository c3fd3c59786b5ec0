/**
 * The kernel side of the conntrack fast path: established sessions handed to the kernel's
 * connection tracking (DNAT to the real server, SNAT to the local address and port, the
 * sequence delta as a seqadj) through ctnetlink, so their packets stop going through the
 * queue. Messages are built and read in TypeScript; the socket is the queue's
 * `NetlinkSocket`. Entries live in the network namespace the process is in; needs
 * CAP_NET_ADMIN there and `-A` (FFI).
 *
 * @example
 * ```ts
 * import { Conntrack, type OffloadEntry } from "./mod.ts";
 *
 * export async function offloadOne(entry: OffloadEntry): Promise<void> {
 *   const ct = new Conntrack();
 *   const events = ct.events({ groups: ["destroy"] }); // subscribe before creating
 *   const [result] = ct.create([entry]); // one datagram for many entries, one answer each
 *   if (!result.ok) console.log(`stays in the engine: ${result.reason} (errno ${result.errno})`);
 *   const mine = ct.dump(entry.mark, 0xffffffff); // counters, state, timeout left
 *   console.log(mine.length);
 *   for (const e of await events.wait()) console.log(e.type, e.orig, e.countersOrig);
 *   events.close();
 *   ct.close();
 * }
 * ```
 *
 * ## Verified on this kernel (6.18.44, monolithic; tests/e2e/kernel/conntrack_e2e_test.ts, ct_wire_test.ts)
 *
 * - CT_NEW (`CREATE|EXCL|ACK`) with orig, reply = inverted orig, `CTA_NAT_DST` and
 *   `CTA_NAT_SRC` (address and port, min = max), `CTA_STATUS` = CONFIRMED|SEEN_REPLY|ASSURED,
 *   `CTA_SEQ_ADJ_ORIG`, `CTA_PROTOINFO` (ESTABLISHED, both wscales, WINDOW_SCALE|SACK_PERM|
 *   BE_LIBERAL with that mask), `CTA_TIMEOUT`, `CTA_MARK` creates the entry, IPv4 and IPv6,
 *   TCP and UDP. It reads back with status 0x1fe: the kernel adds SRC_NAT, DST_NAT, both
 *   `_DONE` bits and SEQ_ADJUST itself. The reply tuple reads RS:rport -> LIP:lport.
 * - Dumps export `CTA_SEQ_ADJ_ORIG` and `CTA_SEQ_ADJ_REPLY` (zeros) once SEQ_ADJUST is set,
 *   and TCP state, timeout left, mark, id, and counters (with `nf_conntrack_acct=1` set
 *   before creation). `conntrack -L` lists the same entries.
 * - Several CT_NEW in one datagram get one acknowledgement each, in order. A clash is
 *   EEXIST for that entry only: the same original tuple, or the same reply tuple (an SNAT
 *   port already used towards the same server: min = max leaves the kernel no other).
 * - Destroy events (delete, expiry) carry both tuples, mark, counters, timeout and also the
 *   TCP state. A deleted entry's event has the seconds it had left (`conntrack -D` of an
 *   ESTABLISHED entry with 100 s: 99); an expired one's has no timeout at all (the kernel
 *   skips a zero): that is how an idle expiry is told from a deletion (`offload_kernel.ts`). An expired entry is reaped by the gc worker, whose scan interval follows the
 *   table's average timeout (no event within 20 s was seen once); a dump walking over it
 *   evicts it at once and its destroy event follows, so the reconciling dump also bounds that.
 * - On the wire, an ESTABLISHED entry with a non-zero delta (0x9e3779b9, wrapping), created
 *   between the server's SYN-ACK and the client's third ACK: every client packet reaches the
 *   server with seq + delta and ack unchanged; every server packet reaches the client with
 *   ack - delta and each SACK edge - delta; 2 MB up and 200 KB down byte-identical with every
 *   8th data packet dropped at the server (retransmissions, SACKs); the FINs go through the entry (TIME_WAIT afterwards); no packet of
 *   the transfer was INVALID (BE_LIBERAL; the windows are initialised from the third ACK).
 * - With `nf_conntrack_tcp_loose=0` a mid-stream packet without an entry is INVALID (seen by
 *   `-m conntrack --ctstate INVALID`) and leaves no entry; with 1 it is picked up as a new
 *   entry. (An ACK to a local address with loose=1 leaves none either: the host's RST is the
 *   only reply, and conntrack kills such an entry at once.)
 * - An injected entry is used only when both exist in the namespace (iptables-nft): a rule
 *   that uses conntrack state (registers conntrack's hooks) and a chain of the nat table
 *   (registers the NAT hooks). Either alone: packets do not get the entry's translation.
 *
 * ## Not verified here
 *
 * Reliable event delivery under overflow (`NETLINK_BROADCAST_ERROR` + `NETLINK_NO_ENOBUFS`,
 * the default of {@linkcode CtEvents}; from the kernel source: a destroy event that cannot be
 * delivered keeps the entry on the dying list to be sent again), ICMP errors about offloaded
 * flows, GSO throughput against plain kernel NAT.
 *
 * @module
 */

export {
  Conntrack,
  type ConntrackCounters,
  type ConntrackOptions,
  CtEvents,
  type CtEventsOptions,
} from "./conntrack.ts";
export { entryProblem, invertTuple, tupleProblem } from "./encode.ts";
export { TCP_CONNTRACK_ESTABLISHED } from "./constants.ts";
export { parseEntry } from "./decode.ts";
export type {
  CtAddress,
  CtCounters,
  CtEntry,
  CtEvent,
  CtEventCounters,
  CtNatTarget,
  CtProtocol,
  CtSeqAdj,
  CtTcpInfo,
  CtTuple,
  CtTupleText,
  OffloadEntry,
  OffloadResult,
} from "./types.ts";
