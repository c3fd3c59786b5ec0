/**
 * End to end, the upgrade procedure of the README ("Sessions outlive the daemon"): a daemon
 * of the previous release (the code of commit {@linkcode PREVIOUS}, taken from this
 * repository's history into a temporary directory) carries an idle TCP connection; it is
 * restarted with the `restart` control op (what `fullnat restart` sends) and this checkout's
 * daemon is started on the same run and state directories, as the new code would be. The new
 * daemon takes the old one's sessions over, the connection carries data again, and new
 * connections flow.
 *
 * The previous release must be in the clone's history; a shallow clone has no such commit,
 * and then the test is reported as ignored rather than passed.
 */
import assert from "node:assert/strict";
import { ControlClient } from "../../../src/ctl/client.ts";
import { createTopology } from "../../../testkit/netns.ts";
import { type Balancer, startBalancer } from "../../../testkit/balancer.ts";
import { echoThroughBalancer, type LinePeer } from "../../../testkit/line_peer.ts";

/** The last release before this one: run directory layout version 1. */
const PREVIOUS = "e54a68a8218d53d37203ceec1d26e24968b5dbd1";
const REPO = new URL("../../../", import.meta.url).pathname;
const PORT = 9100;

const hasPrevious = new Deno.Command("git", {
  args: ["-C", REPO, "cat-file", "-e", `${PREVIOUS}^{commit}`],
  stdout: "null",
  stderr: "null",
}).outputSync().success;

/** Extracts commit `rev` of this repository into `dir`. */
async function checkout(rev: string, dir: string): Promise<void> {
  const archive = new Deno.Command("git", {
    args: ["-C", REPO, "archive", "--format=tar", rev],
    stdout: "piped",
  }).spawn();
  const tar = new Deno.Command("tar", { args: ["-x", "-C", dir], stdin: "piped" }).spawn();
  await archive.stdout.pipeTo(tar.stdin);
  const [a, t] = await Promise.all([archive.status, tar.status]);
  if (!a.success || !t.success) throw new Error(`could not extract ${rev}`);
}

Deno.test({
  name: "e2e: upgrade: the previous release's sessions are taken over by this code after a restart",
  ignore: !hasPrevious,
  async fn() {
    const topo = await createTopology();
    const dir = await Deno.makeTempDir({ prefix: "fullnat-upgrade-" });
    const old = `${dir}/previous`;
    await Deno.mkdir(old);
    const args = ["--run-dir", `${dir}/run`, "--state-dir", `${dir}/state`];
    let lb: Balancer | undefined;
    const peers: LinePeer[] = [];
    try {
      await checkout(PREVIOUS, old);
      lb = await startBalancer(topo, args, { main: `${old}/main.ts` });
      const { client } = await echoThroughBalancer(topo, lb, PORT, peers);
      await client.say("open a");
      await client.expect(/opened a \d+/);
      await client.say("send a before");
      await client.expect(/reply a before \d+/);

      const control = await ControlClient.connect(lb.socket);
      try {
        await control.call("restart");
      } finally {
        control.close();
      }
      assert.equal((await lb.exited()).code, 0, "the old daemon exited for the restart");
      await lb.kill();
      lb = await startBalancer(topo, args);
      assert.match(lb.log(), /worker 0: took over 1 session\(s\)/, lb.log());

      await client.say("send a after");
      await client.expect(/reply a after \d+/);
      await client.say("open b");
      await client.expect(/opened b \d+/);
      await client.say("send b new");
      await client.expect(/reply b new \d+/);
      const st = await lb.status();
      assert.equal(st.engine.noSessionResets, 0);
    } finally {
      for (const p of peers) await p.close();
      if (lb) await lb.stop();
      await topo.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
