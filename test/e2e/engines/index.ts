import { describe } from 'vitest';
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
 * In CI (`CI`, or `E2E_REQUIRE_ENGINES` as .ci/run sets it) an engine that cannot start fails the run; elsewhere a
 * missing browser skips its tests, visibly.
 */
const inCi = Boolean(process.env.CI || process.env.E2E_REQUIRE_ENGINES);

/**
 * `describe` once per engine. A missing browser skips that engine's block with the reason in its title, except in
 * CI, where the block runs and its launch fails with the reason.
 */
export function describeEngines(title: string, body: (engine: Engine) => void): void {
  for (const engine of engines) {
    const missing = engine.missing();
    if (missing && !inCi) {
      console.warn(`${engine.name}: ${missing}; its browser tests are skipped (CI fails instead)`);
      describe.skip(`${title}, in ${engine.name} (skipped: ${missing})`, () => body(engine));
    } else {
      describe(`${title}, in ${engine.name}`, () => body(engine));
    }
  }
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
