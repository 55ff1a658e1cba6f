import { afterAll, beforeAll, describe } from 'vitest';
import { bundle } from '../server.js';
import { chromium } from './chromium.js';
import type { Engine, EngineBrowser } from './engine.js';
import { firefox } from './firefox.js';
import { webkit } from './webkit.js';

export type { Engine, EngineBrowser, EngineWindow } from './engine.js';

const all = [chromium, firefox, webkit];

/** The engines to run: all three, or the one named by `E2E_ENGINE` (each engine's vitest project sets it). */
export const engines: Engine[] = process.env.E2E_ENGINE
  ? all.filter((engine) => engine.name === process.env.E2E_ENGINE)
  : all;

/**
 * `describe` once per engine. A missing browser is never skipped: that engine's block runs and its launch fails with
 * the reason (the program and the Debian package to install).
 */
export function describeEngines(title: string, body: (engine: Engine) => void): void {
  for (const engine of engines) describe(`${title}, in ${engine.name}`, () => body(engine));
}

/** Launch `engine`, failing with the reason when it is missing (so CI reports why) and logging its version. */
export async function launch(engine: Engine): Promise<EngineBrowser> {
  const missing = engine.missing();
  if (missing) throw new Error(`${engine.name} cannot start: ${missing}`);
  const started = performance.now();
  const browser = await engine.launch();
  console.log(`${browser.version} started in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return browser;
}

/**
 * For one `describeEngines` block: the engine's browser, launched once, and the library bundled from `entry` (a file of
 * the project) for the test pages to load. Read both inside the tests, once `beforeAll` has run.
 */
export function browserWithLibrary(engine: Engine, entry: string): { browser: EngineBrowser; library: string } {
  const setup = {} as { browser: EngineBrowser; library: string };
  beforeAll(async () => {
    setup.library = await bundle(entry);
    setup.browser = await launch(engine);
  }, 60_000);
  afterAll(() => setup.browser?.close());
  return setup;
}
