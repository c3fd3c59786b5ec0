/**
 * The diversion against real iptables/ip6tables (nf_tables backend) in a throwaway
 * namespace: install, reinstall, update, crash takeover and removal.
 */

import assert from "node:assert/strict";
import type { DiversionSpec } from "../../../src/fullnat/types.ts";
import { Diversion } from "../../../src/kernel/diversion.ts";
import { sh, shCode } from "../../../testkit/queue_topology.ts";

const NS = `fnq-${Deno.pid}-div`;

const rawTable = async (tool: string) =>
  await sh("ip", "netns", "exec", NS, tool, "-t", "raw", "-S");

const spec1: DiversionSpec = {
  services: [
    { protocol: "tcp", address: "10.0.0.1", port: 80 },
    { protocol: "udp", address: "2001:db8::1", port: 53 },
  ],
  localAddresses: ["192.168.10.1"],
  natRealServers: [{ protocol: "tcp", address: "192.168.20.5", port: 8080 }],
};

const spec2: DiversionSpec = {
  services: [{ protocol: "udp", address: "10.0.0.2", port: 5353 }],
  localAddresses: [],
  natRealServers: [],
};

Deno.test("diversion: install/update/remove leave the raw table exactly as before", async () => {
  await sh("ip", "netns", "add", NS);
  try {
    // Someone else's rules must survive untouched, and ours go first.
    await sh("ip", "netns", "exec", NS, "iptables", "-t", "raw", "-A", "PREROUTING", "-p", "icmp");
    await sh("ip", "netns", "exec", NS, "ip6tables", "-t", "raw", "-A", "PREROUTING", "-p", "udp");
    const before4 = await rawTable("iptables");
    const before6 = await rawTable("ip6tables");

    const d = new Diversion({ queueNum: 4, prefix: "FNQD", netns: NS });
    await d.install(spec1);
    await d.install(spec1); // twice: harmless
    const after4 = await rawTable("iptables");
    assert.equal(
      after4,
      [
        "-P PREROUTING ACCEPT",
        "-P OUTPUT ACCEPT",
        "-N FNQD",
        "-N FNQD-DIVERT",
        "-A PREROUTING -j FNQD",
        "-A PREROUTING -p icmp",
        "-A FNQD -d 10.0.0.1/32 -p tcp -m tcp --dport 80 -j FNQD-DIVERT",
        "-A FNQD -d 10.0.0.1/32 -f -j FNQD-DIVERT",
        "-A FNQD -d 10.0.0.1/32 -p tcp -j RETURN",
        "-A FNQD -d 10.0.0.1/32 -p udp -j RETURN",
        "-A FNQD -d 10.0.0.1/32 -j FNQD-DIVERT",
        "-A FNQD -d 192.168.10.1/32 -j FNQD-DIVERT",
        "-A FNQD -s 192.168.20.5/32 -p tcp -m tcp --sport 8080 -j FNQD-DIVERT",
        "-A FNQD -s 192.168.20.5/32 -p icmp -j FNQD-DIVERT",
        "-A FNQD-DIVERT -j CT --notrack",
        "-A FNQD-DIVERT -j NFQUEUE --queue-num 4",
        "",
      ].join("\n"),
    );
    const after6 = await rawTable("ip6tables");
    assert.ok(after6.includes("-A PREROUTING -j FNQD\n-A PREROUTING -p udp\n"), after6);
    assert.ok(
      after6.includes("-A FNQD -d 2001:db8::1/128 -p udp -m udp --dport 53 -j FNQD-DIVERT"),
      after6,
    );
    assert.ok(after6.includes("--icmpv6-type 135 -j RETURN"), after6);

    // Update replaces the targets.
    await d.update(spec2);
    const updated = await d.installed("ipv4");
    assert.deepEqual(updated?.rules, [
      "-A FNQD -d 10.0.0.2/32 -p udp -m udp --dport 5353 -j FNQD-DIVERT",
      "-A FNQD -d 10.0.0.2/32 -f -j FNQD-DIVERT",
      "-A FNQD -d 10.0.0.2/32 -p tcp -j RETURN",
      "-A FNQD -d 10.0.0.2/32 -p udp -j RETURN",
      "-A FNQD -d 10.0.0.2/32 -j FNQD-DIVERT",
      "-A FNQD-DIVERT -j CT --notrack",
      "-A FNQD-DIVERT -j NFQUEUE --queue-num 4",
    ]);
    assert.equal(updated?.hooks, 1);
    assert.ok(!(await rawTable("ip6tables")).includes("2001:db8::1"));

    // A new daemon (after a crash) takes the leftover chains over, fail-open this time.
    const d2 = new Diversion({ queueNum: 5, prefix: "FNQD", netns: NS, failOpen: true });
    await d2.install(spec1);
    const taken = await d2.installed("ipv4");
    assert.equal(taken?.hooks, 1);
    assert.ok(taken?.rules.includes("-A FNQD-DIVERT -j NFQUEUE --queue-num 5 --queue-bypass"));
    assert.equal(taken?.rules.length, 10);

    // Another daemon's diversion beside ours is independent.
    const other = new Diversion({ queueNum: 6, prefix: "FNQO", netns: NS });
    await other.install(spec2);

    await d2.remove();
    await d2.remove(); // twice: harmless
    await d.remove(); // the first instance too
    assert.equal((await other.installed("ipv4"))?.hooks, 1);
    await other.remove();

    assert.equal(await rawTable("iptables"), before4);
    assert.equal(await rawTable("ip6tables"), before6);
  } finally {
    await shCode("ip", "netns", "del", NS);
  }
});

