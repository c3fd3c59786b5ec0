import assert from "node:assert/strict";
import { run } from "../../../testkit/proc.ts";

const PROBE = new URL("./raw_sender_probe.ts", import.meta.url).pathname;

Deno.test("RawSender.send() delivers crafted IPv4 and IPv6 UDP packets and counts failures", async () => {
  const ns = `fnraw${Deno.pid}r${crypto.getRandomValues(new Uint32Array(1))[0].toString(16)}`;
  await run(["ip", "netns", "add", ns], { check: true });
  try {
    await run(["ip", "-n", ns, "link", "set", "lo", "up"], { check: true });
    const r = await run(["ip", "netns", "exec", ns, Deno.execPath(), "run", "-A", PROBE]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
    assert.equal(out.ok4, true);
    assert.equal(out.ok6, true);
    assert.ok(out.results, "both packets arrived within 3 s");
    const [m4, m6] = out.results;
    assert.deepEqual(m4, { data: "hello over raw ipv4", from: "127.0.0.1", port: 40000 });
    assert.deepEqual(m6, { data: "hello over raw ipv6", from: "::1", port: 40001 });
    assert.deepEqual(out.after, { sent: 2, sendErrors: 0, lastErrno: 0 });

    assert.equal(out.failJunk, false);
    assert.equal(out.failLen, false);
    assert.equal(out.failRoute, false);
    assert.equal(out.failed.sent, 2);
    assert.equal(out.failed.sendErrors, 3);
    assert.equal(out.failed.lastErrno, 101, "ENETUNREACH from the kernel for 192.0.2.1");
    assert.equal(out.afterClose, false);
  } finally {
    await run(["ip", "netns", "del", ns]);
  }
});
