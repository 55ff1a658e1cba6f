/**
 * The refresh circuit breaker: at most `max` refreshes per sliding `windowMs`. Beyond, requests fail fast
 * (`refresh_limit`) instead of refreshing in a loop against a server that refuses every token.
 */
export function createBreaker(max: number, windowMs: number, now: () => number) {
  const times: number[] = [];
  return {
    /** Count a refresh starting now; false (and nothing counted) when the breaker is open. */
    admit(): boolean {
      const time = now();
      while (times.length > 0 && (times[0] as number) <= time - windowMs) times.shift();
      if (times.length >= max) return false;
      times.push(time);
      return true;
    },
    /** Take back the last refresh counted: another holder did it, not us. */
    forgive(): void {
      times.pop();
    },
  };
}
