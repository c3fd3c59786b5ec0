/**
 * The daemon's names (VIPs, real servers, local addresses) for tab completion, fetched on
 * demand and kept briefly, so pressing Tab twice costs one request and a change made in this
 * session shows at the next Tab. A slow or absent daemon yields no names, never a hang.
 *
 * @module
 */
import type { ServiceView } from "../fullnat/types.ts";
import { type KnownService, knownServices } from "./complete.ts";

/** Options of {@linkcode NameCache}. */
export interface NameCacheOptions {
  /** How long fetched names are reused, in ms (default 3000). */
  ttlMs?: number;
  /** How long to wait for the daemon, in ms (default 1000). */
  timeoutMs?: number;
  /** Milliseconds clock (tests inject one). */
  now?: () => number;
}

/** Fetches and caches the names completion offers. */
export class NameCache {
  readonly #fetch: () => Promise<ServiceView[]>;
  readonly #ttl: number;
  readonly #timeout: number;
  readonly #now: () => number;
  #names: KnownService[] = [];
  #fetchedAt = -Infinity;

  constructor(fetch: () => Promise<ServiceView[]>, options: NameCacheOptions = {}) {
    this.#fetch = fetch;
    this.#ttl = options.ttlMs ?? 3000;
    this.#timeout = options.timeoutMs ?? 1000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Forgets the cached names (after a change). */
  invalidate(): void {
    this.#fetchedAt = -Infinity;
  }

  /** The names, fetched again when older than the TTL; empty when the daemon cannot answer. */
  async get(): Promise<KnownService[]> {
    if (this.#now() - this.#fetchedAt < this.#ttl) return this.#names;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.#timeout);
    });
    try {
      const services = await Promise.race([this.#fetch().catch(() => undefined), timeout]);
      this.#names = services === undefined ? [] : knownServices(services);
    } finally {
      clearTimeout(timer);
    }
    this.#fetchedAt = this.#now();
    return this.#names;
  }
}
