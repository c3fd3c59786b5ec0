/**
 * End to end: the real `fullnat daemon` in the namespace topology, configured only through
 * the admin commands (one-shot and `fullnat shell -c`, as sshd would run them), then real HTTP
 * from the client namespace through the VIP to nginx on the real servers.
 */
import assert from "node:assert/strict";
import { curl } from "../../../testkit/servers.ts";
import { withBed } from "../../../testkit/bed.ts";

const MAIN = new URL("../../../main.ts", import.meta.url).pathname;

async function fullnat(socket: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { FULLNAT_SOCKET: socket, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test("e2e admin commands: a service set up with fullnat service/rs/laddr carries HTTP", async () => {
  await withBed({ daemonArgs: ["--no-persist"] }, async (bed) => {
    const s = bed.lb.socket;
    const svc = ["tcp", `${bed.vip}:80`];
    const ok = async (...args: string[]) => {
      const r = await fullnat(s, ...args);
      assert.equal(r.code, 0, `fullnat ${args.join(" ")}: ${r.stderr}`);
      return r.stdout;
    };
    await ok("service", "add", ...svc, "--scheduler", "rr");
    for (const rs of bed.topo.addrs.realServers) await ok("rs", "add", ...svc, `${rs}:80`);
    const lip = bed.topo.addrs.localAddrs[0];
    await ok("shell", "-c", `laddr add ${svc.join(" ")} ${lip}`);

    const r = await curl(bed.topo.client, `http://${bed.vip}/`);
    assert.equal(r.status, 200, r.stderr);
    assert.match(r.body, new RegExp(`peer ${lip.replaceAll(".", "\\.")}:`));

    const services = JSON.parse(await ok("shell", "-c", "show services --json"));
    assert.equal(services[0].stats.conns, 1);
    assert.equal(services[0].realServers.length, bed.topo.addrs.realServers.length);
    const conns = JSON.parse(await ok("conn", "list", "--client", bed.topo.addrs.client, "--json"));
    assert.equal(conns.length, 1);
    assert.equal(conns[0].local.address, lip);
    assert.match(await ok("status"), /^sessions:/m);
    assert.match(await ok("shell", "-c", "status"), /^sessions:/m);
    assert.equal(JSON.parse(await ok("config", "export")).services[0].port, 80);

    // Refused over the real socket too, with nothing changed.
    const dup = await fullnat(s, "service", "add", ...svc);
    assert.equal(dup.code, 1);
    assert.equal(dup.stderr, "error: the daemon refused: Service already exists\n");
  });
});
