import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { ControlClient } from "../../../src/ctl/client.ts";
import { runIpvsadm } from "../../../src/ctl/ipvsadm/run.ts";
import { MAX_LINE_BYTES, RemoteError } from "../../../src/ctl/protocol.ts";
import { ControlServer } from "../../../src/ctl/server.ts";
import { DEFAULT_SOCKET_PATH, defaultSocketPath } from "../../../src/ctl/socket_path.ts";
import { ControlError } from "../../../src/fullnat/types.ts";
import { MemoryTarget } from "./fake_control.ts";

const tcp80 = { protocol: "tcp", address: "10.0.0.100", port: 80 } as const;

/** A daemon on a socket in a fresh temp dir; cleaned up by the returned dispose. */
async function startServer(target = new MemoryTarget()) {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-ctl-" });
  const path = `${dir}/run/control.sock`;
  const server = new ControlServer(target, { onError: (e) => console.error(e) });
  await server.listen({ path });
  return {
    target,
    server,
    path,
    dir,
    async dispose() {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Sends raw lines on a fresh connection and returns the reply lines parsed. */
async function rawExchange(path: string, payload: string, replies: number): Promise<unknown[]> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    const bytes = new TextEncoder().encode(payload);
    let offset = 0;
    while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
    const decoder = new TextDecoder();
    let text = "";
    const buffer = new Uint8Array(4096);
    while (text.split("\n").length - 1 < replies) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n));
    }
    return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
  } finally {
    conn.close();
  }
}

Deno.test("round trip: contract calls, results, ipvsadm over the socket", async () => {
  const s = await startServer();
  const client = await ControlClient.connect(s.path);
  try {
    strictEqual(await client.addService(tcp80, { scheduler: "rr", persistence: 0 }), undefined);
    await client.addRealServer(tcp80, {
      address: "192.168.1.2",
      port: 80,
      weight: 2,
      method: "fullnat",
    });
    const services = await client.listServices();
    strictEqual(services.length, 1);
    deepStrictEqual(services[0].realServers.map((r) => [r.address, r.weight]), [[
      "192.168.1.2",
      2,
    ]]);
    await client.setTimeouts({ tcpEstablished: 120 });
    strictEqual((await client.getTimeouts()).tcpEstablished, 120);
    await client.zeroStats();
    deepStrictEqual(s.target.received.at(-1), []);

    const listed = await runIpvsadm(["-L", "-n"], client);
    strictEqual(listed.exitCode, 0);
    strictEqual(
      listed.stdout.split("\n")[4],
      "  -> 192.168.1.2:80               FullNat 2      0          0         ",
    );
    const added = await runIpvsadm(["-P", "-t", "10.0.0.100:80", "-z", "192.168.1.100"], client);
    deepStrictEqual(added, { stdout: "", stderr: "", exitCode: 0 });
    deepStrictEqual(s.target.services[0].localAddresses.map((l) => l.address), [
      "192.168.1.100",
    ]);
  } finally {
    await client.close();
    await s.dispose();
  }
});

Deno.test("ControlError crosses the socket with its code and message", async () => {
  const s = await startServer();
  const client = await ControlClient.connect(s.path);
  try {
    await client.addService(tcp80, { scheduler: "rr", persistence: 0 });
    await rejects(
      client.addService(tcp80, { scheduler: "rr", persistence: 0 }),
      (e: unknown) =>
        e instanceof ControlError && e.code === "service-exists" &&
        e.message === "Service already exists",
    );
    const result = await runIpvsadm(["-a", "-t", "10.0.0.1:80", "-r", "1.2.3.4"], client);
    deepStrictEqual(result, { stdout: "", stderr: "Service not defined\n", exitCode: 255 });
  } finally {
    await client.close();
    await s.dispose();
  }
});

