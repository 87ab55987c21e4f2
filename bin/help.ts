import { existsSync, readFileSync } from 'node:fs';

// The CLI's words: the global usage (`sts --help`), each command's own help with an example
// (`sts <command> --help`), and the version (`sts --version`, read from the package.json above
// this module, whether it runs from source or from the published package's dist/).

export const USAGE = `usage: sts <command> [options]

commands:
  exchange     exchange a subject token for a token for one audience (RFC 8693)
  introspect   ask whether a token is active (RFC 7662; needs the admin bearer)
  revoke       revoke a token (RFC 7009)
  explain      the exchange's decision for a token and a target: which policy admits it, or why not
  config validate [<file>...] check policy files (for CI; default $STS_CONFIG or ./sts.config.json)
  dev-token    mint a development subject token from the local server
  dpop-keygen  write a DPoP key (private JWK, mode 0600) and print its thumbprint (RFC 9449)
  dpop-proof   print the DPoP proof for one request (send it as the DPoP header)

common options:
  --endpoint <url>   service base URL (or STS_ENDPOINT)
  --json             machine-readable output
  -h, --help         help for a command (sts <command> --help)
  -v, --version      the CLI's version

exchange:   --subject-token <token|file|->  (or STS_SUBJECT_TOKEN)  --audience <aud> | --resource <uri>
            [--scope <s>]... [--actor-token <token|file|->] (or STS_ACTOR_TOKEN)
            [--subject-token-type <urn>] [--actor-token-type <urn>] [--requested-token-type <urn>]
            [--aws-identity subject|actor [--aws-audience <issuer>]]
            [--dpop-key <file>] (or STS_DPOP_KEY): bind the token to this key
introspect: --token <token|file|->  (or STS_TOKEN)  --admin-token <t> (or STS_ADMIN_TOKEN)  [--token-type-hint <h>]
revoke:     --token <token|file|->  (or STS_TOKEN)  [--token-type-hint <h>]
explain:    --config <file> --token <token|claims.json|file|-> --audience <target> [--scope <s>]...
            [--actor-token <token|claims.json|file|->] [--subject-issuer <name>] [--actor-issuer <name>]
            [--table <name>]: read TOKEN# records, for tokens of this service (chain, remaining life)
dev-token:  [--sub <subject>] [--aud <audience>] [--lifetime <seconds|5m>] [--claims <json|file>]
dpop-keygen: --out <file> [--alg ES256|ES384|PS256|RS256|EdDSA]
dpop-proof: --dpop-key <file> --url <url> [--method GET] [--token <token|file|->] [--nonce <n>]

Tokens are written to stdout only. Prefer files, stdin ("-") or the environment over arguments
(command lines are visible to other users of the machine).

exit codes: 0 ok, 2 bad usage, 3 refused / inactive / not admitted / invalid config,
            4 service unavailable or failed, 1 unexpected error`;

const SERVICE_OPTIONS = `  --endpoint <url>               service base URL (or STS_ENDPOINT)
  --json                         machine-readable output`;

