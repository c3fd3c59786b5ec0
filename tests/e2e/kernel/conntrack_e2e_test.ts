/**
 * The conntrack fast path's kernel module on this kernel: entries created, dumped, listed by
 * `conntrack -L`, refused per entry on a clash, deleted, and their destroy events; then TCP
 * through an ESTABLISHED entry with a non-zero sequence delta, captured at both ends.
 */
import assert from "node:assert/strict";
import { LinePeer } from "../../../testkit/line_peer.ts";
import { run } from "../../../testkit/proc.ts";
import type { CtEntry, CtEvent, OffloadEntry } from "../../../src/kernel/conntrack/types.ts";

const PROBE = new URL("./conntrack_probe.ts", import.meta.url).pathname;

// deno-lint-ignore no-explicit-any
type Json = any;

async function ask(probe: LinePeer, cmd: unknown, timeoutMs = 15_000): Promise<Json> {
  await probe.say(JSON.stringify(cmd));
  const m = await probe.expect(/\{.*\}/, timeoutMs);
  const out = JSON.parse(m[0]);
  if (out.error !== undefined) throw new Error(`probe: ${out.error}`);
  return out;
}

function startProbe(ns: string): LinePeer {
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", ns, Deno.execPath(), "run", "-A", PROBE],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  return new LinePeer(child);
}

function tcpEntry(sport: number, lport: number, mark: number): OffloadEntry {
  return {
    orig: {
      protocol: "tcp",
      src: "198.51.100.2",
      dst: "198.51.100.10",
      srcPort: sport,
      dstPort: 80,
    },
    dnat: { address: "203.0.113.11", port: 8080 },
    snat: { address: "203.0.113.201", port: lport },
    seqAdjOrig: { correctionPos: 1000, offsetBefore: -123456, offsetAfter: -123456 },
    tcp: { wscaleOriginal: 7, wscaleReply: 9 },
    timeout: 300,
    mark,
  };
}

