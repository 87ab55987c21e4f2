import { parseForm } from '../lib/exchange/form.ts';
import { parseAdminRevocationRequest } from '../lib/revocation/revocation.ts';
import { storeRuntime } from './container-store.ts';
import { defineHandler } from './define-handler.ts';
import { bodyBytes, type Event, header, json, NO_STORE } from './http.ts';
import { revocationServices } from './revocation-services.ts';

/**
 * POST /admin/revoke: form `jti=<jti>` revokes one token, `iss=<issuer name or URL>&sub=<subject>`
 * every token of a subject (`iss` may be left out while only one issuer is trusted).
 */
export const createHandler = defineHandler(storeRuntime, async (event, runtime) => {
  const request = parseAdminRevocationRequest(parseForm(bodyBytes(event), header(event, 'content-type')));
  const { revocation } = revocationServices(runtime);
  const by = { admin: adminPrincipal(event) };
  const result =
    'jti' in request
      ? await revocation.revokeJti(request.jti, by)
      : await revocation.revokeSubject(request, by);
  return json(200, result, NO_STORE);
});

/** The IAM principal API Gateway authorized (for the audit log); `local-admin` on the local server. */
function adminPrincipal(event: Event): string {
  const { authorizer } = event.requestContext as { authorizer?: { iam?: { userArn?: string } } };
  return authorizer?.iam?.userArn ?? 'local-admin';
}

export const handler = createHandler();
