/**
 * The TOA shim seen from a C server (tests/e2e/rs/probe_server.c) in a namespace pair, with real
 * TCP connections: scapy ones whose SYN carries TOA, and plain kernel ones (bash /dev/tcp).
 * Covers accept() and accept4(), getpeername() with and without an accept address, short
 * buffers, errno, fd reuse, threads, IPv6 and v4-mapped clients, the trust list and the log.
 *
 * The `client` and `lb` namespaces of the standard topology serve as the pair; no balancer
 * runs here.
 */
import assert from "node:assert/strict";
import { createTopology, type Topology } from "../../../testkit/netns.ts";
import { run } from "../../../testkit/proc.ts";
import { waitFor } from "../../../testkit/wait.ts";
import { buildShim, dropClientResets, toaClient, toaOption } from "../../../testkit/toa_support.ts";

const SRC = new URL("./probe_server.c", import.meta.url).pathname;
const CLIENT6 = "2001:db8:a::2";
const SERVER6 = "2001:db8:a::1";

interface ProbeLine {
  fd: number;
  accept: string;
  alen: number;
  peer: string;
  plen: number;
  short: string;
  errno: string;
}

function parseLine(line: string): ProbeLine {
  const f = Object.fromEntries(
    line.trim().split(" ").map((kv) => {
      const i = kv.indexOf("=");
      return [kv.slice(0, i), kv.slice(i + 1)];
    }),
  );
  if (f.fd === undefined) throw new Error(`not a probe line: ${JSON.stringify(line)}`);
  return {
    fd: Number(f.fd),
    accept: f.accept,
    alen: Number(f.alen),
    peer: f.peer,
    plen: Number(f.plen),
    short: f.short,
    errno: f.errno,
  };
}

interface Probe {
  stop(): Promise<string>;
}

interface Bed {
  topo: Topology;
  shim: string;
  probeBin: string;
  dir: string;
}

let nextPort = 9000;

async function startProbe(
  bed: Bed,
  opts: {
    addr?: string;
    accept?: string;
    close?: string;
    threads?: number;
    env?: Record<string, string>;
  },
): Promise<{ probe: Probe; port: number }> {
  const port = nextPort++;
  const addr = opts.addr ?? bed.topo.addrs.lbA;
  const child = bed.topo.spawn("lb", [
    bed.probeBin,
    addr,
    String(port),
    opts.accept ?? "accept4",
    opts.close ?? "close",
    String(opts.threads ?? 1),
  ], { env: { LD_PRELOAD: bed.shim, ...opts.env }, stderr: "piped" });
  let stderr = "";
  const pump = (async () => {
    for await (const c of child.stderr.pipeThrough(new TextDecoderStream())) stderr += c;
  })();
  const want = addr.includes(":") ? `[${addr}]:${port}` : `${addr}:${port}`;
  await waitFor(async () => {
    const ss = await bed.topo.exec("lb", ["ss", "-Hltn"]);
    return ss.stdout.split("\n").some((l) => l.trim().split(/\s+/)[3] === want);
  }, { timeoutMs: 5000, what: `probe listening on ${want}` });
  return {
    port,
    probe: {
      async stop() {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
        await child.status;
        await pump;
        return stderr;
      },
    },
  };
}

/** A plain kernel TCP connection from `client`: sends a line, returns the answer. */
async function plain(bed: Bed, dst: string, port: number): Promise<ProbeLine> {
  const res = await bed.topo.exec("client", [
    "timeout",
    "5",
    "bash",
    "-c",
    `exec 3<>/dev/tcp/${dst}/${port}; echo hello >&3; cat <&3`,
  ]);
  assert.equal(res.code, 0, res.stderr);
  return parseLine(res.stdout);
}

/** Scapy connections from `client`, one per TOA; returns the answers in the same order. */
async function withToa(
  bed: Bed,
  dst: string,
  port: number,
  toas: { addr: string; port: number }[],
  sportBase = 61000,
): Promise<ProbeLine[]> {
  const src = dst.includes(":") ? CLIENT6 : bed.topo.addrs.client;
  const results = await toaClient(bed.topo.client, {
    src,
    dst,
    dport: port,
    conns: toas.map((t, i) => ({
      sport: sportBase + i,
      options: [toaOption(t.addr, t.port)],
      payload: "hello\n",
    })),
  });
  return results.map((r) => {
    assert.ok(r.ok, `sport ${r.sport}: ${r.error}`);
    return parseLine(r.response);
  });
}

