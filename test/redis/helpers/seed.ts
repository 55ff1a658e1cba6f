import { createClient } from 'redis';
import type { TokenSet } from '../../../src/index.js';
import { redisCoordination } from '../../../src/redis/index.js';

/** Write the session's first tokens to Redis, as the app's sign-in would (`session.setTokens`). */
export async function seed(url: string, key: string, tokens: TokenSet): Promise<void> {
  const client = await createClient({ url })
    .on('error', () => {})
    .connect();
  const coordination = redisCoordination(client, { key });
  await coordination.state.write(tokens);
  await coordination.close();
  client.destroy();
}
