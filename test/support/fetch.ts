/**
 * A fake `fetch` for the injected `fetch` dependency: answers fixed URLs from handlers, counts
 * every call, and never touches the network.
 */
export type FetchHandler = (url: string, init: RequestInit | undefined) => Response | Promise<Response>;

export interface FakeFetch {
  /** The function to inject wherever a `fetch` is expected. */
  readonly fetch: typeof fetch;
  /** Every requested URL, in order. */
  readonly calls: string[];
  /** Serves `url` with `handler` from now on (replacing any earlier handler). */
  on(url: string, handler: FetchHandler): void;
  /** Number of calls to `url`, or of all calls when no URL is given. */
  count(url?: string): number;
}

/** Creates a FakeFetch; URLs without a handler answer 404. */
export function createFakeFetch(): FakeFetch {
  const handlers = new Map<string, FetchHandler>();
  const calls: string[] = [];
  const fake = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    calls.push(url);
    const handler = handlers.get(url);
    return handler ? handler(url, init) : new Response('not found', { status: 404 });
  };
  return {
    fetch: fake as typeof fetch,
    calls,
    on: (url, handler) => {
      handlers.set(url, handler);
    },
    count: (url) => (url === undefined ? calls.length : calls.filter((call) => call === url).length),
  };
}

/** A handler answering 200 with `value` as JSON (a fresh Response per call). */
export const jsonResponse =
  (value: unknown, init: ResponseInit = {}): FetchHandler =>
  () =>
    new Response(JSON.stringify(value), {
      status: 200,
      ...init,
      headers: { 'content-type': 'application/json', ...init.headers },
    });

/** A handler failing like an unreachable host (fetch rejects with a TypeError). */
export const unreachable: FetchHandler = () => Promise.reject(new TypeError('fetch failed'));

/** A handler that never answers until the request's signal aborts it (a hung connection). */
export const hangs: FetchHandler = (_url, init) =>
  new Promise((_resolve, reject) => {
    const signal = init?.signal;
    if (!signal) return;
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
