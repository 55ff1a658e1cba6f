export type { RedisCoordinationOptions, RedisSubscriberClient } from '../options.js';
export type { EvalArguments, RedisCoordinationClient } from './client.js';
export { type RedisCoordination, redisCoordination } from './coordination.js';
