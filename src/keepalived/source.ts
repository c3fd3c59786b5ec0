/**
 * Where an import reads its files: the file system (paths relative to a base directory, the
 * current one by default), or a set of texts in memory for tests. Paths stay as the user
 * would write them (`conf.d/web.conf`), so messages name files the way the configuration does;
 * only the source turns them into real locations.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { memorySource } from "./source.ts";
 * const src = memorySource({ "keepalived.conf": "include conf.d/*.conf\n", "conf.d/a.conf": "" });
 * assert.deepEqual((await src.list("conf.d")).map((e) => e.name), ["a.conf"]);
 * ```
 *
 * @module
 */
import { dirname, isAbsolute, normalize, resolve } from "node:path";

/** An entry of a directory listing. */
export interface DirEntry {
  name: string;
  isDirectory: boolean;
}

/** File access for an import. */
export interface KeepalivedSource {
  /** The text of a file; throws `Deno.errors.NotFound` when there is none. */
  read(path: string): Promise<string>;
  /** The entries of a directory; an empty list when there is none. */
  list(dir: string): Promise<DirEntry[]>;
  /** One name per file however it is reached (symbolic links, `..`): for finding include cycles. */
  identity(path: string): Promise<string>;
}

/** The file system, relative paths taken from `base` (the current directory by default). */
export function fsSource(base: string = Deno.cwd()): KeepalivedSource {
  const real = (path: string) => (isAbsolute(path) ? path : resolve(base, path));
  return {
    async read(path) {
      const info = await Deno.stat(real(path));
      if (info.isDirectory) throw new Deno.errors.IsADirectory(`${path} is a directory`);
      return await Deno.readTextFile(real(path));
    },
    async list(dir) {
      const out: DirEntry[] = [];
      try {
        for await (const e of Deno.readDir(real(dir))) {
          out.push({ name: e.name, isDirectory: e.isDirectory });
        }
      } catch (e) {
        if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return [];
        throw e;
      }
      return out;
    },
    async identity(path) {
      try {
        return await Deno.realPath(real(path));
      } catch {
        return real(path);
      }
    },
  };
}

/** Files held in memory, keyed by path (for tests). */
export function memorySource(files: Record<string, string>): KeepalivedSource {
  const norm = (p: string) => normalize(p).replace(/\/$/, "");
  const texts = new Map(Object.entries(files).map(([k, v]) => [norm(k), v]));
  return {
    read(path) {
      const text = texts.get(norm(path));
      if (text === undefined) return Promise.reject(new Deno.errors.NotFound(path));
      return Promise.resolve(text);
    },
    list(dir) {
      const d = norm(dir);
      const seen = new Map<string, boolean>();
      for (const path of texts.keys()) {
        const parent = dirname(path);
        if (parent === d) seen.set(path.slice(d === "." ? 0 : d.length + 1), false);
        else if (d === "." || parent.startsWith(`${d}/`)) {
          const rest = d === "." ? parent : parent.slice(d.length + 1);
          seen.set(rest.split("/")[0], true);
        }
      }
      return Promise.resolve(
        [...seen].map(([name, isDirectory]) => ({ name, isDirectory })),
      );
    },
    identity(path) {
      return Promise.resolve(norm(path));
    },
  };
}
