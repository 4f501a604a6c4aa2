/** @type {import('ts-jest').JestConfigWithTsJest} */
module.exports = {
    preset: 'ts-jest',
    testEnvironment: '@ton/sandbox/jest-environment',
    // The repository's end-to-end specs (../tests/e2e) run with this project's packages.
    roots: ['<rootDir>/tests', '<rootDir>/../tests/e2e'],
    modulePaths: ['<rootDir>/node_modules'],
    testPathIgnorePatterns: ['/node_modules/', '/dist/'],
    reporters: ['default', ['@ton/sandbox/jest-reporter', {}]],
    // Two cores shared with cargo builds: one worker by default (tests/run-all.sh, which runs
    // nothing else meanwhile, asks for two), and hooks that compile FunC and deploy several
    // contracts need more than jest's default 5 s when the machine is busy.
    maxWorkers: 1,
    testTimeout: 120000,
};
