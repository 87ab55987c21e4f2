// The token-exchange composite action's step: GitHub OIDC token -> RFC 8693 exchange -> masked
// step output. Plain Node (18+), no dependencies. No token is ever printed: both the OIDC token
// and the exchanged token are masked (`::add-mask::`) before anything else can echo them.
import { appendFileSync } from 'node:fs';

const env = process.env;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const MAX_ATTEMPTS = 4;

/** Workflow command data escaping (the runner's own rules). */
const escapeData = (text) => String(text).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const fail = (message) => {
  process.stdout.write(`::error title=STS token exchange::${escapeData(message)}\n`);
  process.exit(1);
};
const mask = (value) => process.stdout.write(`::add-mask::${escapeData(value)}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function endpointUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    fail('input endpoint is not a URL');
  }
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname)))) {
    fail('input endpoint must be https');
  }
  return text.replace(/\/+$/, '');
}

/** fetch with retries of 429/502/503/504 and network errors, honouring Retry-After. */
async function request(url, init) {
  for (let attempt = 1; ; attempt++) {
    let response;
    try {
      response = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(15_000) });
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS)
        fail(`could not reach ${new URL(url).host}: ${error.cause?.code ?? error.name}`);
    }
    if (response && ![429, 502, 503, 504].includes(response.status)) return response;
    if (response && attempt >= MAX_ATTEMPTS) return response;
    const retryAfter = Number(response?.headers.get('retry-after'));
    const delay =
      Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 30) * 1000 : 500 * 2 ** attempt;
    await sleep(delay + Math.random() * 250);
  }
}

async function oidcToken(audience) {
  const requestUrl = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const requestToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!requestUrl || !requestToken) {
    fail('no OIDC token available: give the job `permissions: id-token: write`');
  }
  mask(requestToken);
  const url = new URL(requestUrl);
  url.searchParams.set('audience', audience);
  const response = await request(url.href, {
    headers: { Authorization: `Bearer ${requestToken}`, Accept: 'application/json' },
  });
  if (!response.ok) fail(`GitHub refused the OIDC token request (HTTP ${response.status})`);
  const body = await response.json().catch(() => ({}));
  if (typeof body.value !== 'string' || !body.value) fail('GitHub answered without an OIDC token');
  mask(body.value);
  return body.value;
}

async function main() {
  const endpoint = endpointUrl(env.STS_ENDPOINT ?? '');
  const audience = env.STS_AUDIENCE;
  if (!audience) fail('input audience is required');
  const subjectToken = await oidcToken(env.STS_OIDC_AUDIENCE || endpoint);
  const form = new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: subjectToken,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    audience,
  });
  const scope = (env.STS_SCOPE ?? '').trim().split(/\s+/).filter(Boolean).join(' ');
  if (scope) form.set('scope', scope);
  const response = await request(`${endpoint}/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: form.toString(),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || typeof body.access_token !== 'string' || !/^[\w.~+/=-]+$/.test(body.access_token)) {
    const code = typeof body.error === 'string' ? body.error : 'invalid_response';
    const description = typeof body.error_description === 'string' ? `: ${body.error_description}` : '';
    fail(`the STS refused the exchange (HTTP ${response.status}) ${code}${description}`);
  }
  mask(body.access_token);
  const outputs = [
    `token=${body.access_token}`,
    `expires-in=${Number(body.expires_in) || ''}`,
    `scope=${typeof body.scope === 'string' ? body.scope.replace(/[\r\n]/g, ' ') : ''}`,
  ];
  if (!env.GITHUB_OUTPUT) fail('GITHUB_OUTPUT is not set (not running in GitHub Actions?)');
  appendFileSync(env.GITHUB_OUTPUT, `${outputs.join('\n')}\n`);
  process.stdout.write(
    `exchanged the OIDC token for ${audience} (expires in ${body.expires_in}s${scope ? `, scope ${body.scope}` : ''})\n`,
  );
}

await main();
