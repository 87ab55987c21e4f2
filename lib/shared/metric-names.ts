// Every CloudWatch metric of the project by name, in one registry: the code that writes a metric
// (EMF lines, lib/shared/emf.ts) and the CDK that graphs and alarms on it (cdk/monitoring-*.ts,
// cdk/prober.ts) import the name from here, so a renamed metric cannot leave an alarm watching
// nothing. docs/operations.md lists them with the SLI each one measures.

/** Written by the token function per exchange (lib/exchange/exchange-metrics.ts). */
export const EXCHANGE_METRICS = {
  /** Dimension sets [] and [policy]. */
  issued: 'TokensIssued',
  /** M4 denial rate numerator. Dimension sets [] and [reason]. */
  refused: 'TokenRefusals',
  /** M5 issuance errors (5xx inside the exchange). Dimension sets [] and [reason]. */
  failed: 'TokenFailures',
  /** Whole exchange, milliseconds, every outcome. */
  latency: 'ExchangeLatency',
  /** M3: the trust-policy decision alone, milliseconds. */
  policyTime: 'PolicyEvaluationTime',
  /** M7: bytes of each issued access token (a distribution: p50, p99, max). */
  tokenSize: 'IssuedTokenSize',
} as const;

/** Written by every handler per request (lambdas/request-metrics.ts); dimension set [handler]. */
export const REQUEST_METRICS = {
  requests: 'Requests',
  /** 1 for a 5xx answer, 0 otherwise: its Average is the 5xx rate of the handler. */
  serverErrors: 'ServerErrors',
  latency: 'Latency',
  /** A 5xx caused by a dependency; dimension set [dependency] (kms, dynamodb, issuer_jwks). */
  dependencyErrors: 'DependencyErrors',
} as const;

/** Written by the downstream verifier's middleware (lib/verify/validation-metrics.ts). */
export const VALIDATION_METRICS = {
  /** M1: 1 per validation; dimension sets [outcome] and [service, outcome]. */
  validations: 'TokenValidations',
  /** M2: milliseconds per validation, same dimension sets. */
  latency: 'TokenValidationLatency',
} as const;

/** Written by the prober (lib/ops/); dimension set [probe]. */
export const PROBER_METRICS = {
  /** 1 when a probe step failed, 0 when it passed: Average is the failure rate. */
  failure: 'ProbeFailure',
  /** Milliseconds of each probe step. */
  latency: 'ProbeLatency',
  /** M9: milliseconds from a successful revoke to introspection answering inactive. */
  revocationLag: 'RevocationLag',
} as const;
