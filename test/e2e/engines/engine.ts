import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';

/** One browser window showing one page. */
export interface EngineWindow {
  /**
   * Run `fn` in the page and return its (JSON-serialisable) result. `fn` is sent as source text: it must not use
   * anything from the test's scope, only its argument.
   */
  evaluate<R, A = undefined>(fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R>;
  /** Save a PNG of the window (the whole page where the engine can). */
  screenshot(path: string): Promise<void>;
  close(): Promise<void>;
}

/** A running browser: one profile, so windows of one origin share storage, locks and channels as users' tabs do. */
export interface EngineBrowser {
  /** Product and version, as the browser reports it. */
  version: string;
  /** Open `url` in a new window (not a background tab: those clamp timers) and wait for its load event. */
  open(url: string): Promise<EngineWindow>;
  /** Stop the browser and every process started for it, and remove its temporary files. */
  close(): Promise<void>;
}

export interface Engine {
  name: 'chromium' | 'firefox' | 'webkit';
  /** Why this engine cannot run here (a missing program), or undefined when it can. */
  missing(): string | undefined;
  launch(): Promise<EngineBrowser>;
}

/** What a Playwright page and a Puppeteer page both offer, so that both become an `EngineWindow` one way. */
interface ScriptablePage {
  // Their own signatures differ (overloads, rest parameters); both take a function and one argument.
  evaluate: (...args: never[]) => Promise<unknown>;
  screenshot(options: { path: string; fullPage: boolean }): Promise<unknown>;
  close(): Promise<void>;
}

/** Open `url` in a page that `newPage` makes and wait for its load event. */
export async function openPage(
  newPage: () => Promise<ScriptablePage & { goto(url: string): Promise<unknown> }>,
  url: string,
): Promise<EngineWindow> {
  const page = await newPage();
  await page.goto(url);
  return {
    evaluate: (fn, arg) => page.evaluate(fn as never, arg as never) as never,
    screenshot: async (path) => {
      await page.screenshot({ path, fullPage: true });
    },
    close: () => page.close(),
  };
}

/** A program to start: the path in the environment variable `envName` when set, else the first of `defaults`. */
export function program(envName: string, defaults: string[], install: string): { path: string; missing?: string } {
  const override = process.env[envName];
  const paths = override ? [override] : defaults;
  const path = paths.find((candidate) => existsSync(candidate));
  if (path) return { path };
  return { path: '', missing: `${paths.join(' or ')} not found (${override ? `set by ${envName}` : install})` };
}

/** A free TCP port on loopback (for programs that cannot be told to pick one and report it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A child process whose output is kept (for the error message when it fails to start), stopped by its pid. */
export interface Started {
  child: ChildProcess;
  output(): string;
  /** SIGTERM by pid, SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

export function start(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; extraFd?: boolean } = {},
): Started {
  const stdio: ('ignore' | 'pipe')[] = ['ignore', 'pipe', 'pipe'];
  if (options.extraFd) stdio.push('pipe');
  const child = spawn(command, args, { stdio, env: options.env ?? process.env });
  let output = '';
  const keep = (chunk: Buffer) => {
    // The tail is what explains a failure; a chatty browser must not grow this without bound.
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (error) => keep(Buffer.from(`${error.message}\n`)));
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    child,
    output: () => output,
    stop: async (graceMs = 5_000) => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return exited;
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
          process.kill(child.pid, 'SIGKILL');
        }
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Resolve with the first match of `pattern` in what `started` writes (on `stream`), or reject when it exits first
 * or after `timeoutMs`, with its output as the reason.
 */
export function waitForOutput(
  started: Started,
  pattern: RegExp,
  timeoutMs: number,
  stream: NodeJS.ReadableStream | null = null,
): Promise<RegExpExecArray> {
  const { child } = started;
  const source = stream ?? child.stderr;
  return new Promise((resolve, reject) => {
    let seen = '';
    const done = () => {
      clearTimeout(timer);
      source?.off('data', onData);
      child.off('exit', onExit);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const match = pattern.exec(seen);
      if (match) {
        done();
        resolve(match);
      }
    };
    const onExit = (code: number | null) => {
      done();
      reject(new Error(`${child.spawnfile} exited (${code}) before it was ready:\n${started.output()}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${child.spawnfile} was not ready after ${timeoutMs} ms:\n${started.output()}`));
    }, timeoutMs);
    source?.on('data', onData);
    child.on('exit', onExit);
    if (child.exitCode !== null || child.signalCode !== null) onExit(child.exitCode);
  });
}

/** Run `fn` once, the first time `close` is called; later calls wait for the same result. */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= fn();
    return closing;
  };
}
