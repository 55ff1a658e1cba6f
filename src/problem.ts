import type { ProblemDetails } from './errors.js';

/** The most of an error body we read: enough for any problem document, bounded against hostile servers. */
export const maxErrorBodyBytes = 64 * 1024;

/** Read at most `limit` bytes of a body as UTF-8 text; the rest is cancelled, never buffered. */
export async function readBoundedText(response: Response, limit = maxErrorBodyBytes): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    if (size >= limit) void reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  const bytes = new Uint8Array(Math.min(size, limit));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.byteLength - offset);
    bytes.set(part, offset);
    offset += part.byteLength;
    if (offset >= bytes.byteLength) break;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * The error body of a response: RFC 9457 problem details when the server sent `application/problem+json`
 * (or a JSON object with problem members), else the text. Never throws.
 */
export async function readErrorBody(
  response: Response,
): Promise<{ problem?: ProblemDetails; data?: unknown; text?: string }> {
  let text: string;
  try {
    text = await readBoundedText(response);
  } catch {
    return {};
  }
  return { ...parseErrorText(text, response.headers.get('content-type') ?? ''), text };
}

/** Problem details or data from an error body's text. */
function parseErrorText(text: string, type: string): { problem?: ProblemDetails; data?: unknown } {
  if (text === '') return {};
  if (/[/+]json\b/i.test(type)) {
    try {
      const data: unknown = JSON.parse(text);
      if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
        const isProblem = /problem\+json/i.test(type) || 'title' in data || 'type' in data || 'detail' in data;
        return isProblem ? { problem: data as ProblemDetails, data } : { data };
      }
      return { data };
    } catch {
      // Invalid JSON still carries a message worth showing.
    }
  }
  return { data: text };
}
