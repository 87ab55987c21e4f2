import { parseForm } from '../lib/exchange/form.ts';
import { parseTokenRequest } from '../lib/revocation/revocation.ts';
import { storeRuntime } from './container-store.ts';
import { defineHandler } from './define-handler.ts';
import { bodyBytes, header, NO_STORE } from './http.ts';
import { revocationServices } from './revocation-services.ts';

/** POST /revoke: RFC 7009 revocation by the token's holder; 200 also for tokens not ours. */
export const createHandler = defineHandler(storeRuntime, async (event, runtime) => {
  const { token } = parseTokenRequest(parseForm(bodyBytes(event), header(event, 'content-type')));
  await revocationServices(runtime).revocation.revokeToken(token);
  return { statusCode: 200, headers: { ...NO_STORE }, body: '' };
});

export const handler = createHandler();
