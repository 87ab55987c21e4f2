// Plain Node ESM: every subpath of the installed package loads and has its documented exports.
import * as root from 'serverless-sts';
import * as cdk from 'serverless-sts/cdk';
import * as client from 'serverless-sts/client';
import * as policy from 'serverless-sts/policy';
import * as verifier from 'serverless-sts/verifier';
import * as dynamodb from 'serverless-sts/verifier/dynamodb';

const kinds = (module) =>
  Object.fromEntries(Object.entries(module).map(([name, value]) => [name, typeof value]));
process.stdout.write(
  JSON.stringify({
    root: kinds(root),
    client: kinds(client),
    verifier: kinds(verifier),
    dynamodb: kinds(dynamodb),
    policy: kinds(policy),
    cdk: kinds(cdk),
  }),
);
