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

// Character classes of RFC 9110 §5.6.2 (tchar) and §11.2 (token68), as lookup tables: no regex, no backtracking.
const TCHAR = new Uint8Array(128);
const T68 = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  const alnum = /[A-Za-z0-9]/.test(ch);
  TCHAR[c] = alnum || "!#$%&'*+-.^_`|~".includes(ch) ? 1 : 0;
  T68[c] = alnum || '-._~+/'.includes(ch) ? 1 : 0;
}
const isTchar = (c: number) => c < 128 && TCHAR[c] === 1;
const isT68 = (c: number) => c < 128 && T68[c] === 1;
const SP = 0x20;
const HTAB = 0x09;
const COMMA = 0x2c;
const EQ = 0x3d;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

class Scanner {
  i = 0;
  constructor(readonly s: string) {}
  get done() {
    return this.i >= this.s.length;
  }
  peek() {
    return this.i < this.s.length ? this.s.charCodeAt(this.i) : -1;
  }
  ows() {
    const start = this.i;
    while (this.peek() === SP || this.peek() === HTAB) this.i++;
    return this.i > start;
  }
  token(): string | undefined {
    const start = this.i;
    while (this.i < this.s.length && isTchar(this.s.charCodeAt(this.i))) this.i++;
    return this.i > start ? this.s.slice(start, this.i) : undefined;
  }
  quoted(): string | undefined {
    // Caller has seen the opening quote.
    this.i++;
    let out = '';
    let runStart = this.i;
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (c === DQUOTE) {
        out += this.s.slice(runStart, this.i);
        this.i++;
        return out;
      }
      if (c === BACKSLASH) {
        out += this.s.slice(runStart, this.i);
        const next = this.i + 1 < this.s.length ? this.s.charCodeAt(this.i + 1) : -1;
        if (next === -1 || isCtl(next)) return undefined;
        out += this.s[this.i + 1];
        this.i += 2;
        runStart = this.i;
        continue;
      }
      if (isCtl(c)) return undefined;
      this.i++;
    }
    return undefined;
  }
}

const isCtl = (c: number) => (c < 0x20 && c !== HTAB) || c === 0x7f;

function setParam(params: Record<string, string>, name: string, value: string) {
  // First wins; defineProperty keeps a hostile `__proto__` name an ordinary key.
  if (!Object.hasOwn(params, name)) {
    Object.defineProperty(params, name, { value, enumerable: true, writable: true, configurable: true });
  }
}

/** After a list comma: is the next member a new challenge (a token not followed by `=`)? Does not move. */
function startsChallenge(sc: Scanner): boolean {
  const save = sc.i;
  const name = sc.token();
  sc.ows();
  const result = name !== undefined && sc.peek() !== EQ;
  sc.i = save;
  return result;
}

function skipEmptyElements(sc: Scanner) {
  for (;;) {
    sc.ows();
    if (sc.peek() !== COMMA) return;
    sc.i++;
  }
}

/**
 * Parse one challenge's body after `scheme 1*SP`. Returns false on a syntax error. Leaves the scanner at the end,
 * or just after the comma that ends this challenge.
 */
function parseBody(sc: Scanner, challenge: Challenge): boolean {
  // token68 if the token68 run, its `=` padding and optional whitespace reach the end of the challenge.
  const start = sc.i;
  while (isT68(sc.peek())) sc.i++;
  if (sc.i > start) {
    while (sc.peek() === EQ) sc.i++;
    const token68End = sc.i;
    sc.ows();
    if (sc.done || sc.peek() === COMMA) {
      challenge.token68 = sc.s.slice(start, token68End);
      if (!sc.done) sc.i++;
      return true;
    }
  }
  sc.i = start;
  for (;;) {
    const name = sc.token();
    if (name === undefined) return false;
    sc.ows();
    if (sc.peek() !== EQ) return false;
    sc.i++;
    sc.ows();
    let value: string | undefined;
    if (sc.peek() === DQUOTE) value = sc.quoted();
    else value = sc.token();
    if (value === undefined) return false;
    setParam(challenge.params, name.toLowerCase(), value);
    sc.ows();
    if (sc.done) return true;
    if (sc.peek() !== COMMA) return false;
    sc.i++;
    skipEmptyElements(sc);
    if (sc.done) return true;
    if (startsChallenge(sc)) return true;
  }
}

function parseField(field: string, out: Challenge[]) {
  const sc = new Scanner(field);
  for (;;) {
    skipEmptyElements(sc);
    if (sc.done) return;
    const scheme = sc.token();
    if (scheme === undefined) return;
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    const spaced = sc.ows();
    if (sc.done || sc.peek() === COMMA) {
      out.push(challenge);
      continue;
    }
    if (!spaced || !parseBody(sc, challenge)) return;
    out.push(challenge);
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
