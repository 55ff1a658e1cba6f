import { type ChildProcess, fork } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import type { FromWorker, ToWorker, WorkerConfig } from './protocol.js';

const root = resolve(import.meta.dirname, '../../..');

/**
 * Bundle the worker (TypeScript sources) into one ES module that Node runs as is. It lands under the repository's
 * `node_modules/.cache`, so its packages (redis, ky) resolve from the repository's `node_modules`.
 */
export async function buildWorker(): Promise<{ file: string; remove(): void }> {
  const outDir = join(root, 'node_modules/.cache/apifetch-redis-worker', `${process.pid}-${Date.now()}`);
  await build({
    configFile: false,
    logLevel: 'silent',
    root,
    build: {
      ssr: join(root, 'test/redis/worker.ts'),
      outDir,
      emptyOutDir: true,
      minify: false,
      target: 'node20',
      rolldownOptions: { output: { entryFileNames: 'worker.mjs' } },
    },
  });
  return { file: join(outDir, 'worker.mjs'), remove: () => rmSync(outDir, { recursive: true, force: true }) };
}

/** One worker process: what it told so far, and a way to ask. */
export interface Worker {
  pid: number;
  child: ChildProcess;
  /** Every event it reported (`coordination:fallback`, `refresh:success`, ...), in order. */
  events: string[];
  /** Send a command and wait for the first message of `type` after it. */
  ask<T extends FromWorker['type']>(command: ToWorker, type: T): Promise<Extract<FromWorker, { type: T }>>;
  /** Wait for a message of `type` (one that arrives from now on). */
  next<T extends FromWorker['type']>(type: T): Promise<Extract<FromWorker, { type: T }>>;
  count(event: string): number;
}

export async function startWorker(file: string, config: WorkerConfig): Promise<Worker> {
  const child = fork(file, [], {
    env: { ...process.env, APIFETCH_WORKER: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const events: string[] = [];
  const waiting: { type: string; resolve: (message: FromWorker) => void; reject: (error: Error) => void }[] = [];
  child.on('message', (message: FromWorker) => {
    if (message.type === 'event') events.push(message.detail ? `${message.event}:${message.detail}` : message.event);
    const index = waiting.findIndex((w) => w.type === message.type);
    if (index >= 0) waiting.splice(index, 1)[0]?.resolve(message);
  });
  child.on('exit', (code, signal) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`worker ${child.pid} exited (${code ?? signal})`));
  });
  const next = <T extends FromWorker['type']>(type: T) =>
    new Promise<Extract<FromWorker, { type: T }>>((resolve, reject) => {
      waiting.push({ type, resolve: resolve as (message: FromWorker) => void, reject });
    });
  const ready = next('ready');
  child.once('error', (error) => {
    throw error;
  });
  const { pid } = await ready;
  return {
    pid,
    child,
    events,
    next,
    ask(command, type) {
      const answer = next(type);
      child.send(command);
      return answer;
    },
    count: (event) => events.filter((e) => e === event || e.startsWith(`${event}:`)).length,
  };
}

/** Start `count` workers at once. */
export const startWorkers = (file: string, count: number, config: (index: number) => WorkerConfig) =>
  Promise.all(Array.from({ length: count }, (_, index) => startWorker(file, config(index))));

/** Ask every worker still running to exit, and kill those that do not within 5 s (by pid). */
export async function stopWorkers(workers: readonly Worker[]): Promise<void> {
  await Promise.all(
    workers.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ cmd: 'exit' } satisfies ToWorker);
      const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }),
  );
}

/** Fire `requests` concurrent requests in every worker; the totals. */
export async function fireAll(workers: readonly Worker[], round: number, requests: number) {
  const answers = await Promise.all(workers.map((w) => w.ask({ cmd: 'fire', round, requests }, 'fired')));
  return {
    ok: answers.reduce((sum, a) => sum + a.ok, 0),
    failed: answers.flatMap((a) => a.failed),
  };
}
