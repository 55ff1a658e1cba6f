import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'rolldown';

export interface Served {
  /** `http://127.0.0.1:<port>`: a fresh origin, so each test starts with empty storage in a shared browser. */
  url: string;
  close(): Promise<void>;
}

/** An HTTP server on a free loopback port. */
export function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Served> {
  const server = createServer(handler);
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      }),
    );
  });
}

/** Bundle `input` (a file of the project) into one browser ES module. */
export async function bundle(input: string): Promise<string> {
  const result = await build({
    input,
    cwd: process.cwd(),
    write: false,
    platform: 'browser',
    output: { format: 'esm' },
    logLevel: 'silent',
  });
  return result.output.map((chunk) => (chunk.type === 'chunk' ? chunk.code : '')).join('\n');
}
