// The AWS SDK's Node version notice. Node 20.19+ is supported locally (README, `engines`); Lambda
// runs Node 22. On Node 20 the SDK prints, from every process that loads it, a nine-line notice
// that its releases after January 2027 need Node 22: about the SDK's future, not this code. The
// local server and the `sts` CLI turn that one notice off unless the variable is set already
// (`AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=false` shows it again); other warnings print.

/** Turns the AWS SDK's Node 22 notice off in this process, unless the variable is set. */
export function quietSdkNodeNotice(env: NodeJS.ProcessEnv = process.env): void {
  if (!env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED)
    env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
}
