/**
 * Opening a queue: clear errors when the queue is taken or permission is missing, and the
 * run/stop/close life cycle. Each case runs in a throwaway namespace.
 */

import assert from "node:assert/strict";
import { lines, sh, shCode } from "../../../testkit/queue_topology.ts";

const PROBE = new URL("./open_probe.ts", import.meta.url).pathname;

async function withNamespace(tag: string, fn: (ns: string) => Promise<void>): Promise<void> {
  const ns = `fnq-${Deno.pid}-${tag}`;
  await sh("ip", "netns", "add", ns);
  try {
    await fn(ns);
  } finally {
    await shCode("ip", "netns", "del", ns);
  }
}

async function probe(ns: string, queueNum: number, mode: string, ...prefix: string[]) {
  const out = await sh(
    "ip",
    ...["netns", "exec", ns, ...prefix, Deno.execPath(), "run", "-A", PROBE],
    ...[String(queueNum), mode],
  );
  return JSON.parse(out.trim().split("\n").pop()!);
}

Deno.test("a queue held by another process: the error says so", async () => {
  await withNamespace("busy", async (ns) => {
    const holder = new Deno.Command("ip", {
      args: ["netns", "exec", ns, Deno.execPath(), "run", "-A", PROBE, "9", "hold"],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    try {
      const first = await lines(holder.stdout).next();
      const held = JSON.parse(first.value!);
      assert.equal(held.ok, true);
      const r = await probe(ns, 9, "once");
      assert.equal(r.name, "NfQueueOpenError");
      assert.match(r.error, /NFQUEUE 9 is already bound by another socket/);
      assert.match(r.error, new RegExp(`port id ${held.portId}`));
      assert.match(r.error, /another queue number/);
      // Another number is free.
      const other = await probe(ns, 10, "once");
      assert.equal(other.ok, true);
      assert.equal(other.kernel.copyMode, 2);
      assert.equal(other.kernel.copyRange, 65531);
    } finally {
      await holder.stdin.close();
      await holder.status;
    }
  });
});

Deno.test("without CAP_NET_ADMIN: the error says root is needed", async () => {
  await withNamespace("nocap", async (ns) => {
    const r = await probe(
      ns,
      3,
      "once",
      "setpriv",
      "--bounding-set=-net_admin",
      "--inh-caps=-net_admin",
    );
    assert.equal(r.name, "NfQueueOpenError");
    assert.match(r.error, /permission denied binding NFQUEUE 3: this needs root/);
  });
});

Deno.test("run/stop/close life cycle", async () => {
  await withNamespace("life", async (ns) => {
    const r = await probe(ns, 11, "lifecycle");
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.running, true);
    assert.match(r.secondRun, /already has a running loop/);
    assert.ok(r.stopMs < 600, `stop took ${r.stopMs} ms`);
    assert.equal(r.afterClose, null);
    assert.match(r.runAfterClose, /closed/);
    assert.equal(r.reopened, true);
  });
});
