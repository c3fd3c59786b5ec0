/**
 * `system upgrade -`'s client (src/system/upgrade_client.ts) against a stand-in receiver on a
 * unix socket: the whole bundle arrives followed by end-of-file, the receiver's lines come back,
 * and an `error:` line or silence is a failure.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { streamUpgrade } from "../../../src/system/upgrade_client.ts";

async function withReceiver(
  answer: (received: Uint8Array) => string,
  body: (path: string, received: () => Promise<Uint8Array>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-upgrade-" });
  const path = join(dir, "upgrade.sock");
  const listener = Deno.listen({ transport: "unix", path });
  const got = (async () => {
    const conn = await listener.accept();
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      chunks.push(buf.slice(0, n));
    }
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of chunks) {
      all.set(c, o);
      o += c.length;
    }
    await conn.write(new TextEncoder().encode(answer(all)));
    conn.close();
    return all;
  })();
  try {
    await body(path, () => got);
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const streamOf = (bytes: Uint8Array) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < bytes.length; i += 1000) c.enqueue(bytes.subarray(i, i + 1000));
      c.close();
    },
  });

Deno.test("streamUpgrade sends the whole bundle, then relays the receiver's lines", async () => {
  const bundle = crypto.getRandomValues(new Uint8Array(50_000));
  await withReceiver((r) => `got ${r.length} bytes\nrebooting\n`, async (path, received) => {
    const lines: string[] = [];
    const outcome = await streamUpgrade(streamOf(bundle), (l) => lines.push(l), path);
    assert.deepEqual(outcome, { ok: true, bytesSent: 50_000 });
    assert.deepEqual(lines, ["got 50000 bytes", "rebooting"]);
    assert.deepEqual(await received(), bundle);
  });
});

Deno.test("streamUpgrade: an error line from the receiver is a failure", async () => {
  await withReceiver(() => "error: not a fullnat upgrade bundle\n", async (path) => {
    const lines: string[] = [];
    const outcome = await streamUpgrade(streamOf(new Uint8Array(10)), (l) => lines.push(l), path);
    assert.equal(outcome.ok, false);
    assert.deepEqual(lines, ["error: not a fullnat upgrade bundle"]);
  });
});

Deno.test("streamUpgrade: no receiver is a clear error", async () => {
  await assert.rejects(
    streamUpgrade(streamOf(new Uint8Array(1)), () => {}, "/nonexistent/upgrade.sock"),
    /cannot reach the upgrade receiver at \/nonexistent\/upgrade\.sock/,
  );
});