/** `sts <command> --help`: that command's options and an example. */
export const COMMAND_HELP: Readonly<Record<string, string>> = {
  exchange: `usage: sts exchange --subject-token <token|file|-> (--audience <aud> | --resource <uri>) [options]

Exchanges a subject token for a token for one audience (RFC 8693) and prints the new token.

options:
  --subject-token <token|file|-> the token to exchange (or STS_SUBJECT_TOKEN; "-" reads stdin)
  --subject-token-type <urn>     default urn:ietf:params:oauth:token-type:jwt
  --audience <aud>               the target, by name
  --resource <uri>               the target, by URI (exactly one of --audience, --resource)
  --scope <s>                    a scope to ask for (repeatable, or space-separated)
  --actor-token <token|file|->   delegation: the acting party's token (or STS_ACTOR_TOKEN)
  --actor-token-type <urn>       default urn:ietf:params:oauth:token-type:jwt
  --requested-token-type <urn>   access_token (default) or jwt
  --aws-identity subject|actor   present your AWS identity instead (a signed STS GetCallerIdentity
                                 request; credentials from the AWS default chain, AWS_REGION)
  --aws-audience <issuer>        the service's issuer, when it is not --endpoint
  --dpop-key <file>              bind the token to this DPoP key (or STS_DPOP_KEY; sts dpop-keygen)
${SERVICE_OPTIONS}

example:
  sts exchange --endpoint https://sts.example.com --subject-token "$ACTIONS_ID_TOKEN_FILE" \\
    --audience https://deploy.acme.internal --scope deploy:write > token.jwt`,

  introspect: `usage: sts introspect --token <token|file|-> [options]

Asks the service whether a token is active (RFC 7662) and prints its answer; exit 3 when inactive.

options:
  --token <token|file|->         the token (or STS_TOKEN)
  --admin-token <t>              bearer of the introspection route locally (or STS_ADMIN_TOKEN)
  --token-type-hint <h>          passed on; the service has one kind of token
${SERVICE_OPTIONS}

example:
  STS_ADMIN_TOKEN=... sts introspect --endpoint http://127.0.0.1:8787 --token token.jwt`,

  revoke: `usage: sts revoke --token <token|file|-> [options]

Revokes a token (RFC 7009). The service answers the same for unknown tokens.

options:
  --token <token|file|->         the token (or STS_TOKEN)
  --token-type-hint <h>          passed on; the service has one kind of token
${SERVICE_OPTIONS}

example:
  sts revoke --endpoint https://sts.example.com --token token.jwt`,

  explain: `usage: sts explain --config <file> --token <token|claims.json|file|-> --audience <target> [options]

Runs the exchange's own decision (policies, chain, lifetime cap) on a token (decoded, signature
NOT verified) or on bare claims, and tells which policy admits the request, for how long, or why
each one refuses; exit 3 when none does or it cannot tell. A token of this service is judged with
its TOKEN# record (origin, rootPolicy, remaining life) when --table names the STS table; without
it, conditions on the chain are reported undecided and the lifetime as an upper bound.

options:
  --config <file>                the policy file (sts.config.json)
  --token <token|claims|file|->  the subject token, or a JSON object of its claims
  --audience <target>            the target asked for
  --scope <s>                    a scope asked for (repeatable)
  --actor-token <...>            delegation: the actor's token or claims
  --subject-issuer <name>        the subject's trusted issuer, by name, when the claims have no iss
  --actor-issuer <name>          likewise for the actor
  --table <name>                 the STS table to read TOKEN# records from (AWS default chain,
                                 AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB; needs @aws-sdk/client-dynamodb)
  --json                         machine-readable output

example:
  sts explain --config sts.config.json --audience https://deploy.acme.internal --scope deploy:write \\
    --token '{"iss":"https://token.actions.githubusercontent.com","sub":"repo:acme/app:environment:prod",
              "aud":"https://sts.example.com","repository_owner":"acme"}'
  (with the README's example sts.config.json: ADMITTED by policy "deploy-prod")`,

  config: `usage: sts config validate [<file>...] [--json]

Validates policy files with the service's own schema (what the service and \`cdk synth\` check);
exit 3 when any is invalid, with each problem listed. For a policy repository's CI. Without a
file, validates the one the service would load: $STS_CONFIG, else ./sts.config.json.

options:
  --json                         one JSON line per file

example:
  npx sts config validate sts.config.json`,

  'dev-token': `usage: sts dev-token [options]

Mints a development subject token from the local server's built-in issuer (npm start).

options:
  --sub <subject>                the token's sub
  --aud <audience>               the token's aud
  --lifetime <seconds|5m>        its lifetime
  --claims <json|file>           extra claims, as a JSON object or a file holding one
${SERVICE_OPTIONS}

example:
  sts dev-token --endpoint http://127.0.0.1:8787 --sub alice | sts exchange --endpoint http://127.0.0.1:8787 \\
    --subject-token - --audience https://api.example.com`,

  'dpop-keygen': `usage: sts dpop-keygen --out <file> [--alg ES256]

Writes a new DPoP key pair (RFC 9449) as a private JWK to <file>, readable by its owner only
(mode 0600, never overwriting), and prints its RFC 7638 thumbprint: the cnf.jkt of tokens bound to it.

options:
  --out <file>                   where the private JWK goes
  --alg <alg>                    ES256 (default), ES384, PS256, RS256 or EdDSA
  --json                         {"jkt", "alg", "file"}

example:
  sts dpop-keygen --out dpop.jwk && STS_DPOP_KEY=dpop.jwk sts exchange --subject-token - --audience https://api.example.com`,

  'dpop-proof': `usage: sts dpop-proof --dpop-key <file> --url <url> [options]

Prints the DPoP proof (RFC 9449) for one request, to send as its DPoP header.

options:
  --dpop-key <file>              the private JWK (or STS_DPOP_KEY)
  --url <url>                    the URL called (query and fragment are left out of htu)
  --method <m>                   default GET
  --token <token|file|->         the access token sent with the request: adds ath (or STS_TOKEN)
  --nonce <n>                    the server's DPoP-Nonce

example:
  curl -H "Authorization: DPoP $ACCESS" -H "DPoP: $(sts dpop-proof --dpop-key dpop.jwk \
    --url https://api.example.com/things --token "$ACCESS")" https://api.example.com/things`,
};

/** This package's version, from the nearest `package.json` named serverless-sts above this module. */
export function packageVersion(): string {
  for (let dir = new URL('./', import.meta.url); ; ) {
    const file = new URL('package.json', dir);
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'serverless-sts' && typeof pkg.version === 'string') return pkg.version;
    }
    const parent = new URL('../', dir);
    if (parent.href === dir.href) return 'unknown';
    dir = parent;
  }
}
