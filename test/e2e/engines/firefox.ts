import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { type Engine, once, openPage, program, start, waitForOutput } from './engine.js';

const firefoxProgram = () =>
  program('FIREFOX_PATH', ['/usr/bin/firefox-esr', '/usr/bin/firefox'], 'apt-get install firefox-esr');

/**
 * Debian's Firefox ESR, started here with a temporary profile and driven by puppeteer-core over WebDriver BiDi.
 * Starting it ourselves (not `puppeteer.launch`) keeps Firefox's default of one content process per site, which
 * `puppeteer.launch` turns off; users' tabs have it.
 */
export const firefox: Engine = {
  name: 'firefox',
  missing: () => firefoxProgram().missing,
  async launch() {
    const profile = mkdtempSync(join(tmpdir(), 'apifetch-e2e-firefox-'));
    // Firefox applies its recommended automation prefs itself; these only keep a fresh profile quiet.
    writeFileSync(
      join(profile, 'user.js'),
      [
        'user_pref("browser.shell.checkDefaultBrowser", false);',
        'user_pref("browser.startup.homepage_override.mstone", "ignore");',
        'user_pref("datareporting.policy.dataSubmissionEnabled", false);',
        'user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);',
        '',
      ].join('\n'),
    );
    const removeProfile = () => rmSync(profile, { recursive: true, force: true });
    // Port 0: Firefox picks a free port and prints the address it listens on.
    const firefoxProcess = start(firefoxProgram().path, [
      '--headless',
      '--no-remote',
      '--profile',
      profile,
      '--remote-debugging-port=0',
      'about:blank',
    ]);
    try {
      const [, endpoint] = await waitForOutput(firefoxProcess, /WebDriver BiDi listening on (ws:\/\/\S+)/, 30_000);
      const browser = await puppeteer.connect({ browserWSEndpoint: `${endpoint}/session`, protocol: 'webDriverBiDi' });
      return {
        version: `Firefox ${(await browser.version()).replace(/^firefox\//, '')}`,
        open: (url) => openPage(() => browser.newPage({ type: 'window' }), url),
        close: once(async () => {
          await browser.close().catch(() => {});
          await firefoxProcess.stop();
          removeProfile();
        }),
      };
    } catch (error) {
      await firefoxProcess.stop();
      removeProfile();
      throw error;
    }
  },
};
