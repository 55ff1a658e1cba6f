import { describe, expect, it } from 'vitest';
import { fireAll, type Worker } from './helpers/fleet.js';
import { lockTtlMs, redisSuite } from './helpers/suite.js';

/** Slack for a loaded machine: process scheduling, the lock's 20 ms retry, a loopback round trip. */
const slackMs = 1000;

/** Each worker's answer; the killed one's never comes (its rejection is expected, so handled here). */
const fire = (workers: readonly Worker[], round: number) =>
  workers.map((w) => {
    const answer = w.ask({ cmd: 'fire', round, requests: 50 }, 'fired');
    answer.catch(() => {});
    return answer;
  });

describe('the lock holder is killed (SIGKILL) in the middle of a refresh', () => {
  const suite = redisSuite();

  it('before the token endpoint answered: the others recover within the lock expiry by one clean refresh', async () => {
    const workers = await suite.start(4, 'redis');
    const { oauth } = suite;
    const held = oauth.holdNextRefresh();
    oauth.expire();
    const firing = fire(workers, 1);
    const holderPid = Number(await held.arrived);
    const holder = workers.find((w) => w.pid === holderPid) as Worker;
    const survivors = workers.filter((w) => w !== holder);
    const recovered = oauth.nextRefresh();
    const killedAt = Date.now();
    process.kill(holderPid, 'SIGKILL');
    await held.dropped;
    const recoveredAt = await recovered;
    const answers = await Promise.all(firing.filter((_, i) => workers[i] !== holder));

    expect(answers.flatMap((a) => a.failed)).toEqual([]);
    expect(answers.reduce((sum, a) => sum + a.ok, 0)).toBe(150);
    expect(oauth.rotations).toBe(1);
    expect(oauth.reuses).toBe(0);
    expect(recoveredAt - killedAt).toBeLessThanOrEqual(lockTtlMs + slackMs);
    // The session goes on: the next expiry is one refresh again.
    oauth.expire();
    expect((await fireAll(survivors, 2, 50)).failed).toEqual([]);
    expect(oauth.rotations).toBe(2);
    expect(oauth.reuses).toBe(0);
    console.info(
      `killed before the answer: recovered ${recoveredAt - killedAt} ms after the kill (lock expiry ${lockTtlMs} ms)`,
    );
  }, 60_000);

  it('after the token endpoint rotated, before the commit (no lock can save this): one reuse, every worker signed out, failing fast', async () => {
    const workers = await suite.start(4, 'redis');
    const { oauth } = suite;
    const held = oauth.holdNextRefresh({ afterRotation: true });
    oauth.expire();
    const firing = fire(workers, 1);
    const holderPid = Number(await held.arrived);
    process.kill(holderPid, 'SIGKILL');
    await held.dropped;
    const survivors = workers.filter((w) => w.pid !== holderPid);
    const answers = await Promise.all(firing.filter((_, i) => workers[i]?.pid !== holderPid));

    // The rotated pair died with the holder: the next refresh spends the old token, the server revokes the session.
    expect(oauth.rotations).toBe(1);
    expect(oauth.reuses).toBe(1);
    expect(answers.reduce((sum, a) => sum + a.ok, 0)).toBe(0);
    expect(new Set(answers.flatMap((a) => a.failed).map((f) => f.split(':')[0]))).toEqual(
      new Set(['ERR_UNAUTHENTICATED']),
    );
    // Signed out everywhere, without a loop: the next requests are not sent and nothing more reaches the server.
    const after = await fireAll(survivors, 2, 50);
    expect(after.failed).toEqual(Array(150).fill('ERR_UNAUTHENTICATED:signed_out'));
    expect([...oauth.sends.keys()].filter((id) => id.includes('-2-'))).toEqual([]);
    expect(oauth.reuses + oauth.refused).toBe(1);
  }, 60_000);

  it('after its new tokens were committed to Redis: the others take them within the lock expiry, with no refresh', async () => {
    const workers = await suite.start(4, 'redis', { hangAfterCommit: true });
    const { oauth } = suite;
    oauth.expire();
    // The others never commit: their wait ends (rejected) when they exit.
    const committed = workers.map((w) =>
      w.next('committed').then(
        () => w,
        () => undefined,
      ),
    );
    const firing = fire(workers, 1);
    const holder = (await Promise.race(committed)) as Worker;
    const killedAt = Date.now();
    process.kill(holder.pid, 'SIGKILL');
    const answers = await Promise.all(firing.filter((_, i) => workers[i] !== holder));
    const doneAt = Date.now();

    expect(answers.flatMap((a) => a.failed)).toEqual([]);
    expect(answers.reduce((sum, a) => sum + a.ok, 0)).toBe(150);
    // The killed holder's refresh is the only one: its committed tokens are the session's.
    expect(oauth.rotations).toBe(1);
    expect(oauth.reuses).toBe(0);
    expect(doneAt - killedAt).toBeLessThanOrEqual(lockTtlMs + slackMs);
    expect(Math.max(...oauth.sends.values())).toBeLessThanOrEqual(2);
    console.info(
      `killed after the commit: the others done ${doneAt - killedAt} ms after the kill (lock expiry ${lockTtlMs} ms)`,
    );
  }, 60_000);
});
