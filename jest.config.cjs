/** One jest run over every package: sources are compiled by SWC (type-checking is `tsc`'s job). */
const swc = [
  '@swc/jest',
  {
    jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
    module: { type: 'commonjs' },
  },
]

module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j|mj)s$': swc },
  moduleNameMapper: {
    '^@spillway/([a-z-]+)$': '<rootDir>/packages/$1/src/index.ts',
    // Subpath exports (`@spillway/core/internal`): the source file of the same name.
    '^@spillway/([a-z-]+)/([a-z-]+)$': '<rootDir>/packages/$1/src/$2.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: [
    '<rootDir>/packages/*/test/**/*.test.ts',
    '<rootDir>/test/**/*.test.ts',
    '<rootDir>/loadtest/test/**/*.test.ts',
    '<rootDir>/examples/*/test/**/*.test.ts',
  ],
  testTimeout: 20000,
  reporters: ['default', '<rootDir>/scripts/jest-counts-reporter.cjs'],
}
