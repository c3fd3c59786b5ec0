/**
 * The NFQUEUE pass-through peer: the project's own queue loop (`src/nfqueue`) with a handler
 * that accepts every packet unchanged, diverted by the project's own iptables rules, so it
 * costs what fullnat's data path costs minus the engine. It is the ceiling of this design.
 *
 * Run inside the balancer's namespace; prints `ready` once the queue is bound and the
 * diversion installed, and cleans up on SIGTERM/SIGINT:
 *
 *   deno run -A bench/peers/passthrough.ts --rs 203.0.113.11 [--queue 0] [--gso | --no-gso]
 *                                          [--queue-maxlen N] [--return-payload]
 *
 * Both directions are diverted, as fullnat's are: packets to the real server's ports (as
 * fullnat diverts a service) and the server's replies from those ports (as it diverts a
 * NAT-mode real server's replies).
 *
 * With `--return-payload` every packet is handed back unchanged as a payload verdict, as any
 * handler that rewrites packets must hand them back: the kernel then copies the packet in
 * again and takes its checksum as complete (so the loop completes checksums the sender left
 * to the hardware). It measures what returning a packet costs, apart from any engine.
 *
 * @module
 */

import type { DiversionSpec } from "../../src/fullnat/types.ts";
import { Diversion } from "../../src/kernel/diversion.ts";
import { NfQueue } from "../../src/nfqueue/queue.ts";
import { applyDataPathSysctls } from "../../src/kernel/sysctl.ts";
import { acceptHandler, sameBytesHandler } from "../../testkit/handlers.ts";
import { RS_PORTS } from "./real_server.ts";

/** What the pass-through diverts for a real server at `rs`. */
export function passthroughSpec(rs: string): DiversionSpec {
  const ports = [
    { protocol: "tcp" as const, address: rs, port: RS_PORTS.http },
    { protocol: "tcp" as const, address: rs, port: RS_PORTS.httpProxyProtocol },
    { protocol: "tcp" as const, address: rs, port: RS_PORTS.iperf },
    { protocol: "udp" as const, address: rs, port: RS_PORTS.iperf },
    { protocol: "tcp" as const, address: rs, port: RS_PORTS.iperf2 },
    { protocol: "udp" as const, address: rs, port: RS_PORTS.iperf2 },
    { protocol: "udp" as const, address: rs, port: RS_PORTS.burst },
  ];
  return { services: ports, localAddresses: [], natRealServers: ports };
}

function flag(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

async function main(): Promise<void> {
  const rs = flag("--rs");
  if (rs === undefined) {
    throw new Error(
      "usage: passthrough.ts --rs ADDRESS [--queue N] [--gso | --no-gso] [--queue-maxlen N] " +
        "[--return-payload]",
    );
  }
  const queueNum = Number(flag("--queue") ?? "0");
  applyDataPathSysctls();
  // The queue's defaults, which the daemon uses too, so only the engine differs; --gso and
  // --no-gso override them to match a daemon started otherwise.
  const gso = Deno.args.includes("--gso")
    ? true
    : Deno.args.includes("--no-gso")
    ? false
    : undefined;
  const maxLen = flag("--queue-maxlen");
  const queue = NfQueue.open({
    queueNum,
    ...(gso === undefined ? {} : { gso }),
    ...(maxLen === undefined ? {} : { maxLen: Number(maxLen) }),
  });
  const diversion = new Diversion({ queueNum, prefix: "FNBENCHPT" });
  try {
    await diversion.install(passthroughSpec(rs));
    const stop = () => queue.stop();
    Deno.addSignalListener("SIGTERM", stop);
    Deno.addSignalListener("SIGINT", stop);
    console.log("ready");
    await queue.run(Deno.args.includes("--return-payload") ? sameBytesHandler() : acceptHandler());
  } finally {
    await diversion.remove().catch((e) => console.error(`removing diversion: ${e}`));
    queue.close();
  }
}

if (import.meta.main) await main();
