export {
  type FailOptions,
  type MockAuthApi,
  type MockAuthApiOptions,
  type MockAuthApiStats,
  type MockBody,
  type MockDpopOptions,
  type MockRoute,
  type MockRouteContext,
  type MockUser,
  mockAuthApi,
} from './mock-auth-api.js';

export { instantRetry, testingOptions } from './presets.js';
