/** Node's "cannot find package" (ESM or CommonJS); a bundler or test runner may wrap it as the `cause`. */
const notFound = (error: unknown) => {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
};

/**
 * Import an optional peer of `entry` (`apifetch/node`, `apifetch/redis`), or throw an error that names the package, what needs it and
 * how to install it. Any other import failure is passed on unchanged.
 */
export async function importPeer<T>(
  entry: string,
  name: string,
  why: string,
  load: () => Promise<unknown>,
): Promise<T> {
  try {
    return (await load()) as T;
  } catch (error) {
    if (!notFound(error) && !notFound((error as { cause?: unknown } | null)?.cause)) throw error;
    throw new Error(`${entry} needs the \`${name}\` package ${why}: npm install ${name}`, { cause: error });
  }
}

/**
 * `load` run once, its promise shared by every caller. A failed load is forgotten, so a package installed since is
 * found by the next call.
 */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    if (loading) return loading;
    const started = load();
    loading = started;
    started.catch(() => {
      if (loading === started) loading = undefined;
    });
    return started;
  };
}

/** An optional peer of `entry`, loaded on first use (`importPeer` once, as `loadOnce` does). */
export const optionalPeer = <T>(entry: string, name: string, why: string, load: () => Promise<unknown>) =>
  loadOnce(() => importPeer<T>(entry, name, why, load));
