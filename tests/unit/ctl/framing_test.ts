/**
 * The control protocol's framing: long requests travel in parts and are bounded, long
 * replies and listings come back in frames and are joined by the client.
 */
import assert from "node:assert/strict";
import { ControlClient } from "../../../src/ctl/client.ts";
import { MAX_LINE_BYTES, MAX_REQUEST_BYTES } from "../../../src/ctl/protocol.ts";
import { ControlServer } from "../../../src/ctl/server.ts";
import { MemoryTarget } from "./fake_control.ts";
import { ControlError } from "../../../src/fullnat/types.ts";

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

/** A target whose connection listing yields `rows` in pages of 100, then fails. */
function failingListing(rows: number, encoded: boolean) {
  const view = (i: number) => ({
    protocol: "tcp" as const,
    method: "fullnat" as const,
    state: "ESTABLISHED",
    expiresInMs: 1000,
    client: { address: "198.51.100.2", port: 1024 + i },
    virtual: { address: "198.51.100.10", port: 80 },
    local: { address: "203.0.113.201", port: 2000 + i },
    real: { address: "203.0.113.11", port: 80 },
  });
  const pages = function* () {
    for (let at = 0; at < rows; at += 100) {
      yield Array.from({ length: Math.min(100, rows - at) }, (_, i) => view(at + i));
    }
  };
  const failure = () => new ControlError("unsupported", "worker 1 went away");
  const target = new MemoryTarget();
  return encoded
    ? Object.assign(target, {
      async *connectionJson() {
        for (const page of pages()) {
          yield new TextEncoder().encode(page.map((r) => JSON.stringify(r)).join(","));
        }
        throw failure();
      },
    })
    : Object.assign(target, {
      async *connectionPages() {
        yield* pages();
        throw failure();
      },
    });
}

for (const encoded of [false, true]) {
  Deno.test(`a listing that fails part-way ends with the error after its rows (${encoded ? "encoded" : "row"} pages)`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "fullnat-framing-" });
    const server = new ControlServer(failingListing(2000, encoded), { onError: () => {} });
    await server.listen({ path: `${dir}/control.sock` });
    const client = await ControlClient.connect(`${dir}/control.sock`);
    try {
      let got = 0;
      await assert.rejects(async () => {
        for await (const page of client.connectionPages()) got += page.length;
      }, /worker 1 went away/);
      // Rows travel in frames of about 128 KiB: the frames filled before the failure arrive (the
      // unfilled last one is not sent), then the error.
      assert.ok(got > 0 && got < 2000, `rows before the error: ${got}`);
      // The connection stays usable after a failed stream.
      assert.deepEqual(await client.listServices(), []);
    } finally {
      await client.close();
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
