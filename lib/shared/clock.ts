/** The one source of time: milliseconds since the epoch. Injected everywhere so tests can freeze it. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

/** Whole seconds since the epoch, as JWT `iat`/`exp` use. */
export const epochSeconds = (clock: Clock): number => Math.floor(clock() / 1000);