Deno.test("diversion: invalid specs are refused without touching iptables", async () => {
  const d = new Diversion({ queueNum: 1, prefix: "FNQX", netns: `fnq-${Deno.pid}-none` });
  await assert.rejects(
    d.install({ services: [], localAddresses: ["10.0.0.1; reboot"], natRealServers: [] }),
    RangeError,
  );
  assert.throws(() => new Diversion({ queueNum: 70000 }), RangeError);
  assert.throws(() => new Diversion({ queueNum: 1, prefix: "no spaces" }), RangeError);
});

Deno.test("diversion with 3 workers: real iptables takes the steering rules; going back to 1 deletes them", async () => {
  const ns = `${NS}w`;
  const raw = async () => await sh("ip", "netns", "exec", ns, "iptables", "-t", "raw", "-S");
  await sh("ip", "netns", "add", ns);
  try {
    const before = await raw();
    const many = new Diversion({ queueNum: 10, prefix: "FNQW", netns: ns, workers: 3 });
    await many.install(spec1);
    const text = await raw();
    for (const chain of ["FNQW-C", "FNQW-L", "FNQW-R", "FNQW-W0", "FNQW-W1", "FNQW-W2"]) {
      assert.ok(text.includes(`-N ${chain}\n`), `${chain} missing:\n${text}`);
    }
    assert.match(text, /-A FNQW-C -m u32 --u32 "0xc&0xf=0x6:0xa" -j FNQW-W1/);
    assert.match(text, /-A FNQW-W2 -j NFQUEUE --queue-num 12/);
    assert.match(text, /-A FNQW -d 192\.168\.10\.1\/32 -j FNQW-L/);

    const one = new Diversion({ queueNum: 10, prefix: "FNQW", netns: ns });
    await one.install(spec1);
    const single = await raw();
    assert.doesNotMatch(single, /FNQW-(C|L|R|W\d)/);
    assert.match(single, /-A FNQW-DIVERT -j NFQUEUE --queue-num 10/);
    await one.remove();
    assert.equal(await raw(), before);
  } finally {
    await shCode("ip", "netns", "del", ns);
  }
});
