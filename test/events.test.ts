import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEmitter, requestInfo } from '../src/events.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createEmitter', () => {
  it('without a listener it is inactive and costs nothing', () => {
    const emit = createEmitter(undefined, () => 1);
    expect(emit.active).toBe(false);
    expect(() => emit({ type: 'coordination:fallback', missing: [] })).not.toThrow();
  });

  it('stamps each event with the injected clock', () => {
    const events: unknown[] = [];
    const emit = createEmitter(
      (event) => events.push(event),
      () => 42,
    );
    expect(emit.active).toBe(true);
    emit({ type: 'signed-out', source: 'local' });
    expect(events).toEqual([{ type: 'signed-out', source: 'local', time: 42 }]);
  });

  it('a listener that throws never breaks the caller, and is reported once', () => {
    const report = vi.spyOn(console, 'error').mockImplementation(() => {});
    const emit = createEmitter(() => {
      throw new Error('listener bug');
    }, Date.now);
    for (let i = 0; i < 3; i++) emit({ type: 'signed-out', source: 'local' });
    expect(report).toHaveBeenCalledTimes(1);
    expect(String(report.mock.calls[0]?.[0])).toContain('onEvent threw');
  });
});

describe('requestInfo', () => {
  it('gives the method and the URL without userinfo or query', () => {
    const request = new Request('https://api.example.test/orders?token=x', { method: 'POST' });
    expect(requestInfo(request)).toEqual({ method: 'POST', url: 'https://api.example.test/orders?…' });
  });
});
