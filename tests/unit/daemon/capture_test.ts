/**
 * Captures without tcpdump: the pcap stream cut at the size limit on a packet boundary, the
 * request checks and the exact tcpdump argv, and the daemon side (file count, one at a time,
 * tcpdump refusing) with a fake process that plays tcpdump.
 */
import assert from "node:assert/strict";
import {
  type CaptureProcess,
  Captures,
  checkCaptureName,
  checkCaptureRequest,
  tcpdumpArgv,
} from "../../../src/daemon/capture.ts";
import { PcapLimiter } from "../../../src/daemon/pcap_limit.ts";

/** A pcap file header and `n` packets of `size` bytes, little-endian as tcpdump on x86. */
function pcap(n: number, size: number): Uint8Array {
  const out = new Uint8Array(24 + n * (16 + size));
  const v = new DataView(out.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, 262144, true);
  v.setUint32(20, 1, true);
  for (let i = 0; i < n; i++) {
    const off = 24 + i * (16 + size);
    v.setUint32(off, 1000 + i, true);
    v.setUint32(off + 8, size, true);
    v.setUint32(off + 12, size, true);
    out.fill(i + 1, off + 16, off + 16 + size);
  }
  return out;
}

Deno.test("PcapLimiter passes whole packets, however the stream is cut, up to the limit", () => {
  const stream = pcap(10, 100);
  const written: Uint8Array[] = [];
  // Room for the header and 4 packets (24 + 4 * 116 = 488), not 5.
  const lim = new PcapLimiter(500, (b) => written.push(b.slice()));
  let result = "more";
  for (let off = 0; off < stream.length && result === "more"; off += 7) {
    result = lim.push(stream.subarray(off, Math.min(off + 7, stream.length)));
  }
  assert.equal(result, "full");
  assert.equal(lim.packets, 4);
  assert.equal(lim.bytes, 488);
  const all = new Uint8Array(written.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const b of written) all.set(b, (o += b.length) - b.length);
  assert.deepEqual(all, stream.subarray(0, 488));
  assert.equal(lim.push(stream), "full");
  assert.throws(
    () => new PcapLimiter(100, () => {}).push(new Uint8Array(24).fill(7)),
    /not write pcap/,
  );
});

Deno.test("capture requests: names, interfaces and filter words are checked; argv is fixed", () => {
  const now = new Date("2026-12-06T15:00:00.123Z");
  const r = checkCaptureRequest({ interface: "eth1", filter: ["tcp", "port", "80"] }, now);
  assert.equal(r.name, "eth1-20261206T150000.pcap");
  assert.deepEqual(tcpdumpArgv({ ...r, packets: 5 }), [
    "tcpdump",
    "-i",
    "eth1",
    "-n",
    "-U",
    "-s",
    "262144",
    "-c",
    "5",
    "-w",
    "-",
    "--",
    "tcp",
    "port",
    "80",
  ]);
  assert.equal(
    checkCaptureRequest({ interface: "any", filter: [], name: "x" }, now).name,
    "x.pcap",
  );
  for (
    const bad of [
      { interface: "-w/etc/x", filter: [] },
      { interface: "eth0", filter: ["$(reboot)"] },
      { interface: "eth0", filter: ["'x'"] },
      { interface: "eth0", filter: [], name: "../x.pcap" },
      { interface: "eth0", filter: [], name: "a/b.pcap" },
      { interface: "eth0", filter: [], packets: 0 },
      { interface: "eth0", filter: [], megabytes: 101 },
      { interface: "eth0", filter: [], seconds: 1.5 },
      { interface: "eth0", filter: [], z: "/bin/sh" },
    ]
  ) {
    assert.throws(
      () => checkCaptureRequest(bad, now),
      /ControlError|must|not|cannot|does not/,
      JSON.stringify(bad),
    );
  }
  assert.throws(() => checkCaptureName("x.txt"));
});

