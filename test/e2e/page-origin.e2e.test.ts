import { expect, it, onTestFinished } from 'vitest';
import { browserWithLibrary, describeEngines } from './engines/index.js';
import { pageOriginPage } from './pages.js';
import { serve } from './server.js';

describeEngines("the page's own API gets the token", (engine) => {
  const setup = browserWithLibrary(engine, 'src/index.ts');

  it('with no baseUrl, api.get("/api/me") carries the token; another origin does not get it', async () => {
    const seen: { url: string | undefined; authorization: string | undefined }[] = [];
    const other = await serve((req, res) => {
      seen.push({ url: `other${req.url}`, authorization: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' }).end('{}');
    });
    onTestFinished(() => other.close());
    const app = await serve((req, res) => {
      if (req.url === '/') return void res.writeHead(200, { 'content-type': 'text/html' }).end(pageOriginPage);
      if (req.url === '/apifetch.js') {
        return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(setup.library);
      }
      if (!req.url?.startsWith('/api/')) return void res.writeHead(404).end();
      seen.push({ url: req.url, authorization: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"ada"}');
    });
    onTestFinished(() => app.close());
    const window = await setup.browser.open(app.url);
    onTestFinished(() => window.close());
    await expect
      .poll(() => window.evaluate(() => (window as unknown as { ready?: boolean }).ready === true))
      .toBe(true);
    const result = await window.evaluate(
      (otherUrl) => (window as unknown as { run(other: string): Promise<unknown> }).run(otherUrl),
      other.url,
    );
    expect(result).toEqual({ name: 'ada' });
    expect(seen).toEqual([
      { url: '/api/me', authorization: 'Bearer page-token' },
      { url: 'other/x', authorization: undefined },
    ]);
  }, 60_000);
});
