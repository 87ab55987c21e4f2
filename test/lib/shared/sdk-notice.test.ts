import { describe, expect, it } from 'vitest';
import { quietSdkNodeNotice } from '../../../lib/shared/sdk-notice.ts';

describe('quietSdkNodeNotice', () => {
  it("turns the AWS SDK's Node version notice off when nothing says otherwise", () => {
    const env: NodeJS.ProcessEnv = {};
    quietSdkNodeNotice(env);
    expect(env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED).toBe('true');
  });

  it('leaves a choice already made alone (false shows the notice again)', () => {
    const env: NodeJS.ProcessEnv = { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'false' };
    quietSdkNodeNotice(env);
    expect(env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED).toBe('false');
  });
});