Deno.test("conntrack: batch create with per-entry EEXIST, dump by mark, conntrack -L, delete, destroy events", async () => {
  const ns = `fnct${Deno.pid}r${crypto.getRandomValues(new Uint32Array(1))[0].toString(16)}`;
  await run(["ip", "netns", "add", ns], { check: true });
  const probe = startProbe(ns);
  try {
    await run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.netfilter.nf_conntrack_acct=1"], {
      check: true,
    });
    await probe.expect(/\{"ready":true\}/);
    const v6: OffloadEntry = {
      orig: {
        protocol: "tcp",
        src: "2001:db8:a::2",
        dst: "2001:db8:a::10",
        srcPort: 41000,
        dstPort: 443,
      },
      dnat: { address: "2001:db8:b::11", port: 443 },
      snat: { address: "2001:db8:b::201", port: 6000 },
      seqAdjOrig: { correctionPos: 5, offsetBefore: 77, offsetAfter: 77 },
      tcp: { wscaleOriginal: 0, wscaleReply: 0, windowScale: false, sackPermitted: false },
      timeout: 300,
      mark: 0x5a01,
    };
    const udp: OffloadEntry = {
      orig: {
        protocol: "udp",
        src: "198.51.100.2",
        dst: "198.51.100.10",
        srcPort: 5353,
        dstPort: 53,
      },
      dnat: { address: "203.0.113.12", port: 53 },
      snat: { address: "203.0.113.202", port: 7000 },
      timeout: 300,
      mark: 0x5a02,
    };
    const a = tcpEntry(40000, 5000, 0x5a01);
    const b = tcpEntry(40001, 5001, 0x5a01);
    // Same original tuple as a: EEXIST. Another client port but a's SNAT port: the reply
    // tuple clashes, also EEXIST (min = max leaves the kernel no other port).
    const dupOrig = { ...tcpEntry(40000, 5099, 0x5a01) };
    const dupReply = tcpEntry(40002, 5000, 0x5a01);
    const other = tcpEntry(40003, 5003, 0x7777);
    const created = await ask(probe, {
      op: "create",
      entries: [a, b, dupOrig, v6, dupReply, udp, other],
    });
    assert.deepEqual(
      created.results.map((r: Json) => [r.ok, r.errno, r.reason]),
      [
        [true, 0, "created"],
        [true, 0, "created"],
        [false, 17, "exists"],
        [true, 0, "created"],
        [false, 17, "exists"],
        [true, 0, "created"],
        [true, 0, "created"],
      ],
    );
    const counters = await ask(probe, { op: "counters" });
    assert.equal(counters.ct.datagrams, 1, "the seven entries went in one datagram");
    assert.equal(counters.ct.created, 5);
    assert.equal(counters.ct.clashes, 2);

    // The dump filtered by mark 0x5a00/0xff00 returns the five of that family of marks.
    const dump: CtEntry[] = (await ask(probe, { op: "dump", mark: 0x5a00, mask: 0xff00 })).entries;
    assert.equal(dump.length, 4, JSON.stringify(dump));
    const byPort = new Map(dump.map((e) => [e.orig.srcPort, e]));
    const ea = byPort.get(40000)!;
    assert.deepEqual(ea.reply, {
      protocol: "tcp",
      src: "203.0.113.11",
      dst: "203.0.113.201",
      srcPort: 8080,
      dstPort: 5000,
    });
    assert.equal(ea.mark, 0x5a01);
    assert.equal(ea.tcpState, 3, "ESTABLISHED");
    // CONFIRMED|SEEN_REPLY|ASSURED as sent, SRC/DST_NAT(+DONE) from the NAT setup, SEQ_ADJUST
    // from the seqadj attribute.
    assert.equal(ea.status & 0x1fe, 0x1fe, `status ${ea.status.toString(16)}`);
    assert.deepEqual(ea.seqAdjOrig, {
      correctionPos: 1000,
      offsetBefore: -123456,
      offsetAfter: -123456,
    });
    assert.deepEqual(ea.countersOrig, { packets: "0", bytes: "0" });
    assert.ok(ea.timeout! > 290 && ea.timeout! <= 300);
    const e6 = byPort.get(41000)!;
    assert.deepEqual(e6.reply, {
      protocol: "tcp",
      src: "2001:db8:b::11",
      dst: "2001:db8:b::201",
      srcPort: 443,
      dstPort: 6000,
    });
    const eu = byPort.get(5353)!;
    assert.equal(eu.orig.protocol, "udp");
    assert.equal(eu.reply.srcPort, 53);
    assert.equal(eu.reply.dstPort, 7000);
    assert.equal(eu.tcpState, undefined);
    const all: CtEntry[] = (await ask(probe, { op: "dump", mark: 0, mask: 0 })).entries;
    assert.equal(all.length, 5);

    // conntrack-tools reads the same table.
    const listed = await run(["ip", "netns", "exec", ns, "conntrack", "-L", "-m", String(0x5a01)], {
      check: true,
    });
    const lines = listed.stdout.trim().split("\n");
    assert.equal(lines.length, 3, listed.stdout);
    const la = lines.find((l) => l.includes("sport=40000"))!;
    assert.match(
      la,
      /^tcp\s+6 \d+ ESTABLISHED src=198\.51\.100\.2 dst=198\.51\.100\.10 sport=40000 dport=80 packets=0 bytes=0 src=203\.0\.113\.11 dst=203\.0\.113\.201 sport=8080 dport=5000 packets=0 bytes=0 \[ASSURED\] mark=23041/,
    );

    // Delete: once, then ENOENT; a destroy event for it.
    assert.equal((await ask(probe, { op: "delete", tuple: a.orig })).errno, 0);
    assert.equal((await ask(probe, { op: "delete", tuple: a.orig })).errno, 2);
    const ev: CtEvent[] = (await ask(probe, { op: "wait", ms: 3000 })).events;
    assert.equal(ev.length, 1, JSON.stringify(ev));
    assert.equal(ev[0].type, "destroy");
    assert.deepEqual(ev[0].orig, a.orig);
    assert.equal(ev[0].reply.dstPort, 5000);
    assert.equal(ev[0].mark, 0x5a01);
    assert.deepEqual(ev[0].countersOrig, { packets: "0", bytes: "0" });

    // Expiry: a 1-second entry. The kernel's gc worker may take up to a minute to reap it
    // (its scan interval follows the table's average timeout), but a dump evicts expired
    // entries it walks over: the periodic reconciling dump also makes their destroy events.
    const short = { ...tcpEntry(40010, 5010, 0x5a03), timeout: 1 };
    assert.equal((await ask(probe, { op: "create", entries: [short] })).results[0].ok, true);
    await new Promise((r) => setTimeout(r, 1500));
    const left: CtEntry[] = (await ask(probe, { op: "dump", mark: 0x5a03, mask: 0xffff })).entries;
    assert.equal(left.length, 0, "expired: not dumped");
    const expired: CtEvent[] = (await ask(probe, { op: "wait", ms: 3000 })).events;
    assert.equal(expired.length, 1, JSON.stringify(expired));
    assert.equal(expired[0].type, "destroy");
    assert.equal(expired[0].orig.srcPort, 40010);

    // A malformed entry is refused before anything is sent.
    await probe.say(JSON.stringify({ op: "create", entries: [a, { ...b, timeout: 0 }] }));
    const refused = JSON.parse((await probe.expect(/\{.*\}/))[0]);
    assert.match(refused.error, /offload entry 1: timeout must be 1\.\.2147483647 seconds, got 0/);
    assert.equal((await ask(probe, { op: "dump", mark: 0x5a01, mask: 0xffff })).entries.length, 2);
  } finally {
    await probe.close();
    await run(["ip", "netns", "del", ns]);
  }
});
