/**
 * The control protocol's framing: long requests travel in parts and are bounded, long
 * replies and listings come back in frames and are joined by the client.
 */
import assert from "node:assert/strict";
import { ControlClient } from "../../../src/ctl/client.ts";
import { MAX_LINE_BYTES, MAX_REQUEST_BYTES } from "../../../src/ctl/protocol.ts";
import { ControlServer } from "../../../src/ctl/server.ts";
import { MemoryTarget } from "./fake_control.ts";

async function withServer(fn: (server: ControlServer, path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-framing-" });
  const server = new ControlServer(new MemoryTarget(), { onError: () => {} });
  await server.listen({ path: `${dir}/control.sock` });
  try {
    await fn(server, `${dir}/control.sock`);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a request and a reply longer than a line travel in parts; a listing in frames", () =>
  withServer(async (server, path) => {
    server.register("echo", (text: unknown) => text);
    server.register("rows", (n: unknown) => Array.from({ length: n as number }, (_, i) => ({ i })));
    const client = await ControlClient.connect(path);
    try {
      const big = 'é"x'.repeat(MAX_LINE_BYTES);
      assert.equal(await client.call("echo", big), big);
      const rows = await client.call("rows", 100_000) as { i: number }[];
      assert.equal(rows.length, 100_000);
      assert.deepEqual(rows.at(-1), { i: 99_999 });
      assert.deepEqual(await client.call("rows", 0), []);
    } finally {
      await client.close();
    }
  }));

Deno.test("a request assembled past the limit is refused and the connection closed", () =>
  withServer(async (server, path) => {
    server.register("echo", (text: unknown) => text);
    const client = await ControlClient.connect(path);
    await assert.rejects(
      client.call("echo", "x".repeat(MAX_REQUEST_BYTES + 1)),
      /closed the control connection|lost the fullnat control connection/,
    );
    await client.close();
    const again = await ControlClient.connect(path);
    assert.deepEqual(await again.listServices(), []);
    await again.close();
  }));
