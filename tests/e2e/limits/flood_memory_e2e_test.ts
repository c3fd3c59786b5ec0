/**
 * End to end, issue 16 points 4, 6 and 7, without and with the SYN proxy: a spoofed-source SYN flood at
 * the VIP as fast as `hping3 --flood --rand-source -S` sends it from the client namespace, for
 * 25 s, against a FULLNAT service over the nginx real servers with four local addresses and a
 * realistic defence (per-source limits, the default 5 s `tcpSynAck`), while the real client
 * fetches pages with curl, one new connection after another. It checks that the flood stays
 * bounded:
 *
 * - the daemon's RSS (`VmRSS` of /proc/PID/status, sampled every second) grows by less than
 *   {@linkcode RSS_GROWTH_BOUND} over the flood once its first {@linkcode RSS_SETTLE_S} s are
 *   past: the session table is allocated whole at start; what a flood can add is the pages of
 *   it that sessions touch, and the number of sessions levels off once the first ones expire
 *   (a flood SYN's session lives `tcpSynAck` 5 s after the real server answers, about 6 s
 *   with its SYN-ACK retransmission), so it must level off too;
 * - the sessions never reach the table's capacity nor the table-full refusal;
 * - the daemon logs nothing per refused or flooding packet (fewer than
 *   {@linkcode LOG_LINES_BOUND} lines over the flood).
 *
 * It prints what it measured: flood SYN/s sent (hping3's own count) and seen by the engine,
 * the legitimate requests' success rate and connections/s before and during the flood, the
 * peak sessions, ports refused, and the RSS samples. The issue's 99% success target is the SYN
 * proxy's; without it the rate is printed, not asserted (the share of the flood a single
 * packet worker keeps up with sets it, and this machine's two cores are shared by the flood,
 * the daemon, curl and nginx).
 *
 * With the SYN proxy (`-j enable`; one packet worker and two, the same set-up) it also checks
 * point 6's promise: no flood SYN reaches a real server (an iptables counter of SYNs in the
 * servers' namespace equals the sessions made, all of them the client's), and the client is
 * served at least 99% of the time; it prints the cookies answered per second beside hping3's
 * rate.
 */
import assert from "node:assert/strict";
import { ControlClient } from "../../../src/ctl/client.ts";
import { addFullnatService, withFamilyBed } from "../../../testkit/family_bed.ts";
import { inNetns } from "../../../testkit/proc.ts";
import { DEFAULT_LOCAL_PORT_RANGE } from "../../../src/vocab/port.ts";
import { addInputCounter } from "../../../testkit/iptables_counter.ts";

/** The flood's length (s). */
const FLOOD_S = 25;
/** Seconds of flood before the RSS is held to its bound: the sessions' level is reached. */
const RSS_SETTLE_S = 8;
/** RSS growth allowed over the flood once settled: 10%. */
const RSS_GROWTH_BOUND = 0.10;
/** Daemon log lines allowed while the flood runs (none is expected). */
const LOG_LINES_BOUND = 10;
/** When, after the flood, the sessions left are counted (s). */
const AFTER_S = 8;
/** How long the client fetches pages before the flood (s). */
const BEFORE_S = 6;

