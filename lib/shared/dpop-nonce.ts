// Server-provided DPoP nonces (RFC 9449 §8, §9) without state: a nonce is a time step and an
// HMAC-SHA-256 of it under a secret every instance shares (`STS_DPOP_NONCE_SECRET` on the
// service), so any Lambda container accepts a nonce another one handed out. A nonce is valid
// during its own step and the next one: it lives between one and two steps.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { type Clock, epochSeconds } from './clock.ts';

export interface DpopNonces {
  /** The nonce of the current time step (the same in every instance sharing the secret). */
  current(): string;
  /** Whether a nonce was made with this secret for the current or the previous step. */
  isValid(nonce: string): boolean;
}

export interface DpopNonceOptions {
  /** At least 32 bytes. */
  readonly secret: Uint8Array;
  readonly clock: Clock;
  /** Seconds per step (default 300). */
  readonly stepSeconds?: number;
}

const NONCE = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{22})$/;

/** Nonces from a shared secret; throws a TypeError for a secret shorter than 32 bytes. */
export function createDpopNonces(options: DpopNonceOptions): DpopNonces {
  if (options.secret.byteLength < 32) throw new TypeError('DPoP nonce secret: expected at least 32 bytes');
  const secret = Buffer.from(options.secret);
  const step = options.stepSeconds ?? 300;
  const mac = (n: number): Buffer =>
    createHmac('sha256', secret).update(`dpop-nonce:${n}`).digest().subarray(0, 16);
  const stepNow = () => Math.floor(epochSeconds(options.clock) / step);
  let cached: { step: number; nonce: string } | undefined;

  return {
    current() {
      const n = stepNow();
      if (cached?.step !== n)
        cached = { step: n, nonce: `${n.toString(36)}.${mac(n).toString('base64url')}` };
      return cached.nonce;
    },
    isValid(nonce) {
      const match = NONCE.exec(nonce);
      if (!match) return false;
      const n = Number.parseInt(match[1]!, 36);
      const now = stepNow();
      if (n !== now && n !== now - 1) return false;
      return timingSafeEqual(Buffer.from(match[2]!, 'base64url'), mac(n));
    },
  };
}
