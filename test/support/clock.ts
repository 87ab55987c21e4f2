import type { Clock } from '../../lib/shared/clock.ts';

/** 2030-01-01T00:00:00Z in milliseconds: the instant every frozen clock starts at by default. */
export const T0 = Date.UTC(2030, 0, 1);

/** A clock that stands still until the test moves it. */
export interface FrozenClock extends Clock {
  /** Moves time forward (or back, when negative) by `seconds`. */
  advance(seconds: number): void;
  /** The current time in whole epoch seconds, as JWT claims use. */
  seconds(): number;
}

/** A frozen clock for the injected `clock` dependency, starting at `start` (ms since the epoch). */
export function frozenClock(start = T0): FrozenClock {
  let now = start;
  return Object.assign(() => now, {
    advance: (seconds: number) => {
      now += seconds * 1000;
    },
    seconds: () => Math.floor(now / 1000),
  });
}