Deno.test("malformed JSON, bad shapes and unknown ops get error replies; nothing changes", async () => {
  const s = await startServer();
  try {
    const replies = await rawExchange(
      s.path,
      [
        "this is not json",
        "[1,2,3]",
        JSON.stringify({ op: "clear", args: [] }),
        JSON.stringify({ id: 1, args: [] }),
        JSON.stringify({ id: 2, op: "clear", args: "nope" }),
        JSON.stringify({ id: 3, op: "shutdown", args: [] }),
        JSON.stringify({ id: 4, op: "constructor", args: [] }),
        JSON.stringify({ id: 5, op: "__proto__", args: [] }),
        JSON.stringify({ id: 6, op: "addService", args: [{ protocol: "sctp" }, {}] }),
        JSON.stringify({ id: 7, op: "addService", args: [tcp80] }),
        JSON.stringify({
          id: 8,
          op: "addService",
          args: [{ ...tcp80, port: 70000 }, { scheduler: "rr", persistence: 0 }],
        }),
        JSON.stringify({
          id: 9,
          op: "addService",
          args: [tcp80, { scheduler: "sed", persistence: 0 }],
        }),
        JSON.stringify({ id: 10, op: "setTimeouts", args: [{ tcpEstablished: -1 }] }),
        JSON.stringify({ id: 11, op: "setTimeouts", args: [{ bogus: 1 }] }),
        JSON.stringify({ id: "12", op: "listServices", args: [] }),
      ].join("\n") + "\n",
      15,
    );
    const codes = replies.map((r) => {
      const reply = r as { id: unknown; ok: boolean; error?: { code: string } };
      return [reply.id, reply.ok ? "ok" : reply.error?.code];
    });
    deepStrictEqual(codes, [
      [null, "bad-request"],
      [null, "bad-request"],
      [null, "bad-request"],
      [1, "bad-request"],
      [2, "bad-request"],
      [3, "unknown-op"],
      [4, "unknown-op"],
      [5, "unknown-op"],
      [6, "invalid-argument"],
      [7, "invalid-argument"],
      [8, "invalid-argument"],
      [9, "invalid-argument"],
      [10, "invalid-argument"],
      [11, "invalid-argument"],
      ["12", "ok"],
    ]);
    deepStrictEqual(s.target.received, []);
    deepStrictEqual((replies[14] as { result: unknown }).result, []);
    // The server is still serving.
    const client = await ControlClient.connect(s.path);
    deepStrictEqual(await client.listServices(), []);
    await client.close();
  } finally {
    await s.dispose();
  }
});

Deno.test("unknown fields are dropped before the engine sees the arguments", async () => {
  const s = await startServer();
  try {
    await rawExchange(
      s.path,
      JSON.stringify({
        id: 1,
        op: "addService",
        args: [{ ...tcp80, evil: true }, { scheduler: "rr", persistence: 0, extra: [1] }],
      }) + "\n",
      1,
    );
    deepStrictEqual(s.target.received, [[tcp80, { scheduler: "rr", persistence: 0 }]]);
  } finally {
    await s.dispose();
  }
});

Deno.test("registered ops: called by name, errors passed through, names protected", async () => {
  const s = await startServer();
  s.server.register("stats", () => ({ packets: 42 }));
  s.server.register("echo", async (...args: unknown[]) => {
    await new Promise((r) => setTimeout(r, 5));
    return args;
  });
  s.server.register("refuse", () => {
    throw new ControlError("unsupported", "not today");
  });
  s.server.register("crash", () => {
    throw new TypeError("boom");
  });
  let threw = false;
  try {
    s.server.register("addService", () => 0);
  } catch {
    threw = true;
  }
  ok(threw);
  const client = await ControlClient.connect(s.path);
  try {
    deepStrictEqual(await client.call("stats"), { packets: 42 });
    deepStrictEqual(await client.call("echo", 1, "two", { three: 3 }), [1, "two", { three: 3 }]);
    await rejects(
      client.call("refuse"),
      (e: unknown) => e instanceof ControlError && e.code === "unsupported",
    );
    await rejects(
      client.call("crash"),
      (e: unknown) => e instanceof RemoteError && e.code === "internal" && e.message === "boom",
    );
    await rejects(
      client.call("nonesuch"),
      (e: unknown) => e instanceof RemoteError && e.code === "unknown-op",
    );
  } finally {
    await client.close();
    await s.dispose();
  }
});

