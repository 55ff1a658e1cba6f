import type { ApiFetchEvent } from 'apifetch';

/** How a send ended, which is how its bar is coloured. */
type Kind = 'pending' | 'ok' | 'retried' | 'replayed' | 'nonce' | 'failed' | 'refresh';

interface Span {
  start: number;
  end?: number;
}
interface Send extends Span {
  kind: Kind;
  status?: number;
}
interface Wait extends Span {
  label: string;
}
interface Row {
  label: string;
  sends: Send[];
  waits: Wait[];
  /** A retry or replay was announced: the next send of this request continues this row. */
  continuing: boolean;
  /** Failed fast: nothing was sent. */
  notSent?: number;
  /** The token refresh's row (its bar turns red when it fails, so its kind cannot tell). */
  refresh?: true;
}

const axis = 20;
/** Room right of the last mark for half the last tick's label ("1.2 s"). */
const rightMargin = 28;
/** Width of "✕ not sent" in the chart's 11 px font, with a little air. */
const notSentWidth = 64;
/** The shortest span the axis shows, so that a lone instant mark does not sit at the far right of a 0–1 ms axis. */
const minSpanMs = 20;

/** Why a refresh started, in words: `rejected` means the API refused the token, not that the refresh failed. */
export const refreshReason = {
  expired: { short: 'refresh before expiry', long: 'the token is about to expire' },
  rejected: { short: 'refresh after a 401', long: 'the API answered 401 to the token' },
  manual: { short: 'forced refresh', long: 'api.auth.refresh() was called' },
} as const;

/**
 * The request timeline of the last action, drawn from `onEvent`: one row per logical request, one bar per send
 * (coloured by outcome), a dashed line for each wait (backoff, Retry-After, waiting for the refresh), and a row
 * for each token refresh.
 */
export class Timeline {
  #rows: Row[] = [];
  #open = new Map<string, Row>();
  #t0 = performance.now();
  #title = '';
  #frame = 0;
  #counts = { requests: 0, sends: 0, refreshes: 0, replays: 0, retries: 0 };

  readonly svg: SVGSVGElement;
  readonly caption: HTMLElement;

  constructor(svg: SVGSVGElement, caption: HTMLElement) {
    this.svg = svg;
    this.caption = caption;
  }

  /** Start a new timeline (one per button press). */
  reset(title: string) {
    this.#rows = [];
    this.#open.clear();
    this.#t0 = performance.now();
    this.#title = title;
    this.#counts = { requests: 0, sends: 0, refreshes: 0, replays: 0, retries: 0 };
    this.#schedule();
  }

  /** Milliseconds since the action started. */
  elapsed() {
    return performance.now() - this.#t0;
  }

