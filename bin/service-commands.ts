// The `sts` commands that call the service: exchange, introspect, revoke, dev-token.

import { StsClient, type TokenSource } from '../lib/client/client.ts';
import type { DpopKey } from '../lib/client/dpop.ts';
import { createHttp, TokenExchangeError } from '../lib/client/http.ts';
import { TOKEN_TYPE } from '../lib/shared/claims.ts';
import { parseDuration } from '../lib/shared/duration.ts';
import {
  type Command,
  EXIT,
  type Io,
  json,
  list,
  readJsonObject,
  scopesOf,
  str,
  tokenOption,
  UsageError,
  type Values,
  withPeers,
} from './cli-io.ts';
import { dpopKeyOption } from './dpop-commands.ts';

function client(values: Values, io: Io, dpop?: DpopKey): StsClient {
  const endpoint = str(values, 'endpoint') ?? io.env.STS_ENDPOINT;
  if (!endpoint) throw new UsageError('--endpoint (or STS_ENDPOINT) is required');
  try {
    return new StsClient({ endpoint, cache: false, dpop });
  } catch (error) {
    throw new UsageError(`--endpoint: ${(error as Error).message}`);
  }
}

/** `--aws-identity subject|actor`: the caller's AWS identity, loaded only when asked for (AWS SDK code). */
async function awsIdentityOption(
  values: Values,
  io: Io,
): Promise<['subject' | 'actor', TokenSource] | undefined> {
  const role = str(values, 'aws-identity');
  if (role === undefined) return undefined;
  if (role !== 'subject' && role !== 'actor')
    throw new UsageError('--aws-identity: expected subject or actor');
  const { awsIdentity } = await withPeers(
    '--aws-identity signs with your AWS credentials',
    ['@aws-sdk/credential-provider-node', '@smithy/signature-v4'],
    () => import('../lib/client/aws-identity.ts'),
  );
  return [role, awsIdentity({ audience: str(values, 'aws-audience'), env: io.env })];
}

export const exchange: Command = async (values, _positionals, io) => {
  const aws = await awsIdentityOption(values, io);
  const subjectToken =
    aws?.[0] === 'subject'
      ? aws[1]
      : await tokenOption(io, str(values, 'subject-token'), '--subject-token', 'STS_SUBJECT_TOKEN');
  if (!subjectToken)
    throw new UsageError('--subject-token (or STS_SUBJECT_TOKEN, or --aws-identity subject) is required');
  const actorToken =
    aws?.[0] === 'actor'
      ? aws[1]
      : await tokenOption(io, str(values, 'actor-token'), '--actor-token', 'STS_ACTOR_TOKEN');
  const audience = str(values, 'audience');
  const resource = str(values, 'resource');
  if (!audience === !resource) throw new UsageError('exactly one of --audience and --resource is required');
  // With a DPoP key, the token comes back bound to it (token_type DPoP).
  const sts = client(values, io, await dpopKeyOption(values, io));
  const result = await sts.exchange({
    subjectToken,
    subjectTokenType: str(values, 'subject-token-type') ?? TOKEN_TYPE.jwt,
    actorToken,
    actorTokenType: str(values, 'actor-token-type'),
    audience,
    resource,
    scope: scopesOf(list(values, 'scope')),
    requestedTokenType: str(values, 'requested-token-type'),
  });
  io.secret(result.accessToken);
  if (values.json) {
    io.out(
      json(
        {
          access_token: result.accessToken,
          issued_token_type: result.issuedTokenType,
          token_type: result.tokenType,
          expires_in: result.expiresIn,
          ...(result.scope ? { scope: result.scope } : {}),
        },
        true,
      ),
    );
  } else {
    io.out(`${result.accessToken}\n`);
  }
  return EXIT.ok;
};

async function tokenToInspect(values: Values, io: Io): Promise<string> {
  const token = await tokenOption(io, str(values, 'token'), '--token', 'STS_TOKEN');
  if (!token) throw new UsageError('--token (or STS_TOKEN) is required');
  return token;
}

export const introspect: Command = async (values, _positionals, io) => {
  const token = await tokenToInspect(values, io);
  const adminToken = str(values, 'admin-token') ?? io.env.STS_ADMIN_TOKEN;
  if (adminToken) io.secret(adminToken);
  const result = await client(values, io)
    .introspect(token, { adminToken, tokenTypeHint: str(values, 'token-type-hint') })
    .catch((error: unknown) => {
      if (error instanceof TokenExchangeError && error.status === 401 && !adminToken)
        io.err(
          'sts introspect: the route wants a credential: --admin-token or STS_ADMIN_TOKEN (the local server)\n',
        );
      throw error;
    });
  io.out(json(result, Boolean(values.json)));
  if (!result.active) io.err('sts introspect: the token is not active\n');
  return result.active ? EXIT.ok : EXIT.refused;
};

export const revoke: Command = async (values, _positionals, io) => {
  const token = await tokenToInspect(values, io);
  await client(values, io).revoke(token, { tokenTypeHint: str(values, 'token-type-hint') });
  if (values.json) io.out(json({ revoked: true }, true));
  else io.err('sts revoke: revocation accepted (RFC 7009 answers the same for unknown tokens)\n');
  return EXIT.ok;
};

export const devToken: Command = async (values, _positionals, io) => {
  const sts = client(values, io);
  const lifetimeText = str(values, 'lifetime');
  const lifetime =
    lifetimeText === undefined
      ? undefined
      : /^\d+$/.test(lifetimeText)
        ? Number(lifetimeText)
        : parseDuration(lifetimeText);
  if (lifetime === undefined && lifetimeText !== undefined) {
    throw new UsageError('--lifetime: expected seconds or a duration such as "10m"');
  }
  const claimsText = str(values, 'claims');
  const claims =
    claimsText === undefined ? undefined : JSON.stringify(readJsonObject(claimsText, '--claims'));
  const response = await createHttp().postForm(`${sts.endpoint}/dev/token`, {
    sub: str(values, 'sub'),
    aud: str(values, 'aud'),
    lifetime: lifetime === undefined ? undefined : String(lifetime),
    claims,
  });
  const token = io.secret(response.body.trim());
  if (!token) throw new TokenExchangeError('invalid_response', response.status, 'empty development token');
  io.out(
    values.json ? json({ subject_token: token, subject_token_type: TOKEN_TYPE.jwt }, true) : `${token}\n`,
  );
  return EXIT.ok;
};
