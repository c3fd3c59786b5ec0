/**
 * End to end, real traffic: 2,500 idle sessions (FULLNAT TCP over IPv4 and IPv6 and UDP flows,
 * NAT TCP over IPv4 and IPv6) through a daemon with one worker, and with two (the UDP flows
 * come from a second client address, which the steering sends to the second worker), each
 * exchange data again after the daemon restarted in place (the `restart` control op, what
 * `fullnat restart` sends) and a new one took them over; the counters go on from where they
 * were.
 */
import assert from "node:assert/strict";
import { ControlClient } from "../../../src/ctl/client.ts";
import { createTopology, type Topology } from "../../../testkit/netns.ts";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";
import { IDLE_FLEET } from "../../../testkit/idle_fleet.ts";

const PORT = 7000;
const NAT_PORT = 7001;
/** A second client address: sessions are steered to workers by the client's address. */
const SECOND_CLIENT = "198.51.100.3";
/** Sessions of the fleets: FULLNAT TCP v4, v6, UDP; NAT TCP v4, v6. */
const TOTAL = 1000 + 500 + 500 + 300 + 200;

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

function fleet(
  topo: Topology,
  proto: "tcp" | "udp",
  host: string,
  n: number,
  port = PORT,
  source?: string,
) {
  const child = topo.spawn("client", [
    Deno.execPath(),
    "run",
    "-A",
    "--unstable-net",
    IDLE_FLEET,
    "client",
    proto,
    host,
    String(port),
    String(n),
    ...(source === undefined ? [] : [source]),
  ], { stdin: "piped", stdout: "piped" });
  return {
    child,
    reader: child.stdout.getReader(),
    seen: { text: "" },
    n,
    what: `${proto} ${host}:${port}`,
  };
}

for (const workers of [1, 2]) {
  Deno.test(`e2e: 2,500 idle FULLNAT and NAT TCP (IPv4, IPv6) and UDP sessions on ${workers} worker(s) work again after a restart in place; counters carry over`, () =>
    idleFleetRestart(workers));
}

async function idleFleetRestart(workers: number): Promise<void> {
  // NAT mode: the real server answers the client directly, through the balancer.
  const topo = await createTopology({ ipv6: true, rsDefaultViaLb: true });
  const dir = await Deno.makeTempDir({ prefix: "fullnat-idle-" });
  const args = [
    "--run-dir",
    `${dir}/run`,
    "--state-dir",
    `${dir}/state`,
    "--workers",
    String(workers),
  ];
  let lb: Balancer | undefined;
  try {
    const v6 = topo.addrs.v6!;
    const vip = topo.addrs.vips[0];
    const rs = topo.addrs.realServers[0];
    await topo.exec("client", [
      "ip",
      "addr",
      "add",
      `${SECOND_CLIENT}/32`,
      "dev",
      topo.ifaces.client,
    ], {
      check: true,
    });
    // One echo server per family on the real server.
    const servers = [rs, v6.realServers[0]].map((address) =>
      topo.spawn("rs", [
        Deno.execPath(),
        "run",
        "-A",
        "--unstable-net",
        IDLE_FLEET,
        "server",
        address,
        `${PORT}`,
      ], { stdout: "piped", stderr: "piped" })
    );
    for (const s of servers) {
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
    // The same echo servers behind NAT services on the next port.
    for (const [v, r] of [[vip, rs], [`[${v6.vips[0]}]`, `[${v6.realServers[0]}]`]]) {
      await lb.ipvsadmOk("-A", "-t", `${v}:${NAT_PORT}`, "-s", "rr");
      await lb.ipvsadmOk("-a", "-t", `${v}:${NAT_PORT}`, "-r", `${r}:${PORT}`, "-m");
    }
    const fleets = [
      fleet(topo, "tcp", vip, 1000),
      fleet(topo, "tcp", v6.vips[0], 500),
      // From a second client address, which the steering sends to the other worker.
      fleet(topo, "udp", vip, 500, PORT, SECOND_CLIENT),
      fleet(topo, "tcp", vip, 300, NAT_PORT),
      fleet(topo, "tcp", v6.vips[0], 200, NAT_PORT),
    ];
    for (const f of fleets) {
      assert.equal(await expectLine(f.reader, /open (\d+)\n/, f.seen), f.n, `${f.what} opened`);
    }
    const before = await lb.status();
    assert.ok(before.sessions >= TOTAL, `sessions before: ${before.sessions}`);

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
      [
        "sysctls.json",
        ...Array.from(
          { length: workers },
          (_, i) => [`worker-${i}.counters`, `worker-${i}.sessions`],
        ).flat(),
      ],
    );
    assert.ok(total >= TOTAL, `took over ${total}: ${lb.log()}`);
    assert.deepEqual(
      took.map((m) => m[1]).sort(),
      Array.from({ length: workers }, (_, i) => String(i)),
      "every worker took sessions over",
    );
    // The counters go on from where they were: no session is created after the restart.
    assert.match(lb.log(), /worker 0: counters carried over: \d+ engine counter/);
    const after = await lb.status();
    assert.ok(
      after.engine.sessionsCreated >= before.engine.sessionsCreated &&
        after.engine.packets >= before.engine.packets,
      `created ${before.engine.sessionsCreated} -> ${after.engine.sessionsCreated}, packets ` +
        `${before.engine.packets} -> ${after.engine.packets}`,
    );
    const stats = await lb.ipvsadmOk("-L", "-n", "--stats");
    assert.match(
      stats,
      new RegExp(`TCP\\s+${vip.replaceAll(".", "\\.")}:${PORT}\\s+1000\\s`),
      stats,
    );

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
    console.log(
      `took over ${total} sessions (FULLNAT and NAT), ${workers} worker(s): ${
        took.map((m) => m[0]).join(", ")
      }`,
    );
  } finally {
    if (lb) await lb.stop();
    await topo.destroy();
    await Deno.remove(dir, { recursive: true });
  }
}
