import assert from "node:assert/strict";
import { join } from "node:path";
import { readSeed, SEED_LABEL } from "../../../src/provision/seed.ts";
import { exampleYaml } from "../../../testkit/provision_fixtures.ts";

const MAIN = new URL("../../../main.ts", import.meta.url).pathname;
const dec = new TextDecoder();

async function run(cmd: string, args: string[]) {
  const out = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { MTOOLS_SKIP_CHECK: "1" },
  }).output();
  return {
    code: out.code,
    stdout: out.stdout,
    text: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

const fullnat = (...args: string[]) => run(Deno.execPath(), ["run", "-A", MAIN, ...args]);

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "fullnat-seed-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("provision seed writes a FAT volume labelled cidata holding the file byte for byte", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "box.yaml");
    // CR LF line ends and a non-ASCII comment must survive unchanged.
    const content = new TextEncoder().encode(exampleYaml().replace("\n", " # Zürich\r\n"));
    await Deno.writeFile(file, content);
    const image = join(dir, "seed.img");
    const r = await fullnat("provision", "seed", file, "-o", image);
    assert.equal(r.code, 0, r.stderr);

    const label = await run("blkid", ["-o", "value", "-s", "LABEL", image]);
    assert.equal(label.text.trim(), SEED_LABEL);
    const type = await run("blkid", ["-o", "value", "-s", "TYPE", image]);
    assert.equal(type.text.trim(), "vfat");
    assert.match((await run("file", ["-b", image])).text, /label: "cidata\s*"/);

    const listing = await run("mdir", ["-i", image, "-b", "::/"]);
    assert.deepEqual(listing.text.trim().split("\n").sort(), ["::/fullnat.yaml", "::/meta-data"]);
    const back = await run("mcopy", ["-n", "-i", image, "::/fullnat.yaml", "-"]);
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(back.stdout, content);
    const meta = await run("mcopy", ["-n", "-i", image, "::/meta-data", "-"]);
    assert.match(meta.text, /^instance-id: fullnat-[0-9a-f]{16}\n$/);

    const seed = await readSeed(image);
    assert.equal(seed.name, "fullnat.yaml");
    assert.equal(seed.format, "yaml");
    assert.deepEqual(seed.content, content);
  });
});

Deno.test("provision seed keeps a JSON file as fullnat.json and replaces an existing image", async () => {
  await withDir(async (dir) => {
    const image = join(dir, "seed.img");
    await Deno.writeTextFile(image, "old contents");
    const file = join(dir, "box.json");
    const text = '{"version": 1, "hostname": "edge-lb-2"}\n';
    await Deno.writeTextFile(file, text);
    const r = await fullnat("provision", "seed", file, "-o", image);
    assert.equal(r.code, 0, r.stderr);
    const seed = await readSeed(image);
    assert.equal(seed.name, "fullnat.json");
    assert.equal(dec.decode(seed.content), text);
    const leftovers = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(leftovers, ["box.json", "seed.img"], "no temporary files left behind");
  });
});

Deno.test("provision seed refuses an invalid file, lists its problems and writes nothing", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "bad.yaml");
    await Deno.writeTextFile(file, "hostname: -x-\nnetwork:\n  vips: { eth0: [300.1.1.1] }\n");
    const image = join(dir, "seed.img");
    const r = await fullnat("provision", "seed", file, "-o", image);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.yaml: 2 problems/);
    assert.match(r.stderr, /hostname \(line 1\): "-x-" is not a valid host name/);
    assert.match(
      r.stderr,
      /network\.vips\.eth0\[0\] \(line 3\): "300\.1\.1\.1" is not an IP address/,
    );
    assert.match(r.stderr, /no seed written; fix the problems above/);
    await assert.rejects(Deno.stat(image), Deno.errors.NotFound);

    const forced = await fullnat("provision", "seed", file, "-o", image, "--allow-invalid");
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(dec.decode((await readSeed(image)).content), await Deno.readTextFile(file));
  });
});

Deno.test("provision check prints every problem and exits 2, or names the sections of a valid file", async () => {
  await withDir(async (dir) => {
    const good = join(dir, "good.yaml");
    await Deno.writeTextFile(good, exampleYaml());
    const ok = await fullnat("provision", "check", good);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.text, `${good}: valid; provisions hostname, admin, network, loadBalancer\n`);

    const bad = join(dir, "bad.yaml");
    await Deno.writeTextFile(bad, exampleYaml().replace("port: 80\n", "port: 99999\n"));
    const r = await fullnat("provision", "check", bad);
    assert.equal(r.code, 2);
    assert.equal(
      r.text,
      `${bad}: 1 problem\n` +
        "  loadBalancer.services[0].port (line 27): must be an integer from 1 to 65535 (got 99999)\n" +
        "sections that would still be applied: hostname, admin, network; not applied: loadBalancer\n",
    );

    const missing = await fullnat("provision", "check", join(dir, "nope.yaml"));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no such provisioning file: .*nope\.yaml/);
  });
});

Deno.test("readSeed() says what is missing when the volume holds no provisioning file", async () => {
  await withDir(async (dir) => {
    const image = join(dir, "empty.img");
    const mk = await run("mkfs.vfat", ["-C", "-n", "cidata", image, "1024"]);
    assert.equal(mk.code, 0, mk.stderr);
    await assert.rejects(readSeed(image), /holds neither fullnat\.yaml nor fullnat\.json/);
  });
});

Deno.test("readSeed() reads a seed of another filesystem (ext4 labelled cidata) through a read-only mount", async () => {
  await withDir(async (dir) => {
    const tree = join(dir, "tree");
    await Deno.mkdir(tree);
    const text = exampleYaml();
    await Deno.writeTextFile(join(tree, "fullnat.yaml"), text);
    const image = join(dir, "seed.ext4");
    const mk = await run("mkfs.ext4", ["-q", "-L", "cidata", "-d", tree, image, "1M"]);
    assert.equal(mk.code, 0, mk.stderr);
    const seed = await readSeed(image);
    assert.equal(seed.name, "fullnat.yaml");
    assert.equal(dec.decode(seed.content), text);
    const mounts = await Deno.readTextFile("/proc/self/mounts");
    assert.doesNotMatch(mounts, /fullnat-seed-/, "the mount is gone again");
  });
});