/** A process that plays tcpdump: says it listens, writes `bytes`, then exits with `code`. */
function fakeTcpdump(bytes: Uint8Array, code = 0, stderr = "listening on eth0\n") {
  const argvs: string[][] = [];
  const kills: string[] = [];
  const spawn = (argv: string[]): CaptureProcess => {
    argvs.push(argv);
    let stop!: () => void;
    const stopped = new Promise<void>((r) => stop = r);
    const enc = new TextEncoder();
    return {
      stdout: new ReadableStream({
        async start(c) {
          if (stderr.includes("listening")) {
            for (let off = 0; off < bytes.length; off += 5000) {
              c.enqueue(bytes.slice(off, off + 5000));
            }
          }
          // A capture that is not over by packets runs until killed.
          if (code === -1) await stopped;
          c.close();
        },
      }),
      stderr: new ReadableStream({
        start(c) {
          c.enqueue(enc.encode(stderr));
          c.close();
        },
      }),
      status: (async () => {
        if (code === -1) await stopped;
        return { code: Math.max(code, 0) };
      })(),
      kill(sig) {
        kills.push(sig);
        stop();
      },
    };
  };
  return { spawn, argvs, kills };
}

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-capture-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("Captures: a capture cut at its size, one at a time, at most 10 files", () =>
  withDir(async (dir) => {
    const fake = fakeTcpdump(pcap(50, 100_000), -1);
    const logs: string[] = [];
    const c = new Captures({ dir: `${dir}/captures`, log: (m) => logs.push(m), spawn: fake.spawn });
    const f = await c.start({ interface: "eth0", filter: ["udp"], name: "a", megabytes: 1 });
    assert.equal(f.name, "a.pcap");
    assert.equal(f.running, true);
    await assert.rejects(() => c.start({ interface: "eth0", filter: [] }), /is running/);
    // The size limit ends it by itself.
    for (let i = 0; i < 50 && c.list().files[0].running; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const [done] = c.list().files;
    assert.equal(done.ended, "size");
    assert.equal(done.packets, 9);
    assert.equal(done.bytes, 24 + 9 * 100_016);
    assert.equal((await Deno.stat(`${dir}/captures/a.pcap`)).size, done.bytes);
    assert.deepEqual(fake.kills, ["SIGTERM"]);
    assert.equal(c.counters.endedBySize, 1);
    assert.equal(((await Deno.stat(`${dir}/captures/a.pcap`)).mode ?? 0) & 0o777, 0o640);

    for (let i = 0; i < 9; i++) {
      await Deno.writeFile(`${dir}/captures/f${i}.pcap`, new Uint8Array());
    }
    await assert.rejects(() => c.start({ interface: "eth0", filter: [] }), /at most 10/);
    assert.deepEqual(c.delete("f0.pcap"), { deleted: "f0.pcap" });
    assert.throws(() => c.delete("f0.pcap"), /no capture file f0\.pcap/);
    assert.throws(() => c.delete("../captures/a.pcap"), /not a capture file name/);
    await assert.rejects(() => c.start({ interface: "eth0", filter: [], name: "a" }), /exists/);
  }));

Deno.test("Captures: tcpdump refusing a filter is the start's error; stop ends a capture", () =>
  withDir(async (dir) => {
    const refusing = fakeTcpdump(
      new Uint8Array(),
      1,
      "tcpdump: syntax error in filter expression\n",
    );
    const c = new Captures({ dir, log: () => {}, spawn: refusing.spawn });
    await assert.rejects(
      () => c.start({ interface: "eth0", filter: ["tcp", "prt"] }),
      /tcpdump refused: tcpdump: syntax error in filter expression/,
    );
    assert.deepEqual(c.list().files, [], "no file left behind");

    const running = fakeTcpdump(pcap(3, 60), -1);
    const d = new Captures({ dir, log: () => {}, spawn: running.spawn });
    await d.start({ interface: "eth0", filter: [], name: "s.pcap" });
    await assert.rejects(() => d.stop("t.pcap"), /is not running/);
    const stopped = await d.stop();
    assert.equal(stopped.ended, "stopped");
    assert.equal(stopped.packets, 3);
    await assert.rejects(() => d.stop(), /no capture is running/);
  }));
