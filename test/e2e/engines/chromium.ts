import { chromium as playwright } from 'playwright-core';
import { type Engine, openPage, program } from './engine.js';

const chromiumProgram = () => program('CHROMIUM_PATH', ['/usr/bin/chromium'], 'apt-get install chromium');

/** Debian's Chromium over playwright-core (never Playwright's own browser download). */
export const chromium: Engine = {
  name: 'chromium',
  missing: () => chromiumProgram().missing,
  async launch() {
    const browser = await playwright.launch({
      executablePath: chromiumProgram().path,
      headless: true,
      // No background networking: the network here is closed and Chromium would keep dialling out.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    // One context, so that the windows share storage as one user's tabs do.
    const context = await browser.newContext();
    return {
      version: `Chromium ${browser.version()}`,
      open: (url) => openPage(() => context.newPage(), url),
      close: () => browser.close(),
    };
  },
};
