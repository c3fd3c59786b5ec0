/**
 * End to end: the operations of the admin shell against the real `fullnat daemon` in the
 * namespace topology. Configuration versions (history, `config rollback N` restoring exactly
 * version N's export, a `--confirm-within` change that is confirmed and stays, one that is not
 * and that the daemon rolls back by itself, counted in `status`), and a packet capture on the
 * balancer's namespace interface that `tcpdump -r` reads and that `capture show` writes to
 * standard output byte for byte.
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { withBed } from "../../../testkit/bed.ts";

const MAIN = new URL("../../../main.ts", import.meta.url).pathname;

/** One-shot `fullnat ARGS` with stdout kept as bytes. */
async function fullnat(socket: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--cached-only", MAIN, ...args],
    env: { FULLNAT_SOCKET: socket, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return {
    code: out.code,
    bytes: out.stdout,
    stdout: d.decode(out.stdout),
    stderr: d.decode(out.stderr),
  };
}

const doc = (vip: string, scheduler: string) =>
  JSON.stringify({
    version: 1,
    services: [{ protocol: "tcp", address: vip, port: 80, scheduler }],
  });

Deno.test("e2e config history, rollback and commit-confirm with the real daemon", async () => {
  await withBed({}, async (bed) => {
    const s = bed.lb.socket;
    const ok = async (...args: string[]) => {
      const r = await fullnat(s, ...args);
      assert.equal(r.code, 0, `fullnat ${args.join(" ")}: ${r.stderr}`);
      return r.stdout;
    };
    const dir = await Deno.makeTempDir({ prefix: "fullnat-ops-e2e-" });
    try {
      const file = async (name: string, text: string) => {
        await Deno.writeTextFile(`${dir}/${name}`, text);
        return `${dir}/${name}`;
      };
      await ok("config", "apply", await file("rr.json", doc(bed.vip, "rr")));
      const v1 = await ok("config", "export");
      const h1 = JSON.parse(await ok("config", "history", "--json"));
      const first = h1.current as number;
      await ok("config", "apply", await file("wlc.json", doc(bed.vip, "wlc")));
      assert.match(await ok("config", "export"), /"wlc"/);

      // rollback N: exactly N's export, saved as a new version.
      assert.match(await ok("config", "rollback", String(first)), /rolled back to version/);
      assert.equal(await ok("config", "export"), v1);
      assert.equal(await ok("config", "show", String(first)), v1);
      const h2 = JSON.parse(await ok("config", "history", "--json"));
      assert.equal(h2.versions[0].reason, `rollback to ${first}`);

      // Confirmed: stays past its window (wide enough for three one-shot commands, each a
      // Deno start-up on a busy machine).
      const sh = await file("sh.json", doc(bed.vip, "sh"));
      const confirmBy = Date.now() + 10_000;
      assert.match(await ok("config", "apply", sh, "--confirm-within", "10"), /config confirm/);
      assert.match(await ok("shell", "-c", "status"), /pendingConfirm\s+version \d+ rolls back/);
      await ok("config", "confirm");
      await new Promise((r) => setTimeout(r, Math.max(0, confirmBy - Date.now()) + 500));
      const kept = await ok("config", "export");
      assert.match(kept, /"sh"/);

      // Not confirmed: the daemon rolls back by itself within the window, shell long gone.
      const started = Date.now();
      await ok(
        "config",
        "apply",
        await file("lc.json", doc(bed.vip, "lc")),
        "--confirm-within",
        "2",
      );
      assert.match(await ok("config", "export"), /"lc"/);
      let back = "";
      while (Date.now() - started < 8000) {
        back = await ok("config", "export");
        if (!back.includes('"lc"')) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(back, kept, "rolled back to the confirmed version");
      const took = (Date.now() - started) / 1000;
      assert.ok(took < 6, `rolled back after ${took} s`);
      const status = JSON.parse(await ok("status", "--json"));
      assert.equal(status.config.confirmRollbacks, 1);
      assert.equal(status.config.pendingConfirm, null);
      const h3 = JSON.parse(await ok("config", "history", "--json"));
      assert.match(h3.versions[0].reason, /^rollback to \d+: not confirmed in time$/);
      assert.match(bed.lb.log(), /rolled back to version \d+ \(not confirmed in time\)/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("e2e capture on a namespace interface: tcpdump reads it, capture show is byte-exact", async () => {
  await withBed({}, async (bed) => {
    const s = bed.lb.socket;
    const name = "ping-test.pcap";
    const start = await fullnat(
      s,
      "capture",
      "start",
      "-i",
      bed.topo.ifaces.lbA,
      "--name",
      name,
      "--count",
      "6",
      "icmp and host",
      bed.topo.addrs.client,
    );
    assert.equal(start.code, 0, start.stderr);
    const ping = await bed.topo.exec("client", [
      "ping",
      "-c",
      "3",
      "-i",
      "0.2",
      bed.topo.addrs.lbA,
    ]);
    assert.equal(ping.code, 0);
    // -c 6: three requests and three replies end the capture by themselves.
    let list: { name: string; running: boolean; packets: number; ended?: string }[] = [];
    for (let i = 0; i < 40; i++) {
      list = JSON.parse((await fullnat(s, "capture", "list", "--json")).stdout);
      if (list.every((f) => !f.running)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(list.length, 1);
    assert.equal(list[0].packets, 6);
    assert.equal(list[0].ended, "packets");

    const path = `${dirname(s)}/state/captures/${name}`;
    const onDisk = await Deno.readFile(path);
    const shown = await fullnat(s, "capture", "show", name);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(shown.bytes, onDisk, "capture show is the file, byte for byte");

    const read = await new Deno.Command("tcpdump", {
      args: ["-n", "-r", path],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(read.code, 0, new TextDecoder().decode(read.stderr));
    const lines = new TextDecoder().decode(read.stdout).trim().split("\n");
    assert.equal(lines.length, 6);
    assert.match(lines[0], /ICMP echo request/);

    // Refusals: traversal, a filter tcpdump cannot compile, a missing file.
    assert.equal((await fullnat(s, "capture", "show", "../../etc/passwd")).code, 2);
    const badFilter = await fullnat(s, "capture", "start", "-i", "eth0", "tcp", "prt", "80");
    assert.equal(badFilter.code, 2);
    assert.match(badFilter.stderr, /tcpdump refused: .*syntax error/);
    assert.equal((await fullnat(s, "capture", "list", "--json")).stdout.includes("eth0-"), false);
    assert.equal((await fullnat(s, "capture", "delete", name)).code, 0);
    assert.equal((await fullnat(s, "capture", "show", name)).code, 2);
  });
});
