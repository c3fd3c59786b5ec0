/**
 * ICMP errors about the replies of DR and TUNNEL sessions: the real server sent those replies
 * from the VIP itself, straight to the client, so an error a router sends back about one (a
 * path MTU too small for the server's segments, say) reaches the VIP, that is the balancer.
 * As IPVS's `ip_vs_in_icmp` does, the error goes on to the server unchanged by the session's
 * own transmit: with the server's mark (DR), wrapped (TUNNEL). Never translated: the quote is
 * already as the server knows it. One that would outgrow the MTU once wrapped is dropped, since
 * an error is never answered with another.
 *
 * @module
 */
import type { EngineControl } from "../../src/fullnat/control.ts";
import { Verdict } from "../../src/nfqueue/handler.ts";
import { C, type Row, RS, tcp, VIP } from "../engine_fixture.ts";
import { ipv4 } from "../packet_builder.ts";
import { DR_MARK } from "./dr_mode.ts";
import type { Scenario } from "./scenario.ts";
import { ipip, TUN_SRC } from "./tunnel.ts";

/** A router on the client's side of the network, which sends the errors. */
const ROUTER = "198.51.100.254";

/** VIP:80 to RS by DR, VIP:443 to RS by tunnel. */
function services(ctl: EngineControl): void {
  for (const [port, method] of [[80, "dr"], [443, "tunnel"]] as const) {
    const key = { protocol: "tcp" as const, address: VIP, port };
    ctl.addService(key, { scheduler: "rr", persistence: 0 });
    ctl.addRealServer(key, { address: RS, port, weight: 1, method });
  }
}

/** "Fragmentation needed, next hop MTU 1400" from the router about `quoted`. */
function fragNeeded(quoted: ReturnType<typeof tcp>, bytes: number) {
  return ipv4({ src: ROUTER, dst: VIP, ttl: 64, id: 77 }).icmp({ type: 3, code: 4, rest: 1400 })
    .embed(quoted, bytes);
}

/** Errors about DR and TUNNEL replies, forwarded whole; one too big to wrap, dropped. */
export const ICMP_TO_DIRECT_SERVERS: Scenario = {
  section: "4.7 ICMP",
  what: "errors about DR and TUNNEL replies go to the real server unchanged, by its mode",
  options: { tunnelSources: [TUN_SRC], mtu: 620 },
  configure: services,
  rows: (): Row[] => {
    const synDr = tcp(C, VIP, 40000, 80, "S", 5);
    // The server's reply, as it sent it from the VIP: what the router quotes.
    const replyDr = tcp(VIP, C, 80, 40000, "PA", 100, 6).payload(new Uint8Array(1400));
    const synTun = tcp(C, VIP, 40001, 443, "S", 5);
    const replyTun = tcp(VIP, C, 443, 40001, "PA", 100, 6).payload(new Uint8Array(1400));
    const errTun = fragNeeded(replyTun, 48);
    return [
      { what: "DR SYN", input: synDr, verdict: Verdict.Marked, mark: DR_MARK },
      {
        what: "frag needed about a DR reply: to the server by its mark, bytes unchanged",
        input: fragNeeded(replyDr, 48),
        verdict: Verdict.Marked,
        mark: DR_MARK,
      },
      { what: "TUNNEL SYN", input: synTun, verdict: Verdict.Rewritten, output: ipip(synTun, 1) },
      {
        what: "frag needed about a TUNNEL reply: wrapped to the server, the error unchanged",
        input: errTun,
        verdict: Verdict.Rewritten,
        output: ipip(errTun, 2, false),
      },
      {
        what: "an error of 608 bytes would be 628 wrapped, over the MTU of 620: dropped",
        input: fragNeeded(replyTun, 580),
        verdict: Verdict.Drop,
      },
    ];
  },
};
