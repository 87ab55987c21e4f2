// The API's JSON access log line. API Gateway pastes `$context` values into the format as they
// are, without JSON escaping, so a value a client controls (User-Agent, the raw path, the query
// string, any header) could close the string and forge fields, or make the line invalid JSON for
// the metric filters. Only variables whose values API Gateway itself chooses from a fixed
// alphabet are logged: ids, times, numbers, the IP, the HTTP method (an RFC 9110 token: no `"` or
// `\`), the matched route key (from lambdas/routes.ts; `-` when no route matched), and the IAM
// caller's ARN (IAM's own character set). Never headers, bodies or the query string, so no token
// ever reaches the log. API Gateway's error messages are left out too: an IAM signature error
// quotes the caller's canonical request, headers and newlines included.

/** Field name to `$context` variable, in log order. `status` stays a number (metric filters compare it). */
export const ACCESS_LOG_FIELDS: Readonly<Record<string, string>> = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  ip: '$context.identity.sourceIp',
  method: '$context.httpMethod',
  routeKey: '$context.routeKey',
  status: '$context.status',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationStatus: '$context.integrationStatus',
  lambdaRequestId: '$context.integration.requestId',
  iamPrincipal: '$context.identity.userArn',
};

/** Fields written unquoted: always numbers. */
const NUMBERS = new Set(['status']);

/** The format string for the stage's access log settings. */
export const ACCESS_LOG_FORMAT = `{${Object.entries(ACCESS_LOG_FIELDS)
  .map(([name, variable]) => (NUMBERS.has(name) ? `"${name}":${variable}` : `"${name}":"${variable}"`))
  .join(',')}}`;
