/**
 * The demo behind `bash scripts/demo.sh`: the test topology of docs/design.md section 5, the real
 * daemon in `lb`, nginx real servers in `rs` (which has no route to the client's subnet), and
 * real HTTP from `client` through the VIP.
 *
 * @module
 */
import { createTopology } from "../testkit/netns.ts";
import { curl, type NginxServer, startNginx } from "../testkit/servers.ts";
import { type Balancer, startBalancer } from "../testkit/balancer.ts";
import { newConnectionsCommand } from "../testkit/curl.ts";

const REQUESTS = 300;

function heading(text: string) {
  console.log(`\n== ${text}`);
}

const topo = await createTopology({ prefix: "fndemo" });
let nginx: NginxServer | undefined;
let lb: Balancer | undefined;
let failed = false;
// SIGINT/SIGTERM (Ctrl-C, or demo.sh passing one on) ends the demo through the same clean-up.
const interrupted = new Promise<void>((resolve) => {
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => {
      console.error(`\n${sig}: stopping the demo`);
      failed = true;
      resolve();
    });
  }
});
try {
  nginx = await startNginx({
    netns: topo.rs,
    addrs: topo.addrs.realServers,
    bulkBytes: 8 << 20,
  });
  lb = await startBalancer(topo);
  await Promise.race([run(nginx, lb), interrupted]);
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  const code = await lb?.stop();
  await nginx?.stop();
  await topo.destroy();
  heading(`daemon stopped (exit ${code ?? "never started"}); namespaces deleted`);
}
Deno.exit(failed ? 1 : 0);

async function run(nginx: NginxServer, lb: Balancer): Promise<void> {
  const vip = topo.addrs.vips[0];
  const svc = `${vip}:80`;
  heading(
    `topology ${topo.id}: client ${topo.addrs.client} -> VIP ${vip} -> RS ${
      topo.addrs.realServers.join(", ")
    }`,
  );
  const route = await topo.exec("rs", ["ip", "route", "get", topo.addrs.client]);
  console.log(
    `rs route to the client: ${
      route.code === 0 ? route.stdout.trim() : "none (as FULLNAT allows)"
    }`,
  );

  heading("configuring with ipvsadm syntax");
  const cmds = [
    ["-A", "-t", svc, "-s", "rr"],
    ...topo.addrs.realServers.map((rs) => ["-a", "-t", svc, "-r", `${rs}:80`, "-b", "-w", "1"]),
    ...topo.addrs.localAddrs.slice(0, 2).map((l) => ["-P", "-t", svc, "-z", l]),
  ];
  for (const c of cmds) {
    console.log(`fullnat ipvsadm ${c.join(" ")}`);
    await lb.ipvsadmOk(...c);
  }
  console.log(await lb.ipvsadmOk("-L", "-n"));
  console.log(await lb.ipvsadmOk("-G"));

  heading(`${REQUESTS} HTTP requests from the client, each on a new connection`);
  const url = `http://${vip}/`;
  const t0 = performance.now();
  const out = await topo.exec("client", newConnectionsCommand(url, REQUESTS));
  const secs = (performance.now() - t0) / 1000;
  const ok = out.stdout.trim().split("\n").filter((c) => c === "200").length;
  console.log(
    `${ok}/${REQUESTS} answered 200 in ${secs.toFixed(2)} s (${
      (REQUESTS / secs).toFixed(0)
    } connections/s, one client)`,
  );
  if (ok !== REQUESTS) throw new Error(`only ${ok}/${REQUESTS} requests were answered`);

  heading("a bulk transfer while sessions are live");
  const bulk = await curl(topo.client, `http://${vip}${nginx.bulkPath}`, {
    discardBody: true,
    maxTimeSec: 60,
  });
  console.log(
    `${bulk.sizeDownload} bytes in ${bulk.timeSec.toFixed(2)} s (${
      (bulk.sizeDownload * 8 / bulk.timeSec / 1e6).toFixed(0)
    } Mbit/s)`,
  );
  const one = await curl(topo.client, url);
  console.log(`one response body: ${one.body.trim()}`);

  heading("what the real servers saw (nginx access log: peer address -> count)");
  const log = await nginx.accessLog();
  const bySource = new Map<string, number>();
  for (const e of log) bySource.set(e.remoteAddr, (bySource.get(e.remoteAddr) ?? 0) + 1);
  for (const [addr, n] of bySource) console.log(`  ${addr.padEnd(16)} ${n} requests`);
  console.log(
    `  client address ${topo.addrs.client} seen: ${
      bySource.has(topo.addrs.client) ? "yes" : "never"
    }`,
  );
  if (bySource.has(topo.addrs.client)) {
    throw new Error("a real server saw the client address: FULLNAT did not translate it");
  }

  heading("connection table (fullnat ipvsadm -L -n -c), first lines");
  const conns = (await lb.ipvsadmOk("-L", "-n", "-c")).trimEnd().split("\n");
  console.log(conns.slice(0, 8).join("\n"));
  console.log(`  ... ${conns.length - 2} sessions in all`);
  heading("per-service statistics (fullnat ipvsadm -L -n --stats)");
  console.log(await lb.ipvsadmOk("-L", "-n", "--stats"));
  heading("engine and queue counters (fullnat status)");
  const st = await lb.status();
  console.log(
    JSON.stringify({ sessions: st.sessions, engine: st.engine, queue: st.queue }, null, 1),
  );
}
