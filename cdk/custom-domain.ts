// The issuer at a custom domain: the API's regional domain name with its certificate (given, or
// created and DNS-validated in the hosted zone) and, with a hosted zone, the alias record that
// points the name at the API. The config's `issuer` must name the domain (cdk/service-config.ts).

import { DomainName, SecurityPolicy } from 'aws-cdk-lib/aws-apigatewayv2';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { ApiGatewayv2DomainProperties } from 'aws-cdk-lib/aws-route53-targets';
import type { Construct } from 'constructs';

export interface CustomDomainOptions {
  /** e.g. `sts.example.com`; the config's `issuer` must then be `https://sts.example.com`. */
  readonly domainName: string;
  /** Regional ACM certificate for the name; created and DNS-validated in `hostedZone` when omitted. */
  readonly certificate?: acm.ICertificate;
  /** When given, an alias A record points the name at the API (and validates a created certificate). */
  readonly hostedZone?: route53.IHostedZone;
}

/**
 * The API domain name of `options`, its certificate when none is given, and its alias record
 * when a hosted zone is given; created in `scope` (the TokenService), so their ids stay its own.
 */
export function createCustomDomain(scope: Construct, options: CustomDomainOptions): DomainName {
  const { domainName, hostedZone } = options;
  let certificate = options.certificate;
  if (!certificate) {
    if (!hostedZone) {
      throw new Error('TokenService: customDomain needs a certificate, or a hostedZone to validate one in');
    }
    certificate = new acm.Certificate(scope, 'Certificate', {
      domainName,
      validation: acm.CertificateValidation.fromDns(hostedZone),
    });
  }
  const domain = new DomainName(scope, 'DomainName', {
    domainName,
    certificate,
    securityPolicy: SecurityPolicy.TLS_1_2,
  });
  if (hostedZone) {
    new route53.ARecord(scope, 'AliasRecord', {
      zone: hostedZone,
      recordName: domainName,
      target: route53.RecordTarget.fromAlias(
        new ApiGatewayv2DomainProperties(domain.regionalDomainName, domain.regionalHostedZoneId),
      ),
    });
  }
  return domain;
}
