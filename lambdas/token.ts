import { parseForm } from '../lib/exchange/form.ts';
import { exchangeRuntime } from './container-exchange.ts';
import { defineHandler } from './define-handler.ts';
import { bodyBytes, header, json, NO_STORE } from './http.ts';

/** POST /token: RFC 8693 token exchange. */
export const createHandler = defineHandler(exchangeRuntime, async (event, runtime) => {
  const form = parseForm(bodyBytes(event), header(event, 'content-type'));
  const response = await runtime.exchange.exchange(form, { dpop: header(event, 'dpop') });
  // RFC 9449 §8.2: with nonces required, every answer carries the nonce for the next proof.
  const headers: Record<string, string> = { ...NO_STORE };
  if (runtime.config.dpop.requireNonce) headers['DPoP-Nonce'] = runtime.dpopNonces!.current();
  return json(200, response, headers);
});

export const handler = createHandler();
