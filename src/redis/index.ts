export type { EvalArguments, RedisCoordinationClient, RedisSubscriberClient } from './client.js';
export { type RedisCoordination, type RedisCoordinationOptions, redisCoordination } from './coordination.js';
