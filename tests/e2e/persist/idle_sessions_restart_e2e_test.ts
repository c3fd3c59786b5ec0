/**
 * End to end, real traffic: 2,000 idle sessions (TCP over IPv4 and IPv6, UDP flows) through
 * a daemon with two workers each exchange data again after the daemon restarted in place
 * (the `restart` control op, what `fullnat restart` sends) and a new one took them over.
 */
import assert from "node:assert/strict";
import { ControlClient } from "../../../src/ctl/client.ts";
import { createTopology, type Topology } from "../../../testkit/netns.ts";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";
import { IDLE_FLEET } from "../../../testkit/idle_fleet.ts";

const PORT = 7000;

/** Reads `child`'s stdout up to a line matching `re`; returns its number. */
async function expectLine(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  re: RegExp,
  seen: { text: string },
): Promise<number> {
  const dec = new TextDecoder();
  for (;;) {
    const m = re.exec(seen.text);
    if (m) {
      seen.text = seen.text.slice(m.index + m[0].length);
      return Number(m[1]);
    }
    const { value, done } = await reader.read();
    if (done) throw new Error(`fleet ended before ${re}: ${seen.text}`);
    seen.text += dec.decode(value);
  }
}

function fleet(topo: Topology, proto: "tcp" | "udp", host: string, n: number) {
  const child = topo.spawn("client", [
    Deno.execPath(),
    "run",
    "-A",
    "--unstable-net",
    IDLE_FLEET,
    "client",
    proto,
    host,
    String(PORT),
    String(n),
  ], { stdin: "piped", stdout: "piped" });
  return {
    child,
    reader: child.stdout.getReader(),
    seen: { text: "" },
    n,
    what: `${proto} ${host}`,
  };
}

Deno.test("e2e: 2,000 idle TCP (IPv4, IPv6) and UDP sessions on 2 workers work again after a restart in place", async () => {
  const topo = await createTopology({ ipv6: true });
  const dir = await Deno.makeTempDir({ prefix: "fullnat-idle-" });
  const args = ["--run-dir", `${dir}/run`, "--state-dir", `${dir}/state`, "--workers", "2"];
  let lb: Balancer | undefined;
  try {
    const v6 = topo.addrs.v6!;
    const vip = topo.addrs.vips[0];
    const rs = topo.addrs.realServers[0];
    const server4 = topo.spawn("rs", [
      Deno.execPath(),
      "run",
      "-A",
      "--unstable-net",
      IDLE_FLEET,
      "server",
      rs,
      `${PORT}`,
    ], { stdout: "piped", stderr: "piped" });
    const server6 = topo.spawn("rs", [
      Deno.execPath(),
      "run",
      "-A",
      "--unstable-net",
      IDLE_FLEET,
      "server",
      v6.realServers[0],
      `${PORT}`,
    ], { stdout: "piped", stderr: "piped" });
    for (const s of [server4, server6]) {
      const reader = s.stdout.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      if (!/listening/.test(first)) {
        const err = await new Response(s.stderr).text();
        throw new Error(`echo server did not start: ${err}`);
      }
    }
    lb = await startBalancer(topo, args);
    for (
      const [flag, v, r, lip] of [
        ["-t", vip, rs, topo.addrs.localAddrs[0]],
        ["-u", vip, rs, topo.addrs.localAddrs[0]],
        ["-t", `[${v6.vips[0]}]`, `[${v6.realServers[0]}]`, v6.localAddrs[0]],
      ]
    ) {
      await lb.ipvsadmOk("-A", flag, `${v}:${PORT}`, "-s", "rr");
      await lb.ipvsadmOk("-a", flag, `${v}:${PORT}`, "-r", `${r}:${PORT}`, "-b");
      await lb.ipvsadmOk("-P", flag, `${v}:${PORT}`, "-z", lip);
    }
    const fleets = [
      fleet(topo, "tcp", vip, 1000),
      fleet(topo, "tcp", v6.vips[0], 500),
      fleet(topo, "udp", vip, 500),
    ];
    for (const f of fleets) {
      assert.equal(await expectLine(f.reader, /open (\d+)\n/, f.seen), f.n, `${f.what} opened`);
    }
    const before = await lb.status();
    assert.ok(before.sessions >= 2000, `sessions before: ${before.sessions}`);

    const client = await ControlClient.connect(lb.socket);
    try {
      assert.deepEqual((await client.call("restart") as { restarting: boolean }).restarting, true);
    } finally {
      client.close();
    }
    const status = await lb.exited();
    await lb.kill();
    assert.equal(status.code, 0, "the restarting daemon exited by itself, cleanly");
    assert.match(lb.log(), /stopping for a restart: rules and sessions kept/);
    lb = await startBalancer(topo, args);
    const took = [...lb.log().matchAll(/worker (\d): took over (\d+) session/g)];
    const total = took.reduce((n, m) => n + Number(m[2]), 0);
    // Each worker has its table; sessions sit where the steering put their first packet.
    assert.deepEqual(
      [...Deno.readDirSync(`${dir}/run`)].map((e) => e.name).sort(),
      ["worker-0.sessions", "worker-1.sessions"],
    );
    assert.ok(total >= 2000, `took over ${total}: ${lb.log()}`);

    for (const f of fleets) {
      const w = f.child.stdin.getWriter();
      await w.write(new TextEncoder().encode("go\n"));
      await w.close();
    }
    for (const f of fleets) {
      assert.equal(await expectLine(f.reader, /again (\d+)\n/, f.seen), f.n, `${f.what} again`);
      f.reader.releaseLock();
      await f.child.status;
    }
    console.log(`took over ${total} sessions, 2 workers: ${took.map((m) => m[0]).join(", ")}`);
  } finally {
    if (lb) await lb.stop();
    await topo.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});
