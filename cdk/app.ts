// `npx cdk synth | deploy`: one StsStack. The policy file comes from STS_CONFIG, else the context
// key `config`, else cdk/example.sts.config.json (flagged with a warning: fine for a first synth,
// never for a real deployment). An invalid policy file stops the synth with the message the
// service itself would print at start. STS_DPOP_NONCE_SECRET, when set, becomes the token
// function's DPoP nonce key.

import { Annotations, App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError } from '../lib/config/config.ts';
import { ContextError } from './context.ts';
import { chooseConfigPath } from './service-config.ts';
import { StsStack } from './sts-stack.ts';

const app = new App();
try {
  const choice = chooseConfigPath(app.node.tryGetContext('config'));
  const stackName = (app.node.tryGetContext('stackName') as string | undefined) || 'ServerlessSts';
  const stack = new StsStack(app, stackName, {
    description: 'Serverless STS: OAuth 2.0 Token Exchange (RFC 8693) signing with KMS',
    // The prober (docs/operations.md) runs in every deployed stack; `-c prober=false` turns it off.
    // The DPoP nonce key comes from the deploying shell (docs/dpop.md); never from cdk.json.
    service: {
      config: choice.path,
      ...([false, 'false'].includes(app.node.tryGetContext('prober')) ? {} : { prober: {} }),
      dpopNonceSecret: process.env.STS_DPOP_NONCE_SECRET || undefined,
    },
  });
  if (choice.from === 'example') {
    Annotations.of(stack).addWarningV2(
      'sts:example-config',
      `Using the example policy file ${choice.path}: set STS_CONFIG or pass -c config=<path> for a real deployment (docs/deploy.md).`,
    );
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
} catch (error) {
  if (error instanceof ConfigError || error instanceof ContextError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
