/**
 * Resolution of string inputs against an absolute `baseUrl`, once per call and as cheaply as it can be done.
 *
 * An input made of plain path characters (and an optional plain query) resolves by joining strings: the base's
 * origin and the input for `/path`, the base's directory and the input for `path`; dot segments and escapes in the
 * joined URL are resolved by the parse that every `Request` makes of it, exactly as URL resolution would. Anything
 * else (a leading `//`, `?` or `#`, a scheme, a backslash, spaces and control characters, which the parser would
 * strip or turn into `/`) goes through `new URL`.
 */
export type BaseResolver = (input: string) => string | URL;

// Path characters that mean the same in a relative reference as in an absolute URL, then an optional query.
const plainPath = /^[A-Za-z0-9\-._~!$&'()*+,;=@%/]+(?:\?[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*)?$/;

/** A resolver for `base`, which must be an absolute http(s) URL. */
export function createBaseResolver(base: string): BaseResolver {
  const url = new URL(base);
  const slow = (input: string) => new URL(input, url);
  // With credentials in the base, an absolute path keeps them: leave such a base to the URL parser.
  if (url.username || url.password) return slow;
  const { origin } = url;
  const directory = origin + url.pathname.slice(0, url.pathname.lastIndexOf('/') + 1);
  return (input) => {
    if (input.startsWith('//') || !plainPath.test(input)) return slow(input);
    return (input.startsWith('/') ? origin : directory) + input;
  };
}
