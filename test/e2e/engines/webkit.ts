import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Engine,
  type EngineWindow,
  freePort,
  once,
  program,
  type Started,
  start,
  waitForOutput,
} from './engine.js';

const triplet = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
// MiniBrowser ships with libwebkit2gtk-4.1-0, which webkit2gtk-driver depends on.
const miniBrowser = () =>
  program('MINIBROWSER_PATH', [`/usr/lib/${triplet}/webkit2gtk-4.1/MiniBrowser`], 'apt-get install webkit2gtk-driver');
const driver = () =>
  program('WEBKIT_WEBDRIVER_PATH', ['/usr/bin/WebKitWebDriver'], 'apt-get install webkit2gtk-driver');
const xvfbProgram = () => program('XVFB_PATH', ['/usr/bin/Xvfb'], 'apt-get install xvfb');

/** Stop what was started, last first. */
async function stopAll(started: Started[], dir: string) {
  for (const one of started.reverse()) await one.stop();
  rmSync(dir, { recursive: true, force: true });
}

/**
 * WebKitGTK's MiniBrowser (WebKitGTK, not Safari) driven by Debian's WebKitWebDriver over classic WebDriver, plain
 * HTTP. MiniBrowser has no headless mode, so it gets an Xvfb display of its own.
 */
export const webkit: Engine = {
  name: 'webkit',
  missing: () => driver().missing ?? miniBrowser().missing ?? xvfbProgram().missing,
  async launch() {
    const dir = mkdtempSync(join(tmpdir(), 'apifetch-e2e-webkit-'));
    const started: Started[] = [];
    try {
      // -displayfd: Xvfb takes the first free display number and writes it to fd 3 once it accepts clients.
      const xvfb = start(xvfbProgram().path, ['-displayfd', '3', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'], {
        extraFd: true,
      });
      started.push(xvfb);
      const [, display] = await waitForOutput(xvfb, /^(\d+)\n/, 15_000, xvfb.child.stdio[3] as NodeJS.ReadableStream);
      const env = { ...process.env, DISPLAY: `:${display}`, HOME: dir, XDG_CACHE_HOME: dir, XDG_DATA_HOME: dir };
      // WebKitWebDriver cannot pick its own port; another program may take this one first, so try a few.
      let base = '';
      for (let attempt = 1; !base; attempt++) {
        const port = await freePort();
        const webDriver = start(driver().path, [`--port=${port}`, '--host=127.0.0.1'], { env });
        started.push(webDriver);
        const ready = await waitForStatus(`http://127.0.0.1:${port}`, webDriver);
        if (ready) base = `http://127.0.0.1:${port}`;
        else {
          await webDriver.stop();
          if (attempt === 3) throw new Error(`WebKitWebDriver did not start:\n${webDriver.output()}`);
        }
      }
      return await connect(base, () => stopAll(started, dir));
    } catch (error) {
      await stopAll(started, dir);
      throw error;
    }
  },
};

/** True once the driver answers `/status`; false when it exits or stays silent for 15 s. */
async function waitForStatus(base: string, driver: Started): Promise<boolean> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && driver.child.exitCode === null) {
    const ok = await fetch(`${base}/status`, { signal: AbortSignal.timeout(1_000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

async function connect(base: string, stop: () => Promise<void>) {
  const command = async (method: 'GET' | 'POST' | 'DELETE', path: string, body?: object): Promise<unknown> => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(90_000),
    });
    const { value } = (await response.json()) as { value: unknown };
    if (!response.ok) throw new Error(`WebDriver ${method} ${path}: ${JSON.stringify(value)}`);
    return value;
  };
  const session = (await command('POST', '/session', {
    capabilities: {
      alwaysMatch: {
        'webkitgtk:browserOptions': { binary: miniBrowser().path, args: ['--automation'] },
      },
    },
  })) as { sessionId: string; capabilities: { browserName: string; browserVersion: string } };
  const path = `/session/${session.sessionId}`;
  await command('POST', `${path}/timeouts`, { script: 60_000, pageLoad: 30_000 });
  // The session's first window stays on about:blank: new windows are opened from it, and closing a test's windows
  // never ends the session.
  const home = (await command('GET', `${path}/window`)) as string;

  // Classic WebDriver talks to one window at a time: every command switches to its window, one command at a time.
  let queue: Promise<unknown> = Promise.resolve();
  let current = home;
  const inWindow = <T>(handle: string, fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(async () => {
      if (current !== handle) await command('POST', `${path}/window`, { handle });
      current = handle;
      return fn();
    });
    queue = run.catch(() => {});
    return run;
  };

  return {
    version: `WebKitGTK ${session.capabilities.browserVersion} (${session.capabilities.browserName})`,
    async open(url: string): Promise<EngineWindow> {
      const { handle } = (await inWindow(home, () => command('POST', `${path}/window/new`, { type: 'window' }))) as {
        handle: string;
      };
      await inWindow(handle, () => command('POST', `${path}/url`, { url }));
      return {
        evaluate: async <R, A>(fn: (arg: A) => R | Promise<R>, arg?: A) => {
          const script = `const done = arguments[arguments.length - 1];
            Promise.resolve().then(() => (${fn.toString()})(arguments[0])).then(
              (value) => done({ value }),
              (error) => done({ error: String((error && error.stack) || error) }),
            );`;
          const result = (await inWindow(handle, () =>
            command('POST', `${path}/execute/async`, { script, args: [arg ?? null] }),
          )) as { value?: R; error?: string };
          if (result.error !== undefined) throw new Error(result.error);
          return result.value as R;
        },
        screenshot: async (file) => {
          const png = (await inWindow(handle, () => command('GET', `${path}/screenshot`))) as string;
          writeFileSync(file, Buffer.from(png, 'base64'));
        },
        close: () =>
          inWindow(handle, async () => {
            await command('DELETE', `${path}/window`);
            await command('POST', `${path}/window`, { handle: home });
            current = home;
          }),
      };
    },
    close: once(async () => {
      await command('DELETE', path).catch(() => {});
      await stop();
    }),
  };
}
