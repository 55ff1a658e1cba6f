import { afterEach, describe, expect, it, vi } from 'vitest';
import { abortable, sleep } from '../src/abortable.js';
import { deferred } from './helpers/deferred.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('abortable', () => {
  it('without a signal it is the promise itself', () => {
    const promise = Promise.resolve(1);
    expect(abortable(promise, undefined)).toBe(promise);
    expect(abortable(promise, null)).toBe(promise);
  });

  it('an already aborted signal rejects at once with its reason', async () => {
    const reason = new Error('gone');
    await expect(abortable(new Promise(() => {}), AbortSignal.abort(reason))).rejects.toBe(reason);
  });

  it('settles as the promise does while the signal stays quiet, and leaves no listener behind', async () => {
    const controller = new AbortController();
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    expect(await abortable(Promise.resolve('ok'), controller.signal)).toBe('ok');
    const failure = new Error('failed');
    await expect(abortable(Promise.reject(failure), controller.signal)).rejects.toBe(failure);
    expect(remove).toHaveBeenCalledTimes(2);
  });

  it('an abort ends only this wait: the promise goes on for the others', async () => {
    const shared = deferred<string>();
    const controller = new AbortController();
    const mine = abortable(shared.promise, controller.signal);
    const theirs = abortable(shared.promise, new AbortController().signal);
    controller.abort(new Error('user left'));
    await expect(mine).rejects.toThrow('user left');
    shared.release('done');
    expect(await theirs).toBe('done');
  });
});

describe('sleep', () => {
  it('waits its time, then leaves no timer', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    let done = false;
    void sleep(1000, controller.signal).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    expect(remove).toHaveBeenCalledWith('abort', expect.any(Function));
  });

  it('an abort ends the wait early and clears its timer', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const waiting = sleep(60_000, controller.signal);
    expect(vi.getTimerCount()).toBe(1);
    controller.abort();
    await waiting;
    expect(vi.getTimerCount()).toBe(0);
  });
});
