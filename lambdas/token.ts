import { parseForm } from '../lib/exchange/form.ts';
import { exchangeRuntime } from './container-exchange.ts';
import { defineHandler } from './define-handler.ts';
import { bodyBytes, header, json, NO_STORE } from './http.ts';

/** POST /token: RFC 8693 token exchange. */
export const createHandler = defineHandler(exchangeRuntime, async (event, runtime) => {
  const form = parseForm(bodyBytes(event), header(event, 'content-type'));
  return json(200, await runtime.exchange.exchange(form), NO_STORE);
});

export const handler = createHandler();
