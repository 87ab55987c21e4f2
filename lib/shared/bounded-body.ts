// Reading the body of a remote party's answer without trusting its size: the declared
// `content-length` is checked first, then the stream is read and cancelled as soon as it passes
// the limit, so an endless or oversized body costs at most `limit` bytes of memory. Used for
// every answer this code reads from a party it does not control (issuer discovery and JWKS,
// introspection, AWS STS).

/**
 * The body as UTF-8 text, or `undefined` when it is (or declares itself) longer than `limit`
 * bytes; the stream is cancelled then.
 */
export async function readBoundedText(response: Response, limit: number): Promise<string | undefined> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    return undefined;
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    text += decoder.decode(value, { stream: true });
  }
}
