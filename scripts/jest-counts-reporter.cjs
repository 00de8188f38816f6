/** Writes the run's real test counts to $SPILLWAY_TEST_COUNTS, for `.ci/run`'s closing line. */
const { writeFileSync } = require('node:fs')

class CountsReporter {
  onRunComplete(_contexts, results) {
    const file = process.env.SPILLWAY_TEST_COUNTS
    if (!file) return
    const counts = {
      passed: results.numPassedTests,
      failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
      skipped: results.numPendingTests + results.numTodoTests,
    }
    writeFileSync(file, JSON.stringify(counts))
  }
}

module.exports = CountsReporter
