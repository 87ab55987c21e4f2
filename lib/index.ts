// `serverless-sts` (the package root): the client SDK and the downstream verifier together, for
// code that uses both. Like its two parts it imports jose only; the policy engine (zod) is
// `serverless-sts/policy`, the table-read revocation mode (AWS SDK) `serverless-sts/verifier/dynamodb`,
// and the CDK construct `serverless-sts/cdk`.

export * from './client/index.ts';
export * from './verify/index.ts';