Deno.test("many concurrent clients, many calls in flight on each", async () => {
  const s = await startServer();
  s.server.register("echo", async (n: unknown) => {
    await new Promise((r) => setTimeout(r, Math.random() * 5));
    return n;
  });
  const clients = await Promise.all(
    Array.from({ length: 20 }, () => ControlClient.connect(s.path)),
  );
  try {
    const results = await Promise.all(
      clients.map((client, c) =>
        Promise.all(Array.from({ length: 25 }, (_, i) => client.call("echo", c * 1000 + i)))
      ),
    );
    results.forEach((list, c) =>
      deepStrictEqual(list, Array.from({ length: 25 }, (_, i) => c * 1000 + i))
    );
    await Promise.all(
      clients.map((client, c) =>
        client.addService({ ...tcp80, port: 1000 + c }, { scheduler: "rr", persistence: 0 })
      ),
    );
    strictEqual(s.target.services.length, 20);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await s.dispose();
  }
});

Deno.test("no daemon: the client says so and how to start one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-ctl-" });
  const path = `${dir}/control.sock`;
  try {
    await rejects(
      ControlClient.connect(path),
      new Error(
        `fullnat daemon is not running (no control socket at ${path}); start it with: fullnat daemon`,
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a stale socket is replaced; a live daemon's socket is not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-ctl-" });
  const path = `${dir}/control.sock`;
  try {
    // Leave a stale socket behind: a process that listens, then dies without cleaning up.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `Deno.listen({ transport: "unix", path: ${JSON.stringify(path)} });
        console.log("up"); setTimeout(() => {}, 60000);`,
      ],
      stdout: "piped",
    }).spawn();
    const reader = child.stdout.getReader();
    await reader.read();
    reader.releaseLock();
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel();
    ok((await Deno.lstat(path)).isSocket);
    await rejects(
      ControlClient.connect(path),
      new Error(
        `fullnat daemon is not running (nothing answers on ${path}); start it with: fullnat daemon`,
      ),
    );

    const first = new ControlServer(new MemoryTarget());
    await first.listen({ path });
    const second = new ControlServer(new MemoryTarget());
    await rejects(
      second.listen({ path }),
      new Error(`another fullnat daemon is already serving on ${path}`),
    );
    // The first daemon still answers.
    const client = await ControlClient.connect(path);
    deepStrictEqual(await client.listServices(), []);
    await client.close();
    await first.close();
    await rejects(Deno.lstat(path), Deno.errors.NotFound);

    await Deno.writeTextFile(path, "not a socket");
    await rejects(
      new ControlServer(new MemoryTarget()).listen({ path }),
      new Error(`control socket path ${path} exists and is not a socket; not replacing it`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("closing the daemon rejects waiting calls and removes the socket", async () => {
  const s = await startServer();
  let release!: () => void;
  s.server.register("slow", () => new Promise<void>((r) => (release = r)));
  const client = await ControlClient.connect(s.path);
  // Attach the expectation at once: the rejection arrives while the server is closing.
  const waiting = rejects(client.call("slow"), /closed the control connection/);
  await new Promise((r) => setTimeout(r, 20));
  const closing = s.server.close();
  release();
  await closing;
  await waiting;
  await rejects(client.call("stats"));
  await rejects(Deno.lstat(s.path), Deno.errors.NotFound);
  await client.close();
  await s.dispose();
});

Deno.test("an over-long request line is refused and the connection dropped", async () => {
  const s = await startServer();
  try {
    const replies = await rawExchange(s.path, "x".repeat(MAX_LINE_BYTES + 10), 1);
    strictEqual(replies.length, 1);
    deepStrictEqual((replies[0] as { error: { code: string } }).error.code, "bad-request");
    const client = await ControlClient.connect(s.path);
    deepStrictEqual(await client.listServices(), []);
    await client.close();
  } finally {
    await s.dispose();
  }
});

Deno.test("defaultSocketPath: FULLNAT_SOCKET overrides the default", () => {
  const saved = Deno.env.get("FULLNAT_SOCKET");
  try {
    Deno.env.delete("FULLNAT_SOCKET");
    strictEqual(defaultSocketPath(), DEFAULT_SOCKET_PATH);
    strictEqual(DEFAULT_SOCKET_PATH, "/run/fullnat/control.sock");
    Deno.env.set("FULLNAT_SOCKET", "/tmp/x/control.sock");
    strictEqual(defaultSocketPath(), "/tmp/x/control.sock");
    Deno.env.set("FULLNAT_SOCKET", "");
    strictEqual(defaultSocketPath(), DEFAULT_SOCKET_PATH);
  } finally {
    if (saved === undefined) Deno.env.delete("FULLNAT_SOCKET");
    else Deno.env.set("FULLNAT_SOCKET", saved);
  }
});