/** The daemon's resident set, kB (`VmRSS`). */
async function rssKb(pid: number): Promise<number> {
  const text = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = /^VmRSS:\s+(\d+) kB/m.exec(text);
  if (m === null) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

/** Figures of one stretch of the client's closed loop of page fetches. */
interface Fetches {
  tried: number;
  ok: number;
  perSecond: number;
  /** Median and 90th percentile of the successful fetches' connect times (s). */
  connectP50: number;
  connectP90: number;
}

/**
 * Fetches `url` from the client namespace for `seconds`, one new connection after another
 * (curl's own loop: one process, so the client's cost is curl's, not a process per request),
 * each allowed 3 s to connect (the SYN and two retransmissions) and 5 s in all.
 */
async function fetchLoop(ns: string, url: string, seconds: number): Promise<Fetches> {
  const argv = inNetns(ns, [
    "timeout",
    String(seconds),
    "curl",
    "-s",
    "-H",
    "Connection: close",
    "--connect-timeout",
    "3",
    "--max-time",
    "5",
    "-w",
    "%{stderr}%{http_code} %{time_connect}\\n",
    // curl's URL glob: 100,000 transfers, each a new connection, bodies to stdout (dropped).
    `${url}?n=[1-100000]`,
  ]);
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdout: "null",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(out.stderr).split("\n").filter((l) => l !== "")
    .map((l) => l.split(" "));
  // The transfer `timeout` cut short reports 000: it was not refused, only stopped.
  if (lines.at(-1)?.[0] === "000") lines.pop();
  const connects = lines.filter(([c]) => c === "200").map(([, t]) => Number(t)).sort((a, b) =>
    a - b
  );
  const at = (q: number) =>
    connects[Math.min(connects.length - 1, Math.floor(q * connects.length))];
  return {
    tried: lines.length,
    ok: connects.length,
    perSecond: connects.length / seconds,
    connectP50: at(0.5) ?? NaN,
    connectP90: at(0.9) ?? NaN,
  };
}

/** Seconds as milliseconds, for printing. */
const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;

/** `n` as a percentage of `of`, one decimal. */
const pct = (n: number, of: number) => of === 0 ? "-" : `${(100 * n / of).toFixed(1)}%`;

/** What one flood run measured, for the variant's own checks. */
interface FloodRun {
  /** SYNs hping3 sent and the seconds the flood ran. */
  sent: number;
  floodSeconds: number;
  /** Engine counter deltas from before the flood to its end. */
  delta: (k: string) => number;
  before: Fetches;
  during: Fetches;
  peakSessions: number;
  sessionCapacity: number;
  /** SYNs the real servers received over the flood (iptables counter in `rs`). */
  rsSyns: number;
}

/** A variant of the flood run: the SYN proxy on or off, how many packet workers. */
interface FloodOptions {
  synProxy: boolean;
  workers: number;
}

/**
 * Builds the bed (the service, its limits, with or without the SYN proxy), fetches pages
 * before and during a full-speed hping3 flood, samples the daemon's RSS and sessions, prints
 * the figures, holds the bounds every variant shares (RSS, table, ports, log) and hands what
 * it measured to `check`.
 */
async function floodRun(opts: FloodOptions, check: (r: FloodRun) => void): Promise<void> {
  const label = `${opts.synProxy ? "SYN proxy on" : "SYN proxy off"}, ${opts.workers} ` +
    `worker${opts.workers === 1 ? "" : "s"}`;
  const daemonArgs = opts.workers === 1 ? [] : ["--workers", String(opts.workers)];
  await withFamilyBed({ nginx: {}, daemonArgs }, async ({ topo, lb }) => {
    const vip = topo.addrs.vips[0];
    await addFullnatService(
      lb,
      "tcp",
      vip,
      80,
      topo.addrs.realServers,
      topo.addrs.localAddrs,
    );
    // Per-source limits a real client stays well within: curl opens one connection at a
    // time, up to 900 a second here, each session held 7 s in TIME_WAIT after it (6,300
    // open), and with N workers each enforces 1/N of a limit. (Limits of 200/s and 100
    // sessions throttled the client itself to 100 sessions in 7 s: the 16.7 conn/s measured
    // before.) Against random sources they refuse little, which is what this measures.
    const edit = await lb.cli(
      "service",
      "edit",
      "tcp",
      `${vip}:80`,
      "--source-rate",
      "5000",
      "--source-sessions",
      "20000",
    );
    assert.equal(edit.code, 0, edit.stderr);
    if (opts.synProxy) await lb.ipvsadmOk("-E", "-t", `${vip}:80`, "-j", "enable");
    // Replies to the spoofed sources (cookie SYN-ACKs, the servers' SYN-ACKs) leave lb as they
    // would toward the internet, by a default route: to the client namespace, which does not
    // forward and drops them. Without one lb's kernel dropped them unroutable, before they
    // cost a transmit.
    await topo.exec("client", ["sysctl", "-qw", "net.ipv4.ip_forward=0"], { check: true });
    await topo.exec("lb", ["ip", "route", "add", "default", "via", topo.addrs.client], {
      check: true,
    });
    const rsSynCounter = await addInputCounter(
      topo,
      "rs",
      ["-p", "tcp", "--dport", "80", "--syn"],
      "flood-rs-syns",
    );
    const control = await ControlClient.connect(lb.socket);
    try {
      const { pid } = await control.call("daemonInfo") as { pid: number };
      type Status = {
        sessions: number;
        sessionCapacity: number;
        engine: Record<string, number>;
        kernel: Record<string, number> | null;
      };
      const status = () => control.call("status") as Promise<Status>;
      const url = `http://${vip}/`;

      // Before: the client alone.
      const before = await fetchLoop(topo.client, url, BEFORE_S);
      const s0 = await status();
      const rsSyns0 = await rsSynCounter.count();
      const logBefore = lb.log().split("\n").length;

      // The flood and the client together, sampled every second.
      const samples: { t: number; rss: number; sessions: number }[] = [];
      const t0 = performance.now();
      let flooding = true;
      const sampler = (async () => {
        while (flooding) {
          const [rss, s] = await Promise.all([rssKb(pid), status()]);
          samples.push({ t: (performance.now() - t0) / 1000, rss, sessions: s.sessions });
          await new Promise((r) => setTimeout(r, 1000));
        }
      })();
      const floodArgv = inNetns(topo.client, [
        "timeout",
        "-s",
        "INT",
        String(FLOOD_S),
        "hping3",
        "--flood",
        "--rand-source",
        "-S",
        "-p",
        "80",
        vip,
      ]);
      const flood = new Deno.Command(floodArgv[0], {
        args: floodArgv.slice(1),
        stdout: "piped",
        stderr: "piped",
      }).output();
      // The client starts once the flood is under way and stops before it ends.
      await new Promise((r) => setTimeout(r, 1000));
      const during = await fetchLoop(topo.client, url, FLOOD_S - 3);
      const floodOut = await flood;
      const floodSeconds = (performance.now() - t0) / 1000;
      flooding = false;
      await sampler;
      const s1 = await status();
      const rsSyns = (await rsSynCounter.count()) - rsSyns0;
      const logLines = lb.log().split("\n").length - logBefore;
      // What still holds a port well after the last SYN: sessions that never saw their real
      // server's SYN-ACK (the full queue dropped it) wait out tcpSynRecv (30 s), not tcpSynAck.
      await new Promise((r) => setTimeout(r, AFTER_S * 1000));
      const after = (await status()).sessions;

      const hpingText = new TextDecoder().decode(floodOut.stdout) +
        new TextDecoder().decode(floodOut.stderr);
      const sentMatch = /(\d+) packets transmitted/.exec(hpingText);
      assert.ok(sentMatch !== null, `hping3 said: ${hpingText}`);
      const sent = Number(sentMatch[1]);
      const e0 = s0.engine, e1 = s1.engine;
      const delta = (k: string) => (e1[k] ?? 0) - (e0[k] ?? 0);
      const seen = delta("packets");
      const kernelDropped = s1.kernel && s0.kernel
        ? s1.kernel.queueDropped - s0.kernel.queueDropped
        : NaN;
      const settled = samples.filter((s) => s.t >= RSS_SETTLE_S);
      const rssAll = samples.map((s) => s.rss);
      const rssSettled = settled.map((s) => s.rss);
      const peakSessions = Math.max(...samples.map((s) => s.sessions));
      // A local port is unique per (local address, real server): the service's ports.
      const [lo, hi] = DEFAULT_LOCAL_PORT_RANGE;
      const ports = topo.addrs.localAddrs.length * topo.addrs.realServers.length * (hi - lo + 1);
      const perS = (n: number) => (n / floodSeconds).toFixed(0);

      console.log(
        `flood (${label}): hping3 sent ${sent} SYNs in ${floodSeconds.toFixed(1)} s ` +
          `(${perS(sent)}/s); the engine saw ${seen} packets (${perS(seen)}/s), the queue ` +
          `dropped ${kernelDropped} (full); SYN proxy cookies sent ` +
          `${delta("synProxyCookiesSent")} (${perS(delta("synProxyCookiesSent"))}/s), valid ` +
          `cookie ACKs ${delta("synProxyCookieValid")}; sessions made ` +
          `${delta("sessionsCreated")}, SYNs at the real servers ${rsSyns}, peak sessions ` +
          `${peakSessions} (table ${s1.sessionCapacity}, local ports ${ports}), ${after} left ` +
          `${AFTER_S} s after the last SYN; refused: ports ${delta("portExhausted")}, table ` +
          `${delta("tableFull")}, source rate ${delta("sourceRateRefused")}, source sessions ` +
          `${delta("sourceSessionsRefused")}, bad checksum ${delta("badChecksum")}; ` +
          `resets sent ${delta("resetsSent")}`,
      );
      console.log(
        `client (${label}): before ${before.ok}/${before.tried} ok ` +
          `(${pct(before.ok, before.tried)}), ${before.perSecond.toFixed(1)} conn/s, connect ` +
          `p50/p90 ${ms(before.connectP50)}/${ms(before.connectP90)}; during ${during.ok}/` +
          `${during.tried} ok (${pct(during.ok, during.tried)}), ` +
          `${during.perSecond.toFixed(1)} conn/s, connect p50/p90 ${ms(during.connectP50)}/` +
          `${ms(during.connectP90)} (a SYN the full queue dropped is sent again 1 s later)`,
      );
      console.log(
        `daemon RSS (${label}, kB): before ${rssAll[0]}, over the flood min ` +
          `${Math.min(...rssAll)} max ${Math.max(...rssAll)} end ${rssAll.at(-1)}; after ` +
          `${RSS_SETTLE_S} s min ${Math.min(...rssSettled)} max ${Math.max(...rssSettled)}; ` +
          `log lines during the flood ${logLines}; samples ` +
          samples.map((s) => `${s.t.toFixed(0)}s:${s.rss}/${s.sessions}`).join(" "),
      );

      assert.ok(sent > 0 && seen > 0, "the flood reached the engine");
      assert.ok(rssSettled.length >= 10, `${rssSettled.length} RSS samples after settling`);
      const growth = Math.max(...rssSettled) / rssSettled[0] - 1;
      assert.ok(
        growth < RSS_GROWTH_BOUND,
        `RSS grew ${(growth * 100).toFixed(1)}% after the first ${RSS_SETTLE_S} s`,
      );
      assert.ok(peakSessions < s1.sessionCapacity, "sessions below the table's capacity");
      assert.equal(delta("tableFull"), 0, "the table never filled");
      // Ports: with 2 local addresses (387,066 ports over the 3 servers) the flood's sessions
      // took every port in some runs on this machine (README "Under a flood"); with the bed's 4
      // (774,132) refusals for want of one must stay a trace.
      assert.ok(
        delta("portExhausted") <= delta("sessionsCreated") / 1000,
        `${delta("portExhausted")} SYNs found no local port`,
      );
      assert.ok(logLines < LOG_LINES_BOUND, `the daemon logged ${logLines} lines:\n${lb.log()}`);
      assert.ok(before.ok > 0 && before.ok === before.tried, "every request before the flood");
      check({
        sent,
        floodSeconds,
        delta,
        before,
        during,
        peakSessions,
        sessionCapacity: s1.sessionCapacity,
        rsSyns,
      });
    } finally {
      control.close();
    }
  });
}

Deno.test("e2e spoofed SYN flood at full speed: the daemon's memory, sessions and log stay bounded while a client fetches pages", async () => {
  await floodRun({ synProxy: false, workers: 1 }, (r) => {
    // Without the proxy every admitted flood SYN is a session and a SYN at a real server.
    assert.ok(r.rsSyns >= r.delta("sessionsCreated") * 0.9, `${r.rsSyns} SYNs at the servers`);
  });
});

/**
 * Issue 16 point 6 with the SYN proxy: the same flood, the service proxied. No flood SYN may
 * reach a real server (they never answer their cookie, so the only sessions are the client's:
 * one SYN at the servers each), the client is served at least 99% of the time, and the memory
 * stays flat as without the proxy (cookies keep nothing).
 */
for (const workers of [1, 2]) {
  Deno.test(`e2e spoofed SYN flood at full speed with the SYN proxy, ${workers} worker(s): no flood SYN reaches a real server, the client is served, memory stays flat`, async () => {
    await floodRun({ synProxy: true, workers }, (r) => {
      const sessions = r.delta("sessionsCreated");
      assert.ok(r.delta("synProxyCookiesSent") > 0, "the proxy answered the flood");
      assert.equal(r.rsSyns, sessions, "a SYN at the real servers per session, none else");
      // Two client connections are not in `tried`: the last of the loop before (cut short by
      // `timeout` as the counters were read) and the last of the loop during.
      assert.ok(
        sessions <= r.during.tried + 2,
        `${sessions} sessions for the client's ${r.during.tried} connections: flood SYNs got in`,
      );
      assert.ok(
        r.during.ok / r.during.tried >= 0.99,
        `the client was served ${r.during.ok} of ${r.during.tried} times during the flood`,
      );
    });
  });
}
