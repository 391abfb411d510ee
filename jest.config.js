/**
 * Jest runs the TypeScript sources directly through ts-jest; unit tests are in-process, integration tests use real
 * sockets. The container test (test/container) builds images and runs a stack for minutes: `npm run test:container`
 * runs it, never `npm test`.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/container/'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: { warnOnly: false } }] },
  testTimeout: 30000,
};