  add(event: ApiFetchEvent) {
    const now = this.elapsed();
    switch (event.type) {
      case 'request': {
        const key = `${event.method} ${event.url}`;
        let row = this.#open.get(key);
        if (row?.continuing) {
          row.continuing = false;
          const wait = row.waits.at(-1);
          if (wait && wait.end === undefined) wait.end = now;
        } else if (row && event.attempt > 1) {
          // A send of the same request with no retry or replay between: DPoP's one retry with the server's nonce.
          const last = row.sends.at(-1);
          if (last?.status === 401 || last?.status === 400) last.kind = 'nonce';
        } else {
          row = { label: `${event.method} ${shortUrl(event.url)}`, sends: [], waits: [], continuing: false };
          this.#rows.push(row);
          this.#open.set(key, row);
          this.#counts.requests += 1;
        }
        row.sends.push({ start: now, kind: 'pending' });
        this.#counts.sends += 1;
        break;
      }
      case 'response':
      case 'error': {
        const send = this.#open.get(`${event.method} ${event.url}`)?.sends.at(-1);
        if (!send || send.end !== undefined) break;
        send.end = now;
        send.status = event.type === 'response' ? event.status : 0;
        send.kind = send.status > 0 && send.status < 400 ? 'ok' : 'failed';
        break;
      }
      case 'retry':
      case 'replay': {
        const row = this.#open.get(`${event.method} ${event.url}`);
        const send = row?.sends.at(-1);
        if (!row || !send) break;
        row.continuing = true;
        if (event.type === 'retry') {
          this.#counts.retries += 1;
          send.kind = 'retried';
          const why = event.retryAfterMs === undefined ? 'backoff' : 'Retry-After';
          row.waits.push({ start: now, label: `${event.reason}: ${why} ${Math.round(event.delayMs)} ms` });
        } else {
          this.#counts.replays += 1;
          send.kind = 'replayed';
          row.waits.push({ start: send.end ?? now, end: now, label: 'waited for the refresh' });
        }
        break;
      }
      case 'unauthenticated':
      case 'forbidden': {
        if (event.url === undefined || event.method === undefined) break;
        const key = `${event.method} ${event.url}`;
        if (this.#open.has(key)) break;
        // Failed fast: the request never reached the network.
        this.#rows.push({ label: `${event.method} ${shortUrl(event.url)}`, sends: [], waits: [], continuing: false });
        this.#rows.at(-1)!.notSent = now;
        this.#counts.requests += 1;
        break;
      }
      case 'refresh:start':
        this.#counts.refreshes += 1;
        this.#rows.push({
          label: refreshReason[event.reason].short,
          sends: [{ start: now, kind: 'refresh' }],
          waits: [],
          continuing: false,
          refresh: true,
        });
        break;
      case 'refresh:success':
      case 'refresh:failure': {
        const send = this.#rows.findLast(isRefresh)?.sends[0];
        if (send && send.end === undefined) {
          send.end = now;
          if (event.type === 'refresh:failure') send.kind = 'failed';
        }
        break;
      }
      default:
        return;
    }
    this.#schedule();
  }

  #schedule() {
    if (this.#frame) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.#draw();
      // Keep open bars growing until everything has settled.
      const busy = this.#rows.some(
        (r) => r.sends.some((s) => s.end === undefined) || r.waits.some((w) => w.end === undefined),
      );
      if (busy) this.#schedule();
    });
  }

  #draw() {
    const c = this.#counts;
    if (this.#rows.length === 0) {
      // Nothing to draw (sign-out sends nothing): no empty axis, a sentence instead.
      this.caption.textContent = this.#title
        ? `${this.#title}: no requests were sent.`
        : 'Press a button: its requests appear here.';
      this.svg.removeAttribute('viewBox');
      this.svg.setAttribute('height', '0');
      this.svg.innerHTML = '';
      return;
    }
    this.caption.textContent = `${this.#title}: ${plural(c.requests, 'request')} · ${plural(c.sends, 'send')} · ${plural(c.refreshes, 'refresh')} · ${plural(c.replays, 'replay')} · ${plural(c.retries, 'retry')}`;
    const width = Math.max(320, this.svg.clientWidth || 800);
    // Row labels take less room on a phone, where every pixel of the chart counts.
    const gutter = width < 560 ? 116 : 150;
    // Refreshes on top: every request below waits for them.
    const rows = [...this.#rows.filter(isRefresh), ...this.#rows.filter((r) => !isRefresh(r))];
    const rowHeight = Math.max(5, Math.min(18, 360 / Math.max(1, rows.length)));
    const height = axis + Math.max(1, rows.length) * rowHeight + 4;
    const now = this.elapsed();
    const last = Math.max(
      minSpanMs,
      ...rows.flatMap((r) => [
        ...r.sends.map((s) => s.end ?? now),
        ...r.waits.map((w) => w.end ?? now),
        r.notSent ?? 0,
      ]),
    );
    const span = last * 1.04;
    const x = (t: number) => gutter + (t / span) * (width - gutter - rightMargin);
    const parts: string[] = [];

    // A tick label needs about 56 px: fewer ticks on a narrow chart.
    for (const tick of ticks(span, Math.max(2, Math.floor((width - gutter - rightMargin) / 56)))) {
      parts.push(
        `<line class="tick" x1="${x(tick)}" x2="${x(tick)}" y1="${axis - 4}" y2="${height}"/>`,
        `<text class="tick-label" x="${x(tick)}" y="${axis - 8}" text-anchor="middle">${formatMs(tick)}</text>`,
      );
    }
    rows.forEach((row, i) => {
      const y = axis + i * rowHeight;
      const mid = y + rowHeight / 2;
      if (rowHeight >= 10 || isRefresh(row)) {
        parts.push(
          `<text class="row-label" x="${gutter - 6}" y="${mid + 4}" text-anchor="end">${escapeXml(fitLabel(row.label, gutter - 8))}<title>${escapeXml(row.label)}</title></text>`,
        );
      }
      for (const wait of row.waits) {
        parts.push(
          `<line class="wait" x1="${x(wait.start)}" x2="${x(wait.end ?? now)}" y1="${mid}" y2="${mid}"><title>${escapeXml(wait.label)}</title></line>`,
        );
      }
      for (const send of row.sends) {
        const x1 = x(send.start);
        const w = Math.max(2, x(send.end ?? now) - x1);
        const status = send.status === undefined ? '' : send.status === 0 ? ' network error' : ` ${send.status}`;
        parts.push(
          `<rect class="bar ${send.kind}" data-kind="${send.kind}" x="${x1}" y="${y + 1}" width="${w}" height="${Math.max(2, rowHeight - 2)}" rx="2"><title>${escapeXml(row.label)}${status}</title></rect>`,
        );
      }
      if (row.notSent !== undefined) {
        // Right of the instant it failed, or left of it when the text would run off the chart.
        const at = x(row.notSent);
        const fits = at + 2 + notSentWidth <= width;
        parts.push(
          `<text class="not-sent" data-kind="not-sent" x="${fits ? at + 2 : at - 2}" y="${mid + 4}" text-anchor="${fits ? 'start' : 'end'}">\u2715 not sent</text>`,
        );
      }
    });
    const requests = rows.filter((r) => !isRefresh(r));
    if (rowHeight < 10 && requests.length > 0) {
      // Rows too thin to label one by one: one label for the lot.
      const first = axis + (rows.length - requests.length) * rowHeight;
      const mid = first + (requests.length * rowHeight) / 2;
      parts.push(
        `<text class="row-label" x="${gutter - 6}" y="${mid + 4}" text-anchor="end">${requests.length} requests</text>`,
      );
    }
    this.svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    this.svg.setAttribute('height', String(height));
    this.svg.innerHTML = parts.join('');
  }
}

/** A path for our own origin, host and path for others. */
export function shortUrl(url: string): string {
  const parsed = new URL(url, window.location.href);
  return parsed.origin === window.location.origin ? parsed.pathname : `${parsed.host}${parsed.pathname}`;
}

/** A row label cut from the left to fit `px` of the 11 px font (the end of a URL tells most). */
function fitLabel(label: string, px: number): string {
  const most = Math.floor(px / 6.2);
  return label.length <= most ? label : `\u2026${label.slice(label.length - most + 1)}`;
}

const isRefresh = (row: Row) => row.refresh === true;

function plural(n: number, word: 'request' | 'send' | 'refresh' | 'replay' | 'retry'): string {
  const many = { request: 'requests', send: 'sends', refresh: 'refreshes', replay: 'replays', retry: 'retries' };
  return `${n} ${n === 1 ? word : many[word]}`;
}

function ticks(span: number, most: number): number[] {
  const steps = [1, 2, 5, 10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];
  const step = steps.find((s) => span / s <= most) ?? 120_000;
  return Array.from({ length: Math.floor(span / step) + 1 }, (_, i) => i * step);
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s` : `${ms} ms`;
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
