import { serverMetadata } from '../lib/exchange/metadata.ts';
import { configuredRuntime } from './container-config.ts';
import { defineHandler } from './define-handler.ts';
import { json, PUBLIC_CACHE } from './http.ts';

/**
 * GET /.well-known/oauth-authorization-server (RFC 8414) and
 * GET /.well-known/openid-configuration: the same document.
 */
export const createHandler = defineHandler(configuredRuntime, async (_event, runtime) =>
  json(200, serverMetadata(runtime.config, await runtime.signer.activeKey()), PUBLIC_CACHE),
);

export const handler = createHandler();
