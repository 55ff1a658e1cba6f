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

// Character classes of RFC 9110 as bit flags, indexed by char code: the scanner reads each character with one load.
const TCHAR = 1;
const TOKEN68 = 2;
const CLASS = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) CLASS[c] = TCHAR | TOKEN68;
for (let c = 0x41; c <= 0x5a; c++) CLASS[c] = TCHAR | TOKEN68;
for (let c = 0x61; c <= 0x7a; c++) CLASS[c] = TCHAR | TOKEN68;
for (const ch of "!#$%&'*^`|") CLASS[ch.charCodeAt(0)] = TCHAR;
for (const ch of '-._~+') CLASS[ch.charCodeAt(0)] = TCHAR | TOKEN68;
CLASS[0x2f] = TOKEN68; // '/'

const HTAB = 0x09;
const SP = 0x20;
const DQUOTE = 0x22;
const COMMA = 0x2c;
const EQ = 0x3d;
const BACKSLASH = 0x5c;
const DEL = 0x7f;

const isTchar = (c: number) => c < 128 && ((CLASS[c] as number) & TCHAR) !== 0;
const isToken68 = (c: number) => c < 128 && ((CLASS[c] as number) & TOKEN68) !== 0;
/** qdtext and the escaped character of a quoted-pair: HTAB, SP, VCHAR, obs-text (`"` and `\` are handled first). */
const isText = (c: number) => c === HTAB || (c >= SP && c !== DEL);

/**
 * The char code at `i`, or 0 past the end (NUL is invalid everywhere in this grammar, just as the end is inside a
 * challenge's syntax). Never reading out of bounds keeps every code a small integer, which the JIT keeps fast.
 */
const at = (s: string, i: number) => (i < s.length ? s.charCodeAt(i) : 0);

function skipOws(s: string, i: number): number {
  let c = at(s, i);
  while (c === SP || c === HTAB) c = at(s, ++i);
  return i;
}

/** Skips OWS and empty list elements (`, ,`). */
function skipSeparators(s: string, i: number): number {
  let c = at(s, i);
  while (c === SP || c === HTAB || c === COMMA) c = at(s, ++i);
  return i;
}

/** Whether the token last scanned by `tokenEnd` has an uppercase letter: lowercase input is never copied. */
let tokenHasUpper = false;

/** End of the token starting at `i` (`i` itself when there is none). */
function tokenEnd(s: string, i: number): number {
  let c = at(s, i);
  let upper = false;
  while (isTchar(c)) {
    if (c >= 0x41 && c <= 0x5a) upper = true;
    c = at(s, ++i);
  }
  tokenHasUpper = upper;
  return i;
}

/** Lowercases the token just scanned by `tokenEnd`. */
const lower = (token: string) => (tokenHasUpper ? token.toLowerCase() : token);

/** Where `readQuoted` stopped: just after the closing quote. */
let quotedEnd = 0;

/** The unescaped content of the quoted-string opening at `i`, or undefined when it is malformed or unterminated. */
function readQuoted(s: string, i: number): string | undefined {
  let start = ++i;
  let unescaped = '';
  for (;;) {
    const c = at(s, i);
    if (c === DQUOTE) break;
    if (c === BACKSLASH) {
      if (!isText(at(s, i + 1))) return undefined;
      unescaped += s.slice(start, i);
      start = ++i; // the escaped character starts the next run
    } else if (!isText(c)) return undefined; // also 0: the string ended inside the quotes
    i++;
  }
  quotedEnd = i + 1;
  return unescaped + s.slice(start, i);
}

function setParam(params: Record<string, string>, name: string, value: string) {
  if (Object.hasOwn(params, name)) return; // the first of duplicate names wins
  // defineProperty keeps a hostile `__proto__` name an ordinary key.
  if (name === '__proto__') {
    Object.defineProperty(params, name, { value, enumerable: true, writable: true, configurable: true });
  } else params[name] = value;
}

/**
 * One field: `#challenge`, in one pass. A challenge is pushed only once complete; at the first syntax error the field
 * ends. After a comma, a token followed by `=` is another parameter, any other token starts the next challenge.
 * Lookahead is bounded (a token68 run is rescanned as a parameter name at most once, a token after a comma is read
 * again as the next scheme), so each character is read a bounded number of times: linear in the field's length.
 */
