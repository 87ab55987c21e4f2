// A platform team's plain-JavaScript CDK app, run by the consumer test against the installed
// tarball: synthesizes the construct twice (two policy files) into the given directories and
// once with an invalid policy file, and prints what it found as JSON.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { TokenService } from 'serverless-sts/cdk';

const [configA, configB, invalid, outA, outB] = process.argv.slice(2);

function synth(config, outdir) {
  const app = new App({ outdir });
  const stack = new Stack(app, 'Platform');
  const service = new TokenService(stack, 'Sts', { config });
  const assembly = app.synth();
  const template = assembly.getStackByName('Platform').template;
  const functions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
  const assets = readdirSync(outdir)
    .filter((name) => name.startsWith('asset.'))
    .map((name) => ({
      hash: name.slice('asset.'.length),
      files: readdirSync(join(outdir, name)).sort(),
      config: readFileSync(join(outdir, name, 'sts.config.json'), 'utf8'),
    }));
  return {
    issuer: typeof service.issuer,
    functions: functions.map((fn) => ({ handler: fn.Properties.Handler, runtime: fn.Properties.Runtime })),
    handlers: [...service.functions.keys()].sort(),
    assets,
  };
}

let refused;
try {
  synth(invalid, `${outA}-invalid`);
} catch (error) {
  refused = { name: error.name, message: error.message };
}
process.stdout.write(JSON.stringify({ a: synth(configA, outA), b: synth(configB, outB), refused }));
