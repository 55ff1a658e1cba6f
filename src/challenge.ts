/** One authentication challenge (RFC 9110 §11.6.1) from `WWW-Authenticate` or `Proxy-Authenticate`. */
export interface Challenge {
  /** The auth-scheme, lowercased (`bearer`, `basic`, `dpop`, …). */
  scheme: string;
  /** The token68 form, verbatim with its `=` padding, when the challenge used it instead of parameters. */
  token68?: string;
  /** Parameters: names lowercased, quoted-string values unquoted and unescaped. The first of duplicate names wins. */
  params: Record<string, string>;
}

/** Which header `parseChallenges` reads from a `Headers` or `Response`. */
export interface ParseChallengesOptions {
  /** @default 'www-authenticate' */
  header?: 'www-authenticate' | 'proxy-authenticate';
}

// Sticky regexes over RFC 9110's character classes (tchar, token68, quoted-string). Each alternative starts on a
// distinct character, so matching is linear: no backtracking blow-up on hostile input.
const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
const TOKEN68 = /[-._~+/0-9A-Za-z]+=*/y;
// biome-ignore lint/suspicious/noControlCharactersInRegex: RFC 9110 keeps control characters out of quoted strings
const QUOTED = /"((?:[^"\\\u0000-\u0008\u000a-\u001f\u007f]|\\[\t\u0020-\u007e\u0080-\uffff])*)"/y;
const ESCAPE = /\\(.)/g;
const SP = 0x20;
const HTAB = 0x09;
const COMMA = 0x2c;
const EQ = 0x3d;
const DQUOTE = 0x22;

class Scanner {
  i = 0;
  readonly s: string;
  constructor(s: string) {
    this.s = s;
  }
  get done() {
    return this.i >= this.s.length;
  }
  peek() {
    return this.i < this.s.length ? this.s.charCodeAt(this.i) : -1;
  }
  ows() {
    const start = this.i;
    let c = this.peek();
    while (c === SP || c === HTAB) c = this.s.charCodeAt(++this.i);
    return this.i > start;
  }
  match(pattern: RegExp): RegExpExecArray | null {
    pattern.lastIndex = this.i;
    const m = pattern.exec(this.s);
    if (m) this.i = pattern.lastIndex;
    return m;
  }
  token(): string | undefined {
    return this.match(TOKEN)?.[0];
  }
  quoted(): string | undefined {
    const inner = this.match(QUOTED)?.[1];
    if (inner === undefined) return undefined;
    return inner.includes('\\') ? inner.replace(ESCAPE, '$1') : inner;
  }
}

function setParam(params: Record<string, string>, name: string, value: string) {
  if (Object.hasOwn(params, name)) return; // the first of duplicate names wins
  // defineProperty keeps a hostile `__proto__` name an ordinary key.
  if (name === '__proto__') {
    Object.defineProperty(params, name, { value, enumerable: true, writable: true, configurable: true });
  } else params[name] = value;
}

function skipEmptyElements(sc: Scanner) {
  for (;;) {
    sc.ows();
    if (sc.peek() !== COMMA) return;
    sc.i++;
  }
}

/**
 * One field: `#challenge`. A challenge is pushed only once complete; at the first syntax error the field ends.
 * After a comma, a token followed by `=` is another parameter, any other token starts the next challenge: each
 * token is read once, so the whole field is one pass.
 */
function parseField(field: string, out: Challenge[]) {
  const sc = new Scanner(field);
  skipEmptyElements(sc);
  let scheme = sc.token();
  while (scheme !== undefined) {
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    scheme = undefined;
    const spaced = sc.ows();
    if (sc.done || sc.peek() === COMMA) {
      out.push(challenge);
    } else {
      if (!spaced) return;
      const start = sc.i;
      // token68 if the token68 run, its `=` padding and optional whitespace reach the end of the challenge.
      if (sc.match(TOKEN68)) {
        const end = sc.i;
        sc.ows();
        if (sc.done || sc.peek() === COMMA) challenge.token68 = sc.s.slice(start, end);
        else sc.i = start;
      } else sc.i = start;
      if (challenge.token68 === undefined) {
        let name = sc.token();
        for (;;) {
          if (name === undefined) return;
          sc.ows();
          if (sc.peek() !== EQ) return;
          sc.i++;
          sc.ows();
          const value = sc.peek() === DQUOTE ? sc.quoted() : sc.token();
          if (value === undefined) return;
          setParam(challenge.params, name.toLowerCase(), value);
          sc.ows();
          if (sc.done) break;
          if (sc.peek() !== COMMA) return;
          sc.i++;
          skipEmptyElements(sc);
          const next = sc.token();
          if (next === undefined) break;
          const after = sc.i;
          sc.ows();
          if (sc.peek() === EQ) {
            sc.i = after;
            name = next;
            continue;
          }
          sc.i = after;
          scheme = next;
          break;
        }
      }
      out.push(challenge);
      if (scheme !== undefined || sc.done) continue;
    }
    // After a complete challenge: the list goes on after a comma, or ends.
    if (sc.done) return;
    if (sc.peek() !== COMMA) return;
    skipEmptyElements(sc);
    scheme = sc.token();
  }
}

