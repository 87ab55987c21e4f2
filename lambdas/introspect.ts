import { parseForm } from '../lib/exchange/form.ts';
import { parseTokenRequest } from '../lib/revocation/revocation.ts';
import { storeRuntime } from './container-store.ts';
import { defineHandler } from './define-handler.ts';
import { bodyBytes, header, json, NO_STORE } from './http.ts';
import { revocationServices } from './revocation-services.ts';

/** POST /introspect: RFC 7662 introspection for resource servers (IAM-authorized on AWS). */
export const createHandler = defineHandler(storeRuntime, async (event, runtime) => {
  const { token } = parseTokenRequest(parseForm(bodyBytes(event), header(event, 'content-type')));
  return json(200, await revocationServices(runtime).introspect(token), NO_STORE);
});

export const handler = createHandler();
