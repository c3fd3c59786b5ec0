/**
 * End to end, issue 16 point 5 ("Under attack", the fuzzed engine through the queue): while
 * a 64 MiB download runs through the VIP, a scapy stream of malformed packets
 * (`testkit/malformed_stream.py`: fuzzed IP/TCP/UDP/ICMP headers, lengths that lie, bad
 * checksums, bogus option lists, fragments, ICMP errors with garbage quotes) is sent at the
 * same VIP from the same client. The download completes byte-identical, the daemon lives and
 * answers, its packet handler never threw, and the malformed-packet counters moved.
 */
import assert from "node:assert/strict";
import { fullnatService, withBed } from "../../../testkit/bed.ts";
import type { Topology } from "../../../testkit/netns.ts";

const STREAM = new URL("../../../testkit/malformed_stream.py", import.meta.url).pathname;

Deno.test("e2e under attack: a download completes byte-identical while malformed packets hit the VIP", async () => {
  await withBed({ bulkBytes: 64 << 20 }, async (bed) => {
    await fullnatService(bed, bed.topo.addrs.localAddrs.slice(0, 2));
    const before = await bed.lb.status();
    const ipBefore = await ipStats(bed.topo);
    const seed = Date.now() % 100_000;
    console.log(`malformed stream seed ${seed}`);
    const stream = bed.topo.exec("client", [
      "/usr/bin/python3",
      STREAM,
      bed.vip,
      "80",
      "12",
      `${seed}`,
    ]);
    // Let the stream start (scapy takes a second to import), then download at a rate that
    // keeps the transfer inside the stream's window.
    await new Promise((r) => setTimeout(r, 2500));
    const t0 = performance.now();
    const download = await bed.topo.exec("client", [
      "sh",
      "-c",
      `curl -sS --limit-rate 12M --max-time 60 http://${bed.vip}${bed.nginx.bulkPath} | sha256sum`,
    ]);
    const seconds = (performance.now() - t0) / 1000;
    const sent = await stream;
    assert.equal(sent.code, 0, sent.stderr);
    const report = JSON.parse(sent.stdout) as { sent: number; kinds: Record<string, number> };
    assert.equal(download.code, 0, download.stderr);
    assert.equal(download.stdout.split(" ")[0], bed.nginx.bulkSha256, "download byte-identical");

    // The daemon lives, answers, and counted what it refused.
    const after = await bed.lb.status();
    const moved = (k: string) => (after.engine[k] ?? 0) - (before.engine[k] ?? 0);
    assert.equal(after.queue.handlerErrors ?? 0, 0, "the engine never threw");
    // IPv4 headers that lie (IHL, total length beyond the frame, header checksum) never reach
    // the queue: the kernel's ip_rcv drops them first and counts them; the rest the engine saw.
    const ipAfter = await ipStats(bed.topo);
    const kernelDropped = ipAfter.InHdrErrors - ipBefore.InHdrErrors;
    assert.ok(kernelDropped > 0, "the kernel dropped the IPv4 headers that lie");
    for (const k of ["malformedL4", "fragments", "otherProtocolDropped"]) {
      assert.ok(moved(k) > 0, `${k} did not move: ${JSON.stringify(after.engine)}`);
    }
    assert.ok(
      moved("icmpPassed") + moved("icmpNoSession") + moved("icmpMalformedQuote") > 0,
      "the ICMP errors were seen",
    );
    assert.match(await bed.lb.ipvsadmOk("-L", "-n"), new RegExp(`${bed.vip}:80`));
    const malformed = moved("malformedIp") + moved("malformedL4");
    console.log(
      `under attack: ${report.sent} malformed packets sent (${JSON.stringify(report.kinds)}); ` +
        `64 MiB downloaded intact in ${seconds.toFixed(1)} s; engine counted ${malformed} ` +
        `malformed (the kernel dropped ${kernelDropped} bad IPv4 headers before the queue), ` +
        `${moved("fragments")} fragments, ${moved("otherProtocolDropped")} other ` +
        `protocols dropped, ${moved("noSessionResets")} no-session resets; handler errors 0`,
    );
  });
});

/** The `Ip:` counters of `/proc/net/snmp` in the balancer's namespace. */
async function ipStats(topo: Topology): Promise<Record<string, number>> {
  const r = await topo.exec("lb", ["cat", "/proc/net/snmp"]);
  const [names, values] = r.stdout.split("\n").filter((l) => l.startsWith("Ip:"));
  const keys = names.split(/\s+/).slice(1);
  const nums = values.split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(keys.map((k, i) => [k, nums[i]]));
}
