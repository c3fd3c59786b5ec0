/**
 * One attempt of each check type against real loopback servers: what passes, what fails, the
 * reason each gives, the request an http check sends, the source address bindTo gives, the
 * connectTimeout and misc timeout bounds, and abort.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import tls from "node:tls";
import { probe } from "../../../src/health/probe.ts";
import { type CheckSpec, normalizeCheck } from "../../../src/health/spec.ts";
import {
  hasOpenssl,
  refusedPort,
  selfSignedCert,
  startCheckServer,
  startSilentListener,
} from "../../../testkit/check_servers.ts";

const LO = "127.0.0.1";
const never = () => new AbortController().signal;
const md5 = (s: string) => createHash("md5").update(s).digest("hex");
const check = (v: Record<string, unknown>): CheckSpec => normalizeCheck(v);

Deno.test("tcp: a listening port is up, with the connect time as the reason", async () => {
  const l = startSilentListener();
  try {
    const r = await probe(check({ type: "tcp" }), { address: LO, port: l.port }, never());
    assert.ok(r.ok, r.reason);
    assert.match(r.reason, /^connected in [0-9.]+ ms$/);
    assert.ok(r.ms >= 0 && r.ms < 1000);
  } finally {
    l.stop();
  }
});

Deno.test("tcp: a closed port is down with 'connection refused'", async () => {
  const r = await probe(check({ type: "tcp" }), { address: LO, port: refusedPort() }, never());
  assert.deepEqual([r.ok, r.reason], [false, "connection refused"]);
});

Deno.test("tcp: connectIp and connectPort replace the real server's endpoint", async () => {
  const l = startSilentListener("127.0.0.3");
  try {
    const spec = check({ type: "tcp", connectIp: "127.0.0.3", connectPort: l.port });
    const r = await probe(spec, { address: LO, port: refusedPort() }, never());
    assert.ok(r.ok, r.reason);
  } finally {
    l.stop();
  }
});

Deno.test("tcp: bindTo and bindPort set the source the server sees", async () => {
  const listener = Deno.listen({ hostname: LO, port: 0 });
  const bindPort = refusedPort("127.0.0.2");
  try {
    const accepted = listener.accept();
    const spec = check({ type: "tcp", bindTo: "127.0.0.2", bindPort });
    const r = await probe(
      spec,
      { address: LO, port: (listener.addr as Deno.NetAddr).port },
      never(),
    );
    assert.ok(r.ok, r.reason);
    const conn = await accepted;
    const peer = conn.remoteAddr as Deno.NetAddr;
    conn.close();
    assert.deepEqual([peer.hostname, peer.port], ["127.0.0.2", bindPort]);
  } finally {
    listener.close();
  }
});

Deno.test("tcp and http: a fixed bindPort works round after round (no TIME_WAIT left behind)", async () => {
  const l = startSilentListener();
  const s = startCheckServer({ status: 200, body: "ok".repeat(10_000) });
  try {
    const tcp = check({ type: "tcp", bindPort: refusedPort() });
    const http = check({ type: "http", bindPort: refusedPort(), urls: [{ path: "/" }] });
    for (let i = 0; i < 3; i++) {
      const t = await probe(tcp, { address: LO, port: l.port }, never());
      assert.ok(t.ok, `tcp round ${i}: ${t.reason}`);
      const h = await probe(http, { address: LO, port: s.port }, never());
      assert.ok(h.ok, `http round ${i}: ${h.reason}`);
    }
  } finally {
    l.stop();
    await s.stop();
  }
});

Deno.test("tcp: a bindTo that is not a local address fails with a clear reason", async () => {
  const l = startSilentListener();
  try {
    const spec = check({ type: "tcp", bindTo: "192.0.2.77" });
    const r = await probe(spec, { address: LO, port: l.port }, never());
    assert.ok(!r.ok);
    assert.match(r.reason, /^cannot bind to 192\.0\.2\.77: not a local address/);
    const v6 = await probe(
      check({ type: "tcp", bindTo: "::1" }),
      { address: LO, port: l.port },
      never(),
    );
    assert.deepEqual(v6.reason, "cannot bind to ::1: not of the IP version of 127.0.0.1");
  } finally {
    l.stop();
  }
});

Deno.test("tcp: IPv6 loopback works", async () => {
  const l = startSilentListener("::1");
  try {
    const r = await probe(check({ type: "tcp" }), { address: "::1", port: l.port }, never());
    assert.ok(r.ok, r.reason);
  } finally {
    l.stop();
  }
});

Deno.test("http: 200 is up; the request is GET over HTTP/1.1 with Host and Connection: close", async () => {
  const s = startCheckServer({ status: 200, body: "ok" });
  try {
    const spec = check({ type: "http", urls: [{ path: "/health?x=1" }] });
    const r = await probe(spec, { address: LO, port: s.port }, never());
    assert.ok(r.ok, r.reason);
    assert.match(r.reason, /^HTTP 200 on \/health\?x=1 in [0-9.]+ ms$/);
    assert.deepEqual(s.seen.length, 1);
    assert.deepEqual(s.seen[0].path, "/health?x=1");
    assert.deepEqual(s.seen[0].host, `${LO}:${s.port}`);
    assert.deepEqual(s.seen[0].connection, "close");
    assert.deepEqual(s.seen[0].userAgent, "fullnat-healthcheck");
  } finally {
    await s.stop();
  }
});

Deno.test("http: virtualHost is the Host header", async () => {
  const s = startCheckServer({ status: 200, body: "ok" });
  try {
    const spec = check({ type: "http", urls: [{ path: "/" }], virtualHost: "www.example.com" });
    assert.ok((await probe(spec, { address: LO, port: s.port }, never())).ok);
    assert.deepEqual(s.seen[0].host, "www.example.com");
  } finally {
    await s.stop();
  }
});

Deno.test("http: status outside the accepted codes is down, naming status, path and expectation", async () => {
  const s = startCheckServer({ status: 500, body: "boom" });
  const rs = { address: LO, port: s.port };
  try {
    let r = await probe(check({ type: "http", urls: [{ path: "/health" }] }), rs, never());
    assert.deepEqual([r.ok, r.reason], [false, "HTTP 500 on /health (expected 200-299)"]);
    s.answer = { status: 301, body: "" };
    r = await probe(
      check({ type: "http", urls: [{ path: "/", statusCodes: [200] }] }),
      rs,
      never(),
    );
    assert.deepEqual([r.ok, r.reason], [false, "HTTP 301 on / (expected 200)"]);
    r = await probe(
      check({ type: "http", urls: [{ path: "/", statusCodes: [200, 301] }] }),
      rs,
      never(),
    );
    assert.ok(r.ok, r.reason);
    s.answer = { status: 204, body: "" };
    r = await probe(check({ type: "http", urls: [{ path: "/" }] }), rs, never());
    assert.ok(r.ok, r.reason);
  } finally {
    await s.stop();
  }
});

Deno.test("http: every URL is fetched in order; the first failing one is named", async () => {
  const s = startCheckServer({ status: 200, body: "same" });
  const rs = { address: LO, port: s.port };
  try {
    const both = check({ type: "http", urls: [{ path: "/a" }, { path: "/b" }] });
    const r = await probe(both, rs, never());
    assert.ok(r.ok, r.reason);
    assert.match(r.reason, /^HTTP ok on 2 URLs in [0-9.]+ ms$/);
    assert.deepEqual(s.seen.map((x) => x.path), ["/a", "/b"]);
    const second = check({
      type: "http",
      urls: [{ path: "/a" }, { path: "/b", digest: md5("other") }],
    });
    const bad = await probe(second, rs, never());
    assert.deepEqual([bad.ok, bad.reason], [false, `digest mismatch on /b (got ${md5("same")})`]);
  } finally {
    await s.stop();
  }
});

Deno.test("http: digest is the MD5 of the body, with Content-Length or chunked framing", async () => {
  const body = "hello health check\n".repeat(500);
  const s = startCheckServer({ status: 200, body });
  const rs = { address: LO, port: s.port };
  try {
    const good = check({ type: "http", urls: [{ path: "/", digest: md5(body).toUpperCase() }] });
    assert.ok((await probe(good, rs, never())).ok);
    s.answer = { status: 200, body, chunked: true };
    const r = await probe(good, rs, never());
    assert.ok(r.ok, r.reason);
    s.answer = { status: 200, body: body + "x", chunked: true };
    const bad = await probe(good, rs, never());
    assert.deepEqual(bad.reason, `digest mismatch on / (got ${md5(body + "x")})`);
  } finally {
    await s.stop();
  }
});

Deno.test("http: a server that accepts and never answers is down after connectTimeout", async () => {
  const l = startSilentListener();
  try {
    const spec = check({ type: "http", connectTimeout: 0.3, urls: [{ path: "/" }] });
    const r = await probe(spec, { address: LO, port: l.port }, never());
    assert.deepEqual([r.ok, r.reason], [false, "no response to GET / within 0.3 s"]);
    assert.ok(r.ms >= 290 && r.ms < 1500, `took ${r.ms} ms`);
  } finally {
    l.stop();
  }
});

Deno.test("http: a slow answer counts against connectTimeout", async () => {
  const s = startCheckServer({ status: 200, body: "late", delayMs: 600 });
  try {
    const spec = check({ type: "http", connectTimeout: 0.2, urls: [{ path: "/" }] });
    const r = await probe(spec, { address: LO, port: s.port }, never());
    assert.deepEqual(r.reason, "no response to GET / within 0.2 s");
  } finally {
    await s.stop();
  }
});

Deno.test("http: refused, and abort ends a probe at once", async () => {
  const spec = check({ type: "http", urls: [{ path: "/" }] });
  const refused = await probe(spec, { address: LO, port: refusedPort() }, never());
  assert.deepEqual(refused.reason, "connection refused");
  const l = startSilentListener();
  try {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const r = await probe(spec, { address: LO, port: l.port }, ac.signal);
    assert.ok(!r.ok);
    assert.match(r.reason, /aborted/);
    assert.ok(r.ms < 1000, `took ${r.ms} ms`);
  } finally {
    l.stop();
  }
});

Deno.test("http: bindTo is the source address the server sees", async () => {
  const s = startCheckServer({ status: 200, body: "ok" });
  try {
    const spec = check({ type: "http", bindTo: "127.0.0.2", urls: [{ path: "/" }] });
    const r = await probe(spec, { address: LO, port: s.port }, never());
    assert.ok(r.ok, r.reason);
    assert.deepEqual(s.seen[0].peer, "127.0.0.2");
  } finally {
    await s.stop();
  }
});

Deno.test({
  name: "https: self-signed certificate accepted; status, digest, bindTo and timeouts as http",
  ignore: !hasOpenssl(),
  async fn() {
    const tls = await selfSignedCert();
    const s = startCheckServer({ status: 200, body: "secure" }, { tls });
    const rs = { address: LO, port: s.port };
    try {
      const spec = check({
        type: "https",
        bindTo: "127.0.0.2",
        virtualHost: "check.test",
        urls: [{ path: "/", digest: md5("secure") }],
      });
      const r = await probe(spec, rs, never());
      assert.ok(r.ok, r.reason);
      assert.match(r.reason, /^HTTP 200 on \/ in [0-9.]+ ms$/);
      assert.deepEqual([s.seen[0].peer, s.seen[0].host], ["127.0.0.2", "check.test"]);
      s.answer = { status: 503, body: "" };
      const down = await probe(check({ type: "https", urls: [{ path: "/x" }] }), rs, never());
      assert.deepEqual(down.reason, "HTTP 503 on /x (expected 200-299)");
    } finally {
      await s.stop();
    }
    // A TLS check against a server that never speaks TLS times out in the handshake.
    const l = startSilentListener();
    try {
      const spec = check({ type: "https", connectTimeout: 0.3, urls: [{ path: "/" }] });
      const r = await probe(spec, { address: LO, port: l.port }, never());
      assert.deepEqual([r.ok, r.reason], [false, "no answer within 0.3 s"]);
    } finally {
      l.stop();
    }
  },
});

Deno.test("https: a plain HTTP server fails the TLS handshake", async () => {
  const s = startCheckServer({ status: 200, body: "plain" });
  try {
    const spec = check({ type: "https", connectTimeout: 2, urls: [{ path: "/" }] });
    const r = await probe(spec, { address: LO, port: s.port }, never());
    assert.deepEqual(r.ok, false);
    assert.match(r.reason, /^TLS handshake failed \(ERR_SSL_[A-Z_]+\)$/);
    assert.ok(r.ms < 1900, `took ${r.ms} ms: the failure should not wait for the timeout`);
  } finally {
    await s.stop();
  }
});

const misc = (command: string, extra: Record<string, unknown> = {}) =>
  probe(check({ type: "misc", command, ...extra }), { address: LO, port: 80 }, never());

Deno.test("misc: exit 0 is up, 1 is down, 2-255 up with weight code-2 only when dynamic", async () => {
  assert.deepEqual(await misc("exit 0").then((r) => [r.ok, r.reason, r.weight]), [
    true,
    "exit 0",
    undefined,
  ]);
  assert.deepEqual(await misc("exit 1").then((r) => [r.ok, r.reason]), [false, "exit 1"]);
  assert.deepEqual(await misc("exit 5").then((r) => [r.ok, r.reason]), [false, "exit 5"]);
  const dyn = await misc("exit 5", { dynamic: true });
  assert.deepEqual([dyn.ok, dyn.reason, dyn.weight], [true, "exit 5 (weight 3)", 3]);
  const one = await misc("exit 1", { dynamic: true });
  assert.deepEqual([one.ok, one.weight], [false, undefined]);
  const two = await misc("exit 2", { dynamic: true });
  assert.deepEqual([two.ok, two.weight], [true, 0]);
});

Deno.test("misc: the command runs in /bin/sh; the first line of output is the reason's detail", async () => {
  const r = await misc("echo '  backend not ready'; echo second; exit 1");
  assert.deepEqual(r.reason, "exit 1: backend not ready");
  const e = await misc("echo to-stderr >&2; false");
  assert.deepEqual(e.reason, "exit 1: to-stderr");
  const missing = await misc("/nonexistent/check-script");
  assert.deepEqual(missing.ok, false);
  assert.match(missing.reason, /^exit 127: .*nonexistent/);
});

Deno.test("misc: a command past its timeout is killed with what it started", async () => {
  const marker = `${20 + Math.floor(Math.random() * 1000) / 1000}`;
  const start = performance.now();
  const r = await misc(`sleep ${marker} & sleep ${marker}`, { timeout: 0.3 });
  const took = performance.now() - start;
  assert.deepEqual([r.ok, r.reason], [false, "killed after 0.3 s timeout"]);
  assert.ok(took < 2000, `took ${took} ms`);
  await new Promise((res) => setTimeout(res, 100));
  const left = new Deno.Command("pgrep", { args: ["-f", `sleep ${marker}`] }).outputSync();
  assert.deepEqual(new TextDecoder().decode(left.stdout).trim(), "", "children left running");
});

Deno.test("misc: the timeout defaults to delayLoop", async () => {
  const r = await misc("sleep 5", { delayLoop: 0.2 });
  assert.deepEqual(r.reason, "killed after 0.2 s timeout");
});

Deno.test("misc: much output does not block the command", async () => {
  const r = await misc("head -c 5000000 /dev/zero | tr '\\0' 'a'; echo; exit 0", { timeout: 10 });
  assert.ok(r.ok, r.reason);
  assert.ok(r.reason.length < 200);
});

Deno.test("misc: abort kills the command", async () => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  const r = await probe(
    check({ type: "misc", command: "sleep 5" }),
    { address: LO, port: 80 },
    ac.signal,
  );
  assert.deepEqual([r.ok, r.reason], [false, "aborted"]);
  assert.ok(r.ms < 2000);
});

Deno.test({
  name: "https: virtualHost is sent as the TLS server name (SNI); none without it",
  ignore: !hasOpenssl(),
  async fn() {
    const { cert, key } = await selfSignedCert();
    const names: unknown[] = [];
    const server = tls.createServer({ cert, key }, (s) => {
      names.push((s as unknown as { servername?: string | false }).servername ?? null);
      s.end("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    });
    await new Promise<void>((resolve) => server.listen(0, LO, resolve));
    const rs = { address: LO, port: (server.address() as { port: number }).port };
    try {
      const named = check({ type: "https", virtualHost: "sni.example", urls: [{ path: "/" }] });
      assert.ok((await probe(named, rs, never())).ok);
      assert.ok((await probe(check({ type: "https", urls: [{ path: "/" }] }), rs, never())).ok);
      assert.deepEqual(names.map((n) => n || null), ["sni.example", null]);
    } finally {
      server.close();
    }
  },
});
