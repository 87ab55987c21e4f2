import { describe, expect, it } from 'vitest';
import { createMetricsWriter, DIMENSION_NAMES, emfDocument, noMetrics } from '../../../lib/shared/emf.ts';

/** The EMF document shape (CloudWatch's specification) and the dimension guard. */
describe('emfDocument', () => {
  it('writes the metric values at the root, declared under _aws with namespace, dimension sets and units', () => {
    expect(
      emfDocument({
        namespace: 'ServerlessSTS/test',
        timestamp: 1_700_000_000_000,
        dimensions: { policy: 'deploy-prod' },
        groups: [
          {
            dimensionSets: [[], ['policy']],
            metrics: [
              { name: 'TokensIssued', unit: 'Count', value: 1 },
              { name: 'IssuedTokenSize', unit: 'Bytes', value: 812 },
            ],
          },
        ],
      }),
    ).toEqual({
      _aws: {
        Timestamp: 1_700_000_000_000,
        CloudWatchMetrics: [
          {
            Namespace: 'ServerlessSTS/test',
            Dimensions: [[], ['policy']],
            Metrics: [
              { Name: 'TokensIssued', Unit: 'Count' },
              { Name: 'IssuedTokenSize', Unit: 'Bytes' },
            ],
          },
        ],
      },
      policy: 'deploy-prod',
      TokensIssued: 1,
      IssuedTokenSize: 812,
    });
  });

  it('keeps several directives, each with its own dimension sets', () => {
    const document = emfDocument({
      namespace: 'n',
      timestamp: 1,
      dimensions: { handler: 'token', dependency: 'kms' },
      groups: [
        { dimensionSets: [['handler']], metrics: [{ name: 'ServerErrors', unit: 'Count', value: 1 }] },
        { dimensionSets: [['dependency']], metrics: [{ name: 'DependencyErrors', unit: 'Count', value: 1 }] },
      ],
    });
    expect((document._aws as { CloudWatchMetrics: unknown[] }).CloudWatchMetrics).toHaveLength(2);
  });

  it.each(['sub', 'subject', 'jti', 'token', 'subject_token', 'access_token', 'aud', 'email'])(
    'refuses "%s" as a dimension name: only the closed list can be a dimension',
    (name) => {
      expect(() =>
        emfDocument({
          namespace: 'n',
          timestamp: 1,
          dimensions: { [name]: 'x' } as never,
          groups: [{ dimensionSets: [[name as never]], metrics: [{ name: 'M', unit: 'Count', value: 1 }] }],
        }),
      ).toThrow(TypeError);
    },
  );

  it('has no dimension name that could carry a subject, jti or token', () => {
    expect(DIMENSION_NAMES).toEqual([
      'policy',
      'reason',
      'handler',
      'outcome',
      'service',
      'dependency',
      'probe',
    ]);
  });

  it.each([
    ['a JWT (any real one is longer than 64)', `eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.${'A'.repeat(86)}`],
    ['a URL', 'https://token.actions.githubusercontent.com'],
    ['a GitHub subject', 'repo:acme/app:ref:refs/heads/main'],
    ['spaces', 'a b'],
    ['an empty string', ''],
    ['65 characters', 'a'.repeat(65)],
  ])('refuses %s as a dimension value (the writers map values onto closed lists first)', (_name, value) => {
    expect(() =>
      emfDocument({
        namespace: 'n',
        timestamp: 1,
        dimensions: { reason: value },
        groups: [{ dimensionSets: [['reason']], metrics: [{ name: 'M', unit: 'Count', value: 1 }] }],
      }),
    ).toThrow(TypeError);
  });

  it('refuses a dimension set naming a dimension without a value, a bad metric name, a non-finite value', () => {
    const base = { namespace: 'n', timestamp: 1 };
    expect(() =>
      emfDocument({
        ...base,
        groups: [{ dimensionSets: [['policy']], metrics: [{ name: 'M', unit: 'Count', value: 1 }] }],
      }),
    ).toThrow(/no value/);
    expect(() =>
      emfDocument({
        ...base,
        groups: [{ dimensionSets: [[]], metrics: [{ name: 'a b', unit: 'Count', value: 1 }] }],
      }),
    ).toThrow(/metric name/);
    expect(() =>
      emfDocument({
        ...base,
        groups: [{ dimensionSets: [[]], metrics: [{ name: 'M', unit: 'Count', value: Number.NaN }] }],
      }),
    ).toThrow(/finite/);
  });
});

describe('createMetricsWriter', () => {
  it('writes one JSON line per call to the sink, timestamped by its clock', () => {
    const lines: string[] = [];
    const writer = createMetricsWriter({ namespace: 'n', sink: (line) => lines.push(line), now: () => 42 });
    writer.write([{ dimensionSets: [[]], metrics: [{ name: 'Requests', unit: 'Count', value: 1 }] }]);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ _aws: { Timestamp: 42 }, Requests: 1 });
  });

  it('is off without a namespace', () => {
    const lines: string[] = [];
    const writer = createMetricsWriter({ namespace: undefined, sink: (line) => lines.push(line) });
    writer.write([{ dimensionSets: [[]], metrics: [{ name: 'Requests', unit: 'Count', value: 1 }] }]);
    expect(writer.enabled).toBe(false);
    expect(noMetrics.enabled).toBe(false);
    expect(lines).toEqual([]);
  });
});