function parseField(s: string, out: Challenge[]) {
  const n = s.length;
  let i = skipSeparators(s, 0);
  while (i < n) {
    let end = tokenEnd(s, i);
    if (end === i) return;
    const scheme = lower(s.slice(i, end));
    const afterScheme = skipOws(s, end);
    let listed = false;
    if (afterScheme >= n || at(s, afterScheme) === COMMA) {
      // Empty list elements may stand between a scheme and its first parameter (`Basic ,,realm="x"`, RFC 9110
      // §5.6.1.2): after a space, a token followed by `=` is this challenge's parameter; else the next challenge.
      const next = skipSeparators(s, afterScheme);
      const nameEnd = tokenEnd(s, next);
      if (afterScheme === end || nameEnd === next || at(s, skipOws(s, nameEnd)) !== EQ) {
        out.push({ scheme, params: {} });
        i = next;
        continue;
      }
      listed = true;
      i = next;
    } else if (afterScheme === end) {
      return; // the scheme must be followed by a space
    } else {
      i = afterScheme;
    }

    // token68, if its run, its `=` padding and optional whitespace reach the end of the challenge.
    end = i;
    while (isToken68(at(s, end))) end++;
    if (end > i && !listed) {
      while (at(s, end) === EQ) end++;
      const next = skipOws(s, end);
      if (next >= n || at(s, next) === COMMA) {
        out.push({ scheme, token68: s.slice(i, end), params: {} });
        i = skipSeparators(s, next);
        continue;
      }
    }

    const params: Record<string, string> = {};
    let nameEnd = tokenEnd(s, i);
    if (nameEnd === i) return;
    for (;;) {
      const name = lower(s.slice(i, nameEnd));
      i = skipOws(s, nameEnd);
      if (at(s, i) !== EQ) return;
      i = skipOws(s, i + 1);
      let value: string | undefined;
      if (at(s, i) === DQUOTE) {
        value = readQuoted(s, i);
        if (value === undefined) return;
        i = quotedEnd;
      } else {
        end = tokenEnd(s, i);
        if (end === i) return;
        value = s.slice(i, end);
        i = end;
      }
      setParam(params, name, value);
      i = skipOws(s, i);
      if (i >= n) break;
      if (at(s, i) !== COMMA) return;
      i = skipSeparators(s, i);
      nameEnd = tokenEnd(s, i);
      // A token followed by `=` is the next parameter; anything else ends this challenge.
      if (nameEnd === i || at(s, skipOws(s, nameEnd)) !== EQ) break;
    }
    out.push({ scheme, params });
    if (i < n && !isTchar(at(s, i))) return;
  }
}

// Array.isArray does not narrow a readonly array out of a union.
const isFieldList = (input: unknown): input is readonly string[] => Array.isArray(input);

function fieldsOf(input: string | readonly string[] | Headers | Response, header: string): readonly string[] {
  if (typeof input === 'string') return [input];
  if (isFieldList(input)) return input;
  // Duck-typed, so a Response or Headers from another realm or fetch implementation works too.
  const headers = 'headers' in input ? input.headers : input;
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
 * that parsed completely before its first syntax error, and never a half-parsed challenge. `Headers` and `Response`
 * hand over repeated fields already joined, so there the first syntax error ends the whole list; an array keeps its
 * fields apart, so a broken field does not hide the next one. Of duplicate parameter names, the first wins
 * (`X a=1, a=2` gives `{ a: '1' }`). Schemes and parameter names are lowercased; values and token68 are verbatim.
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
  /** The protection space (`realm`). */
  realm?: string;
  /** Required scopes (`scope`, space-separated). */
  scope: string[];
  /** `invalid_request`, `invalid_token`, `insufficient_scope`, `insufficient_user_authentication`, … */
  error?: string;
  /** A human-readable explanation (`error_description`), for developers, not end users. */
  errorDescription?: string;
  /** A page about the error (`error_uri`). */
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
  /** The protection space (`realm`). */
  realm?: string;
  /** Required scopes (`scope`, space-separated), when the challenge names any. */
  scope?: string[];
  /** `invalid_dpop_proof`, `use_dpop_nonce`, `invalid_token`, … */
  error?: string;
  /** A human-readable explanation (`error_description`), for developers, not end users. */
  errorDescription?: string;
  /** A page about the error (`error_uri`). */
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
