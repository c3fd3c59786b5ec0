/**
 * FULLNAT transmit (seed 4.2): DNAT and SNAT both ways. A new connection leaves from a local
 * address and port of the service (seed 4.5); its client SYN gets a fresh ISN (seed 4.6).
 * In-handler (client->RS): sequence shifted, timestamp of a SYN blanked (seed 4.4.1), TOA
 * inserted (seed 4.3) or, when the segment could not take it without outgrowing the path, an
 * ICMP "too big" sent back instead. Out-handler (RS->client): ack and SACK shifted back,
 * the SYN-ACK's MSS clamped (seed 4.4.2).
 *
 * @module
 */
import { TCP, TCP_FLAG, tcpHeaderLength } from "../wire/tcp.ts";
import type { Engine } from "./engine.ts";
import type { AddressFamily } from "./family.ts";
import { chosen, takeLocal } from "./local_address.ts";
import { clampMss } from "./mss_clamp.ts";
import { rewrite } from "./rewrite.ts";
import { shiftSeq, unshiftAck } from "./seq_translate.ts";
import { proxyIn, proxyOut } from "./syn_proxy.ts";
import type { RealServer, Service } from "./service.ts";
import { NO_SESSION, SessionFlag } from "./session_table.ts";
import { stripTimestamp } from "./timestamp_strip.ts";
import { insertToa, MAX_TCP_HEADER, stripToa, ToaSkip } from "./toa.ts";
import { METHOD_FULLNAT, type Transmit } from "./xmit.ts";

/** FULLNAT (ipvsadm `-b`). */
export const FULLNAT: Transmit = {
  code: METHOD_FULLNAT,
  inputOnly: false,
  marks: false,

  connect(
    e: Engine,
    fam: AddressFamily,
    svc: Service,
    rs: RealServer,
    proto: number,
    b: Uint8Array,
    o: number,
    cport: number,
    vport: number,
  ): number {
    if (!takeLocal(e, fam, svc, proto, rs)) return NO_SESSION;
    const la = chosen.local!;
    const id = fam.insert(e.table, proto, b, o, cport, vport, la, chosen.port, rs);
    if (id === NO_SESSION) {
      e.counters.tableFull++;
      return NO_SESSION;
    }
    e.table.local[id] = la.id;
    la.conns++;
    return id;
  },

  mapSequence(e: Engine, fam: AddressFamily, id: number, ticks: number): void {
    const t = e.table;
    t.seqDelta[id] = (fam.isn(e.isnSecret, t, id, ticks) - t.clientIsn[id]) >>> 0;
  },

  tcpIn(
    e: Engine,
    fam: AddressFamily,
    b: Uint8Array,
    o: number,
    l4: number,
    total: number,
    limit: number,
    id: number,
    svc: Service,
    flags: number,
  ): number {
    const t = e.table;
    const c = e.counters;
    const toaLen = fam.toaLength;
    // TOA goes into the SYN, the third ACK and data sent before the real server spoke.
    const wantsToa = svc.toa && (flags & TCP_FLAG.RST) === 0 &&
      (t.flags[id] & SessionFlag.RS_DATA) === 0;
    if (
      wantsToa && total + toaLen > limit && tcpHeaderLength(b, l4) + toaLen <= MAX_TCP_HEADER &&
      fam.dontFragment(b, o)
    ) {
      // Tell the client a path MTU its segments still fit in once TOA is added.
      c.toaFragNeeded++;
      return -fam.writeTooBig(b, o, l4, t, id, e.mtu - toaLen);
    }
    const delta = t.seqDelta[id];
    if (delta !== 0) shiftSeq(b, l4, delta | 0);
    if ((t.flags[id] & SessionFlag.SYN_PROXY) !== 0) {
      const blocks = proxyIn(t, b, l4, id);
      if (blocks !== 0) c.sackBlocksTranslated += blocks;
    }
    if (tcpHeaderLength(b, l4) > TCP.MIN_HEADER) {
      const spoofed = stripToa(b, l4);
      if (spoofed !== 0) c.toaSpoofRemoved += spoofed;
      if ((flags & TCP_FLAG.SYN) !== 0 && svc.stripTimestamps && stripTimestamp(b, l4)) {
        c.timestampsStripped++;
      }
    }
    if (!wantsToa) return total;
    const r = insertToa(fam, b, o, l4, total, limit, t, id);
    if (r > 0) {
      c.toaInserted++;
      return r;
    }
    if (r === ToaSkip.NoOptionSpace) c.toaNoOptionSpace++;
    else c.toaTooBig++;
    return total;
  },

  tcpOut(
    e: Engine,
    fam: AddressFamily,
    b: Uint8Array,
    l4: number,
    id: number,
    svc: Service,
    flags: number,
  ): void {
    const delta = e.table.seqDelta[id];
    if ((e.table.flags[id] & SessionFlag.SYN_PROXY) !== 0) proxyOut(e.table, b, l4, id);
    if (delta !== 0) {
      const blocks = unshiftAck(b, l4, delta | 0);
      if (blocks !== 0) e.counters.sackBlocksTranslated += blocks;
    }
    if (
      (flags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === (TCP_FLAG.SYN | TCP_FLAG.ACK) && svc.clampMss &&
      clampMss(b, l4, fam.toaLength)
    ) e.counters.mssClamped++;
  },

  xmit: rewrite,
};
