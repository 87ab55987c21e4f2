import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { servicePropsFromContext } from './context.ts';
import { TokenService, type TokenServiceProps } from './sts-construct.ts';

export interface StsStackProps extends StackProps {
  /** The construct's props; unset ones come from CDK context (cdk/context.ts). */
  readonly service: TokenServiceProps;
}

/** The deployable stack: one TokenService, and the outputs a platform team hands to its users. */
export class StsStack extends Stack {
  readonly service: TokenService;

  constructor(scope: Construct, id: string, props: StsStackProps) {
    super(scope, id, props);
    const service = new TokenService(this, 'TokenService', {
      ...servicePropsFromContext(this),
      ...props.service,
    });
    this.service = service;

    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    output('IssuerUrl', service.issuer, 'The issuer (iss) of every token; register it with relying parties.');
    output('TokenEndpoint', service.tokenEndpoint, 'RFC 8693 token exchange endpoint (POST, form-encoded).');
    output('JwksUrl', service.jwksUri, 'RFC 7517 JWK Set for verifying tokens offline.');
    output(
      'DiscoveryUrl',
      `${service.issuer}/.well-known/openid-configuration`,
      'OIDC discovery document (also served as RFC 8414 metadata).',
    );
    output('TableName', service.table.tableName, 'DynamoDB table of issued tokens and revocations.');
    output('SigningKeyArn', service.signingKey.keyArn, 'The active KMS signing key.');
    output(
      'DashboardName',
      service.monitoring.dashboard.dashboardName,
      'CloudWatch dashboard of the service.',
    );
  }
}
