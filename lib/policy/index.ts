// `serverless-sts/policy`: what a policy repository's CI (and `sts config validate` / `sts
// explain`) uses offline. Load and validate a config file with the service's own schema, compile
// its policies, and ask the engine that admits or refuses requests why. Needs zod.

export {
  type Config,
  ConfigError,
  type ConfigFile,
  configJsonSchema,
  loadConfigFile,
  type PolicyConfig,
  parseConfig,
  type TrustedIssuerConfig,
} from '../config/config.ts';
export {
  compilePolicies,
  type Explanation,
  type Grant,
  type PolicyEngine,
  type PolicyRequest,
  type PolicyVerdict,
  type PresentedToken,
  type Refusal,
} from './policy.ts';
