// The library a DPoP test page loads: the core and apifetch/dpop in one module, as an app's bundler would join them.
export * from '../../src/dpop/index.js';
export * from '../../src/index.js';