Deno.test("libfullnat_toa reports the TOA client to a C server and leaves other connections alone", async (t) => {
  const shim = await buildShim();
  const dir = await Deno.makeTempDir({ prefix: "fullnat-toa-probe-" });
  const probeBin = `${dir}/probe_server`;
  await run(["gcc", "-O1", "-Wall", "-pthread", "-o", probeBin, SRC], { check: true });
  const topo = await createTopology({ prefix: "fntoa" });
  const bed: Bed = { topo, shim, probeBin, dir };
  const client = topo.addrs.client;
  const server = topo.addrs.lbA;
  try {
    await topo.exec("client", ["ip", "addr", "replace", `${CLIENT6}/64`, "dev", "eth0", "nodad"], {
      check: true,
    });
    await topo.exec("lb", ["ip", "addr", "replace", `${SERVER6}/64`, "dev", "eth0", "nodad"], {
      check: true,
    });
    await dropClientResets(topo.client);
    await dropClientResets(topo.client, true);

    await t.step(
      "accept4() and getpeername() report the TOA; errno and short buffers as libc's",
      async () => {
        const { probe, port } = await startProbe(bed, {});
        try {
          const [r] = await withToa(bed, server, port, [{ addr: "192.0.2.77", port: 4242 }]);
          assert.deepEqual(
            { accept: r.accept, alen: r.alen, peer: r.peer, plen: r.plen },
            { accept: "192.0.2.77:4242", alen: 16, peer: "192.0.2.77:4242", plen: 16 },
          );
          assert.equal(r.short, "ok", "getpeername into 4 bytes: full length, prefix bytes");
          assert.equal(r.errno, "ok", "errno unchanged by successful calls");
          // The same socket number, closed, then reused by a connection without TOA.
          const p = await plain(bed, server, port);
          assert.equal(p.fd, r.fd, "the fd number is reused");
          assert.match(p.accept, new RegExp(`^${client.replaceAll(".", "\\.")}:\\d+$`));
          assert.equal(p.peer, p.accept);
          assert.equal(p.errno, "ok");
        } finally {
          await probe.stop();
        }
      },
    );

    await t.step("accept() (not accept4) reports the TOA", async () => {
      const { probe, port } = await startProbe(bed, { accept: "accept" });
      try {
        const [r] = await withToa(bed, server, port, [{ addr: "192.0.2.78", port: 1 }]);
        assert.equal(r.accept, "192.0.2.78:1");
        assert.equal(r.peer, "192.0.2.78:1");
      } finally {
        await probe.stop();
      }
    });

    await t.step("accept4(fd, NULL, NULL) then getpeername() reports the TOA", async () => {
      const { probe, port } = await startProbe(bed, { accept: "accept-null" });
      try {
        const [r] = await withToa(bed, server, port, [{ addr: "192.0.2.79", port: 65535 }]);
        assert.equal(r.accept, "none");
        assert.equal(r.peer, "192.0.2.79:65535");
      } finally {
        await probe.stop();
      }
    });

    await t.step(
      "accept4() into a short buffer truncates and reports the full length",
      async () => {
        const { probe, port } = await startProbe(bed, { accept: "accept-short" });
        try {
          const [r] = await withToa(bed, server, port, [{ addr: "192.0.2.80", port: 8080 }]);
          assert.equal(r.alen, 16);
          assert.equal(r.accept, "192.0.2.80:8080", "the first 8 bytes hold family, port, address");
          assert.equal(r.peer, "192.0.2.80:8080");
        } finally {
          await probe.stop();
        }
      },
    );

    await t.step("a socket closed behind the shim's back leaves no stale address", async () => {
      const { probe, port } = await startProbe(bed, { close: "raw" });
      try {
        const [r] = await withToa(bed, server, port, [{ addr: "192.0.2.81", port: 81 }]);
        assert.equal(r.peer, "192.0.2.81:81");
        const p = await plain(bed, server, port);
        assert.equal(p.fd, r.fd);
        assert.equal(p.peer.split(":")[0], client);
      } finally {
        await probe.stop();
      }
    });

    await t.step(
      "four accepting threads, TOA and plain connections at once: each sees its own",
      async () => {
        const { probe, port } = await startProbe(bed, { threads: 4 });
        try {
          const toas = Array.from(
            { length: 12 },
            (_, i) => ({ addr: `192.0.2.${i + 1}`, port: 1000 + i }),
          );
          const [withT, plains] = await Promise.all([
            withToa(bed, server, port, toas, 61100),
            Promise.all(Array.from({ length: 8 }, () => plain(bed, server, port))),
          ]);
          assert.deepEqual(withT.map((r) => r.peer), toas.map((x) => `${x.addr}:${x.port}`));
          assert.deepEqual(withT.map((r) => r.accept), toas.map((x) => `${x.addr}:${x.port}`));
          for (const p of plains) assert.equal(p.peer.split(":")[0], client, JSON.stringify(p));
          assert.ok([...withT, ...plains].every((r) => r.errno === "ok" && r.short === "ok"));
        } finally {
          await probe.stop();
        }
      },
    );

    await t.step(
      "IPv6 listener: IPv6 TOA as is, IPv4 TOA as v4-mapped, plain untouched",
      async () => {
        const { probe, port } = await startProbe(bed, { addr: SERVER6 });
        try {
          const [v6, v4] = await withToa(bed, SERVER6, port, [
            { addr: "2001:db8:c::99", port: 5555 },
            { addr: "192.0.2.82", port: 6666 },
          ], 61200);
          assert.deepEqual([v6.peer, v6.plen], ["[2001:db8:c::99]:5555", 28]);
          assert.equal(v6.accept, v6.peer);
          assert.deepEqual([v4.peer, v4.plen], ["[::ffff:192.0.2.82]:6666", 28]);
          const p = await plain(bed, SERVER6, port);
          assert.match(p.peer, /^\[2001:db8:a::2\]:\d+$/);
        } finally {
          await probe.stop();
        }
      },
    );

    await t.step("an IPv6 TOA on an IPv4 socket cannot be expressed and is ignored", async () => {
      const { probe, port } = await startProbe(bed, {});
      try {
        const [r] = await withToa(bed, server, port, [{ addr: "2001:db8:c::1", port: 7 }], 61300);
        assert.equal(r.peer.split(":")[0], client);
      } finally {
        await probe.stop();
      }
    });

    await t.step(
      "FULLNAT_TOA_TRUST: TOA only from listed peers; a bad list trusts nobody",
      async () => {
        const cases = [
          { trust: "203.0.113.0/24", expect: client },
          { trust: "10.0.0.0/8,198.51.100.0/24", expect: "192.0.2.83" },
          { trust: `${client}`, expect: "192.0.2.83" },
          { trust: "banana", expect: client },
        ];
        let sport = 61400;
        for (const c of cases) {
          const { probe, port } = await startProbe(bed, { env: { FULLNAT_TOA_TRUST: c.trust } });
          let stderr = "";
          try {
            const [r] = await withToa(
              bed,
              server,
              port,
              [{ addr: "192.0.2.83", port: 83 }],
              sport++,
            );
            assert.equal(r.peer.split(":")[0], c.expect, `FULLNAT_TOA_TRUST=${c.trust}`);
          } finally {
            stderr = await probe.stop();
          }
          if (c.trust === "banana") {
            assert.match(
              stderr,
              /FULLNAT_TOA_TRUST: "banana" is not an IPv4\/IPv6 address or CIDR/,
            );
          } else {
            assert.equal(stderr, "");
          }
        }
      },
    );

    await t.step("FULLNAT_TOA_LOG writes one line per decision to the named file", async () => {
      const log = `${dir}/toa.log`;
      const { probe, port } = await startProbe(bed, { env: { FULLNAT_TOA_LOG: log } });
      try {
        await withToa(bed, server, port, [{ addr: "192.0.2.84", port: 84 }], 61500);
        await plain(bed, server, port);
      } finally {
        await probe.stop();
      }
      const text = await Deno.readTextFile(log);
      assert.match(text, /listen fd=\d+: TCP_SAVE_SYN on/);
      assert.match(
        text,
        /accept fd=\d+ peer=198\.51\.100\.2:61500: toa-v4 client=192\.0\.2\.84:84/,
      );
      assert.match(text, /getpeername fd=\d+: client=192\.0\.2\.84:84/);
      assert.match(text, /accept fd=\d+ peer=198\.51\.100\.2:\d+: no-toa; untouched/);
    });
  } finally {
    await topo.destroy();
    await Deno.remove(dir, { recursive: true });
  }
});
