/**
 * Vitest 4 reporter that prints a one-line machine-readable summary as the
 * final line of the run:
 *
 *   42 passed, 0 failed
 *   40 passed, 1 failed, 3 skipped
 *
 * Counts are per test case (not per file). `, N skipped` is only appended when
 * at least one test was skipped (this includes `.todo` tests).
 *
 * Failures that are not attributable to a test case still count, so that the
 * line never claims success for a failed run:
 *   - a test module that failed without any failed test case in it (collection
 *     / import error, or a failing beforeAll/afterAll hook) adds one failure;
 *   - unhandled errors, or a run that Vitest itself ended as "failed" or
 *     "interrupted" (e.g. no test files found, Ctrl-C), force at least one
 *     failure.
 *
 * List it after 'default' in `reporters` so it runs last: Vitest calls the
 * reporters' onTestRunEnd hooks in config order, and the default reporter
 * prints its summary synchronously.
 */
import type {
  Reporter,
  SerializedError,
  TestModule,
  TestRunEndReason,
  Vitest,
} from 'vitest/node';

export interface RunCounts {
  passed: number;
  failed: number;
  skipped: number;
}

export function countResults(
  testModules: ReadonlyArray<TestModule>,
  unhandledErrors: ReadonlyArray<SerializedError>,
  reason: TestRunEndReason,
): RunCounts {
  const counts: RunCounts = { passed: 0, failed: 0, skipped: 0 };

  for (const testModule of testModules) {
    let failedInModule = 0;
    for (const test of testModule.children.allTests()) {
      switch (test.result().state) {
        case 'passed':
          counts.passed++;
          break;
        case 'failed':
          failedInModule++;
          break;
        case 'skipped':
          counts.skipped++;
          break;
        case 'pending':
          // Never finished (run interrupted); covered by the `reason` check.
          break;
      }
    }
    counts.failed += failedInModule;

    // The module failed (collection error, hook error, ...) but no test case
    // carries the failure: count the module itself as one failure.
    const moduleFailed =
      testModule.state() === 'failed' || !testModule.ok() || testModule.errors().length > 0;
    if (failedInModule === 0 && moduleFailed) counts.failed++;
  }

  if (counts.failed === 0 && (unhandledErrors.length > 0 || reason !== 'passed')) {
    counts.failed = 1;
  }

  return counts;
}

export function formatCounts({ passed, failed, skipped }: RunCounts): string {
  let line = `${passed} passed, ${failed} failed`;
  if (skipped > 0) line += `, ${skipped} skipped`;
  return line;
}

export default class SummaryReporter implements Reporter {
  private vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
    reason: TestRunEndReason,
  ): void {
    const line = formatCounts(countResults(testModules, unhandledErrors, reason));
    if (this.vitest) this.vitest.logger.log(line);
    else process.stdout.write(`${line}\n`);
  }
}
