/** A promise the test settles itself: `release` resolves it, so a test decides when a wait ends instead of sleeping. */
export function deferred<T = void>() {
  let release!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    release = resolve;
  });
  return { promise, release };
}
