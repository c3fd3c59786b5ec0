/**
 * The daemon's queue limits (`--queue-maxlen`, `--queue-buffer`) reach the kernel: with the
 * daemon frozen (SIGSTOP), a UDP burst piles up in its queue up to the length limit, the rest
 * is dropped by the kernel and counted, and once thawed the daemon forwards every queued
 * datagram to the real server. Bad values are refused before anything is set up.
 */
import assert from "node:assert/strict";
import { freezeNamespace, queuesSeenBy } from "../../../testkit/freeze.ts";
import { addInputCounter } from "../../../testkit/iptables_counter.ts";
import { createTopology, type Topology } from "../../../testkit/netns.ts";
import { udpFlood } from "../../../testkit/udp.ts";
import { waitFor } from "../../../testkit/wait.ts";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";

const MAIN = new URL("../../../main.ts", import.meta.url).pathname;
const PORT = 5300;

async function daemonRefuses(args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "daemon",
      "--socket",
      "/nonexistent/x.sock",
      "--no-persist",
      "--no-run-dir",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.notEqual(out.code, 0, `daemon ${args.join(" ")} started`);
  return new TextDecoder().decode(out.stderr);
}

Deno.test("daemon: --queue-maxlen and --queue-buffer out of range are refused with the flag named", async () => {
  assert.match(
    await daemonRefuses(["--queue-maxlen", "0"]),
    /--queue-maxlen must be from 1 to 16777216 \(got 0\)/,
  );
  assert.match(
    await daemonRefuses(["--queue-buffer", "2048"]),
    /--queue-buffer must be from 1 to 1024 \(got 2048\)/,
  );
  assert.match(await daemonRefuses(["--queue-maxlen", "lots"]), /--queue-maxlen must be a whole/);
});

/** Freezes the daemon, sends `count` datagrams, and returns what its queue holds. */
async function burstInto(topo: Topology, count: number) {
  const frozen = await freezeNamespace(topo.lb);
  try {
    const flood = await udpFlood(
      topo.client,
      topo.addrs.vips[0],
      PORT,
      count,
      64,
      topo.addrs.client,
    );
    assert.equal(flood.sent, count, JSON.stringify(flood));
    const table = queuesSeenBy(frozen.pids[0]);
    assert.equal(table.length, 1, JSON.stringify(table));
    return { frozen, queue: table[0] };
  } catch (e) {
    frozen.thaw();
    throw e;
  }
}

async function withUdpService(
  extraArgs: string[],
  body: (topo: Topology, lb: Balancer, arrived: () => Promise<number>) => Promise<void>,
): Promise<void> {
  const topo = await createTopology({});
  let lb: Balancer | undefined;
  let code: number | undefined;
  try {
    const counter = await addInputCounter(
      topo,
      "rs",
      ["-p", "udp", "--dport", String(PORT)],
      "fullnat-queue-limits",
      { drop: true },
    );
    const arrived = () => counter.count();
    lb = await startBalancer(topo, ["--no-persist", ...extraArgs]);
    const vip = topo.addrs.vips[0];
    await lb.ipvsadmOk("-A", "-u", `${vip}:${PORT}`, "-s", "rr");
    await lb.ipvsadmOk("-a", "-u", `${vip}:${PORT}`, "-r", `${topo.addrs.realServers[0]}:${PORT}`);
    await lb.ipvsadmOk("-P", "-u", `${vip}:${PORT}`, "-z", topo.addrs.localAddrs[0]);
    await body(topo, lb, arrived);
  } finally {
    code = await lb?.stop();
    await topo.destroy();
  }
  assert.equal(code, 0, `daemon exit code:\n${lb?.log()}`);
}

Deno.test("daemon --queue-maxlen 40: a burst at a frozen daemon queues 40, the kernel drops and counts the rest, all 40 are forwarded after", async () => {
  await withUdpService(["--queue-maxlen", "40"], async (topo, lb, arrived) => {
    const { frozen, queue } = await burstInto(topo, 100);
    frozen.thaw();
    assert.equal(queue.queueTotal, 40, JSON.stringify(queue));
    assert.equal(queue.queueDropped, 60, JSON.stringify(queue));
    assert.equal(queue.userDropped, 0, JSON.stringify(queue));
    await waitFor(async () => (await arrived()) === 40, { timeoutMs: 5000, what: "40 arrivals" });
    const status = await lb.status() as unknown as {
      engine: Record<string, number>;
      kernel: { queueDropped: number; queueTotal: number };
    };
    assert.equal(status.engine.forwarded, 40);
    assert.equal(status.kernel.queueDropped, 60, "status shows the kernel's drops");
    assert.equal(status.kernel.queueTotal, 0);
  });
});

Deno.test("daemon default queue length holds a 3000-packet burst the kernel's default (1024) would cut", async () => {
  await withUdpService([], async (topo, _lb, arrived) => {
    const { frozen, queue } = await burstInto(topo, 3000);
    frozen.thaw();
    assert.equal(queue.queueTotal, 3000, JSON.stringify(queue));
    assert.equal(queue.queueDropped + queue.userDropped, 0, JSON.stringify(queue));
    await waitFor(async () => (await arrived()) === 3000, { timeoutMs: 5000, what: "arrivals" });
  });
});