function fieldsOf(input: string | readonly string[] | Headers | Response, header: string): readonly string[] {
  if (typeof input === 'string') return [input];
  if (Array.isArray(input)) return input as readonly string[];
  const headers = input instanceof Response ? input.headers : (input as Headers);
  // Headers joins repeated fields with ", ", which is the list syntax of this header: one list either way.
  const value = headers.get(header);
  return value === null ? [] : [value];
}

/**
 * Parse `WWW-Authenticate` (or `Proxy-Authenticate`) challenges to the RFC 9110 §11.6.1 grammar: several challenges
 * per field, token68, auth-params with token or quoted-string values (quoted-pair escapes), BWS around `=`, empty
 * list elements ignored. Several fields (an array, or a repeated header) form one list.
 *
 * Malformed input never throws and never hangs (one pass, linear in the input): each field yields the challenges
 * that parsed completely before its first syntax error, and never a half-parsed challenge. Of duplicate parameter
 * names, the first wins.
 *
 * @example parseChallenges('Bearer realm="api", error="invalid_token"')
 * //=> [{ scheme: 'bearer', params: { realm: 'api', error: 'invalid_token' } }]
 */
export function parseChallenges(
  input: string | readonly string[] | Headers | Response,
  options: ParseChallengesOptions = {},
): Challenge[] {
  const out: Challenge[] = [];
  for (const field of fieldsOf(input, options.header ?? 'www-authenticate')) {
    if (typeof field === 'string') parseField(field, out);
  }
  return out;
}

/** RFC 6750 Bearer challenge, with RFC 9470 step-up parameters. */
export interface BearerChallenge {
  realm?: string;
  /** Required scopes (`scope`, space-separated). */
  scope: string[];
  /** `invalid_request`, `invalid_token`, `insufficient_scope`, `insufficient_user_authentication`, … */
  error?: string;
  errorDescription?: string;
  errorUri?: string;
  /** RFC 9470: acceptable authentication context classes. */
  acrValues?: string[];
  /** RFC 9470: maximum authentication age, in seconds. */
  maxAge?: number;
}

/** RFC 9449 DPoP challenge. */
export interface DPoPChallenge {
  /** Accepted proof signing algorithms (`algs`, space-separated). */
  algs: string[];
  realm?: string;
  scope?: string[];
  /** `invalid_dpop_proof`, `use_dpop_nonce`, `invalid_token`, … */
  error?: string;
  errorDescription?: string;
  errorUri?: string;
}

const words = (value: string | undefined) => (value ? value.split(/[ \t]+/).filter(Boolean) : []);

function common(params: Record<string, string>) {
  return {
    ...(params.realm !== undefined ? { realm: params.realm } : {}),
    ...(params.error !== undefined ? { error: params.error } : {}),
    ...(params.error_description !== undefined ? { errorDescription: params.error_description } : {}),
    ...(params.error_uri !== undefined ? { errorUri: params.error_uri } : {}),
  };
}

/** The first Bearer challenge (any position, any case), interpreted; undefined when there is none. */
export function bearerChallenge(challenges: readonly Challenge[]): BearerChallenge | undefined {
  const found = challenges.find((c) => c.scheme === 'bearer');
  if (!found) return undefined;
  const { params } = found;
  const maxAge = params.max_age !== undefined && /^\d{1,10}$/.test(params.max_age) ? Number(params.max_age) : undefined;
  return {
    ...common(params),
    scope: words(params.scope),
    ...(params.acr_values !== undefined ? { acrValues: words(params.acr_values) } : {}),
    ...(maxAge !== undefined ? { maxAge } : {}),
  };
}

/** The first DPoP challenge (any position, any case), interpreted; undefined when there is none. */
export function dpopChallenge(challenges: readonly Challenge[]): DPoPChallenge | undefined {
  const found = challenges.find((c) => c.scheme === 'dpop');
  if (!found) return undefined;
  const { params } = found;
  return {
    ...common(params),
    algs: words(params.algs),
    ...(params.scope !== undefined ? { scope: words(params.scope) } : {}),
  };
}
