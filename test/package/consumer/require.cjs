// CommonJS: require() of the ESM package (Node 20.19+, require(esm)) for every subpath.
const subpaths = ['', '/client', '/verifier', '/verifier/dynamodb', '/policy', '/cdk'];
const loaded = {};
for (const subpath of subpaths) {
  loaded[subpath || '.'] = Object.keys(require(`serverless-sts${subpath}`)).sort();
}
process.stdout.write(JSON.stringify(loaded));
