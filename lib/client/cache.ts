// The client SDK's memory: a bounded LRU of exchanged tokens, each served until a safe margin
// before it expires, and a single-flight table that collapses identical concurrent requests.
// Keys are opaque digests chosen by the caller (never raw tokens).

import type { Clock } from '../shared/clock.ts';

export interface CacheOptions {
  /** Entries kept at most; the least recently used goes first (default 500). */
  readonly maxEntries?: number;
  /** Refresh this long before expiry, within the bounds below (default 60 s). */
  readonly marginSeconds?: number;
  /** ...but never less than this share of the lifetime (default 0.1). */
  readonly marginRatio?: number;
}

/**
 * Seconds before expiry at which a cached token stops being served:
 * `max(ratio × lifetime, min(marginSeconds, lifetime / 2))`. A 5-minute token is refreshed 60 s
 * early, a 15-minute token 90 s early, a 60 s token 30 s early.
 */
export function refreshMargin(lifetimeSeconds: number, options: CacheOptions = {}): number {
  const ratio = options.marginRatio ?? 0.1;
  const seconds = options.marginSeconds ?? 60;
  return Math.max(ratio * lifetimeSeconds, Math.min(seconds, lifetimeSeconds / 2));
}

interface Entry<T> {
  readonly value: T;
  /** Epoch ms after which the entry is no longer served. */
  readonly freshUntil: number;
}

export class TokenCache<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #maxEntries: number;
  readonly #options: CacheOptions;
  readonly #clock: Clock;

  constructor(options: CacheOptions, clock: Clock) {
    this.#options = options;
    this.#clock = clock;
    this.#maxEntries = Math.max(1, options.maxEntries ?? 500);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The fresh value for `key`, marked most recently used; stale entries are dropped. */
  get(key: string): T | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    if (this.#clock() >= entry.freshUntil) return undefined;
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Stores a value obtained at `obtainedAt` (epoch ms) that lives `lifetimeSeconds`. */
  set(key: string, value: T, obtainedAt: number, lifetimeSeconds: number): void {
    const freshUntil = obtainedAt + (lifetimeSeconds - refreshMargin(lifetimeSeconds, this.#options)) * 1000;
    if (freshUntil <= this.#clock()) return;
    this.#entries.delete(key);
    this.#entries.set(key, { value, freshUntil });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  delete(key: string): boolean {
    return this.#entries.delete(key);
  }

  /** Drops every entry whose value matches. */
  deleteWhere(predicate: (value: T) => boolean): number {
    let removed = 0;
    for (const [key, entry] of this.#entries) {
      if (predicate(entry.value)) {
        this.#entries.delete(key);
        removed++;
      }
    }
    return removed;
  }

  clear(): void {
    this.#entries.clear();
  }
}

/** Runs at most one `work()` per key at a time; concurrent callers share its promise. */
export class SingleFlight<T> {
  readonly #flights = new Map<string, Promise<T>>();

  get inFlight(): number {
    return this.#flights.size;
  }

  run(key: string, work: () => Promise<T>): Promise<T> {
    const current = this.#flights.get(key);
    if (current) return current;
    const flight = work().finally(() => this.#flights.delete(key));
    this.#flights.set(key, flight);
    return flight;
  }
}
