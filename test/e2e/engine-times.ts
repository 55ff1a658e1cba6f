import type { Reporter, TestModule } from 'vitest/node';

/** Prints the wall time of each engine's browser tests (the `e2e-<engine>` projects) at the end of a run. */
export default class EngineTimes implements Reporter {
  private readonly spans = new Map<string, { start: number; end: number; files: number }>();

  onTestModuleStart(module: TestModule): void {
    const name = module.project.name;
    if (!name.startsWith('e2e-')) return;
    const span = this.spans.get(name) ?? { start: Date.now(), end: Date.now(), files: 0 };
    this.spans.set(name, span);
  }

  onTestModuleEnd(module: TestModule): void {
    const span = this.spans.get(module.project.name);
    if (!span) return;
    span.end = Date.now();
    span.files += 1;
  }

  onTestRunEnd(): void {
    if (this.spans.size === 0) return;
    const lines = [...this.spans].map(
      ([name, { start, end, files }]) =>
        `${name.slice('e2e-'.length)} ${((end - start) / 1000).toFixed(1)} s (${files} files)`,
    );
    console.log(`browser tests, wall time per engine: ${lines.join(' · ')}`);
  }
}
