/**
 * End to end, session sync between two real daemons: two topologies (the same address plan),
 * their `lb` namespaces joined by a veth link `sync0` (192.0.2.1 and .2). Daemon A runs
 * `ipvsadm --start-daemon master`, daemon B `--start-daemon backup`, on that link, over the
 * default multicast group 224.0.0.81:8848, messages signed with a shared key. A TCP connection
 * through A shows on B's `ipvsadm -L -n -c` with the same client, virtual, local and real
 * endpoints and state; a datagram forged on the link is counted by B and changes nothing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createTopology, type Topology } from "../../../testkit/netns.ts";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";
import { echoThroughBalancer, type LinePeer } from "../../../testkit/line_peer.ts";
import { waitFor } from "../../../testkit/wait.ts";

const PORT = 9300;

async function run(cmd: string[]): Promise<void> {
  const out = await new Deno.Command(cmd[0], { args: cmd.slice(1), stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Joins the two `lb` namespaces with a veth pair named sync0 on both sides. */
async function syncLink(a: Topology, b: Topology): Promise<void> {
  const tag = `${Deno.pid % 100000}`;
  await run(["ip", "link", "add", `sya${tag}`, "type", "veth", "peer", "name", `syb${tag}`]);
  for (
    const [topo, dev, addr] of [[a, `sya${tag}`, "192.0.2.1"], [
      b,
      `syb${tag}`,
      "192.0.2.2",
    ]] as const
  ) {
    await run(["ip", "link", "set", dev, "netns", topo.lb]);
    await run(["ip", "-n", topo.lb, "link", "set", dev, "name", "sync0"]);
    await run(["ip", "-n", topo.lb, "addr", "add", `${addr}/24`, "dev", "sync0"]);
    await run(["ip", "-n", topo.lb, "link", "set", "sync0", "up"]);
  }
}

/** `-L -n -c` rows without the expiry column: protocol, state, endpoints. */
async function rows(lb: Balancer): Promise<string[]> {
  const text = await lb.ipvsadmOk("-L", "-n", "-c");
  return text.split("\n").filter((l) => /^(TCP|UDP)/.test(l)).map((l) =>
    l.split(/\s+/).filter((_, i) => i !== 1).join(" ")
  );
}

Deno.test("e2e: sync: a master's session appears on the backup's -L -n -c", async () => {
  const a = await createTopology({ prefix: "fnsyncA" });
  let b: Topology | undefined;
  const dir = await Deno.makeTempDir({ prefix: "fullnat-sync-" });
  const peers: LinePeer[] = [];
  let lbA: Balancer | undefined;
  let lbB: Balancer | undefined;
  try {
    b = await createTopology({ prefix: "fnsyncB" });
    await syncLink(a, b);
    await Deno.writeTextFile(`${dir}/key`, "an e2e shared sync key\n");
    const args = ["--sync-key-file", `${dir}/key`];
    lbA = await startBalancer(a, args);
    lbB = await startBalancer(b, args);
    const { client } = await echoThroughBalancer(a, lbA, PORT, peers);
    const vip = a.addrs.vips[0];
    await lbB.ipvsadmOk("-A", "-t", `${vip}:${PORT}`, "-s", "rr");
    await lbB.ipvsadmOk(
      "-a",
      "-t",
      `${vip}:${PORT}`,
      "-r",
      `${b.addrs.realServers[0]}:${PORT}`,
      "-b",
    );
    await lbB.ipvsadmOk("-P", "-t", `${vip}:${PORT}`, "-z", b.addrs.localAddrs[0]);

    await lbB.ipvsadmOk("--start-daemon", "backup", "--mcast-interface", "sync0", "--syncid", "5");
    await lbA.ipvsadmOk("--start-daemon", "master", "--mcast-interface", "sync0", "--syncid", "5");
    assert.equal(
      await lbA.ipvsadmOk("-L", "--daemon"),
      "master sync daemon (mcast=sync0, syncid=5, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n",
    );
    assert.equal(
      await lbB.ipvsadmOk("-L", "--daemon"),
      "backup sync daemon (mcast=sync0, syncid=5, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n",
    );
    const again = await lbA.ipvsadm("--start-daemon", "master", "--mcast-interface", "sync0");
    assert.deepEqual([again.code, again.stderr], [255, "Daemon has already run\n"]);

    await client.say("open a");
    await client.expect(/opened a \d+/);
    await client.say("send a hello");
    await client.expect(/reply a hello \d+/);
    const onA = await rows(lbA);
    assert.equal(onA.length, 1, onA.join("\n"));
    assert.match(onA[0], /^TCP ESTABLISHED /);
    await waitFor(async () => (await rows(lbB!)).length === 1, {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    assert.deepEqual(await rows(lbB), onA);

    // A forged message on the sync link: counted by the backup, nothing installed.
    const forge = await new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        a.lb,
        "/usr/bin/python3",
        "-c",
        "import socket,struct;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);" +
        "s.setsockopt(socket.IPPROTO_IP,socket.IP_MULTICAST_IF,socket.inet_aton('192.0.2.1'));" +
        "e=struct.pack('!BBHIHHHHII4s4s4s',0,6,36,5,1,1,80,80,0,900,bytes(4),bytes(4),bytes(4));" +
        "s.sendto(struct.pack('!BBHBbH',0,5,8+len(e),1,1,0)+e,('224.0.0.81',8848))",
      ],
    }).output();
    assert(forge.success);
    await waitFor(async () => {
      const st = await lbB!.cli("status", "--json");
      const sync = JSON.parse(st.stdout).sync as { backup?: { refused: Record<string, number> } }[];
      return (sync[0].backup?.refused.unsigned ?? 0) >= 1;
    }, { timeoutMs: 5000, intervalMs: 100 });
    assert.equal((await rows(lbB)).length, 1);

    await lbA.ipvsadmOk("--stop-daemon", "master");
    assert.equal(await lbA.ipvsadmOk("-L", "--daemon"), "");
  } finally {
    for (const p of peers) await p.close();
    if (lbA) await lbA.stop();
    if (lbB) await lbB.stop();
    await a.destroy();
    await b?.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});
