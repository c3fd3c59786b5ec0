/**
 * A million sessions listed through the real control socket and client: the daemon side (a
 * process of its own, see `_million_server.ts`) pages them out of its session table, the
 * client formats them as `ipvsadm -L -n -c` row by row as they stream in. Checks the count and
 * some rows, prints the rate, and checks that the daemon side's memory does not grow by
 * anything near the listing's size (sampled while the listing runs), at 300,000 and at
 * 1,000,000 sessions (or at `FULLNAT_TEST_SESSIONS` alone).
 */
import assert from "node:assert/strict";
import { ControlClient } from "../../../src/ctl/client.ts";
import { runIpvsadm } from "../../../src/ctl/ipvsadm/run.ts";

const SIZES = Deno.env.get("FULLNAT_TEST_SESSIONS") === undefined
  ? [300_000, 1_000_000]
  : [Number(Deno.env.get("FULLNAT_TEST_SESSIONS"))];
const MiB = 1024 * 1024;
/**
 * RSS growth allowed during a listing: a quarter of its text, and never less than what the
 * allocator's working set for a stream may take. Building an object, a string and a frame
 * string per row grew the daemon by 40 MiB at both 300k and 1M sessions.
 */
const allowedGrowth = (textBytes: number) => Math.max(16 * MiB, textBytes / 4);

for (const COUNT of SIZES) {
  Deno.test(`ipvsadm -L -n -c lists ${COUNT.toLocaleString("en")} sessions through the control socket in bounded memory`, () =>
    listing(COUNT));
}

async function listing(COUNT: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-million-" });
  const socket = `${dir}/control.sock`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL("./_million_server.ts", import.meta.url).pathname,
      socket,
      String(COUNT),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let client: ControlClient | undefined;
  let probe: ControlClient | undefined;
  try {
    const { value } = await lines.read();
    assert.match(value ?? "", /^ready /, "the daemon side started");
    console.log(
      `  ${COUNT} sessions crafted through Engine.handle() in ${value!.slice(6).trim()} s`,
    );
    client = await ControlClient.connect(socket);
    probe = await ControlClient.connect(socket);
    const memory = async () => (await probe!.call("memory")) as Deno.MemoryUsage;
    const rss = async () => (await memory()).rss;
    const heapBefore = (await memory()).heapUsed;
    const before = await rss();

    let peak = before;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await rss());
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    let rows = 0;
    let bytes = 0;
    let tail = "";
    const seen: string[] = [];
    const t0 = performance.now();
    const result = await runIpvsadm(["-L", "-n", "-c"], client, {
      write: (text) => {
        bytes += text.length;
        const all = tail + text;
        const cut = all.lastIndexOf("\n") + 1;
        for (const line of all.slice(0, cut).split("\n")) {
          if (!line.startsWith("TCP ")) continue;
          if (rows % 250_000 === 0) seen.push(line);
          rows++;
        }
        tail = all.slice(cut);
        return Promise.resolve();
      },
    });
    const seconds = (performance.now() - t0) / 1000;
    sampling = false;
    await sampler;
    const after = await rss();
    const heapAfter = (await memory()).heapUsed;

    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(tail, "");
    assert.equal(rows, COUNT);
    for (const line of seen) {
      assert.match(
        line,
        /^TCP \d\d:\d\d\s+SYN_RECV\s+10\.\d+\.\d+\.1:\d+\s+198\.51\.100\.10:80\s+203\.0\.114\.\d+:\d+\s+203\.0\.113\.1[12]:8080$/,
      );
    }
    const growth = (peak - before) / MiB;
    console.log(
      `  listed ${rows} rows (${(bytes / MiB).toFixed(0)} MiB of text) in ${
        seconds.toFixed(1)
      } s: ` +
        `${Math.round(rows / seconds)} rows/s; daemon side RSS ${(before / MiB).toFixed(0)} MiB, ` +
        `peak +${growth.toFixed(1)} MiB during the listing, ${
          ((after - before) / MiB).toFixed(1)
        } ` +
        `MiB after (heap in use ${(heapBefore / MiB).toFixed(1)} -> ${
          (heapAfter / MiB).toFixed(1)
        } MiB)`,
    );
    // Nothing of the listing is kept, and the peak stays far below its text's size (its
    // JSON on the wire is about three times that).
    assert.ok((heapAfter - heapBefore) / MiB < 16, "the daemon side keeps nothing of it");
    assert.ok(
      growth * MiB < allowedGrowth(bytes),
      `daemon grew ${growth.toFixed(1)} MiB while listing ${(bytes / MiB).toFixed(0)} MiB ` +
        `(allowed ${(allowedGrowth(bytes) / MiB).toFixed(1)} MiB)`,
    );
  } finally {
    await client?.close();
    await probe?.close();
    child.kill();
    await child.status;
    await lines.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}
