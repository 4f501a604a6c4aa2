/** @type {import('ts-jest').JestConfigWithTsJest} */
module.exports = {
    preset: 'ts-jest',
    testEnvironment: '@ton/sandbox/jest-environment',
    testPathIgnorePatterns: ['/node_modules/', '/dist/'],
    reporters: ['default', ['@ton/sandbox/jest-reporter', {}]],
    // Two cores shared with cargo builds: one worker, and hooks that compile FunC and deploy
    // several contracts need more than jest's default 5 s when the machine is busy.
    maxWorkers: 1,
    testTimeout: 120000,
};
