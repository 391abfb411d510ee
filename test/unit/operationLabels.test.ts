import { MAX_OPERATION_NAMES, ServerMetrics } from '../../src/http/metrics';

function serverMetrics(): ServerMetrics {
  return new ServerMetrics({
    keyStoreSize: () => 0,
    admission: () => ({ active: 0, queued: 0 }),
    breaker: () => 'closed',
    cacheLookups: () => ({ hit: 0, miss: 0 }),
    keptReads: () => ({ served: 0, distrusted: 0 }),
    readsShared: () => 0,
    clientLimits: () => ({
      authFailures: 0,
      refused: { AUTH_FAILURES: 0, AUTH_FAILURES_ADDRESS: 0, AUTH_FAILURES_USER: 0, REQUEST_RATE: 0 },
      failedOpen: 0,
    }),
  });
}

/** The `operation outcome count` of every operation counted so far, as `/metrics` tells them. */
async function counted(metrics: ServerMetrics): Promise<string[]> {
  const text = await metrics.registry.metrics();
  return [
    ...text.matchAll(/^graphql_operation_duration_seconds_count\{operation="([^"]*)",outcome="([^"]*)"\} (\d+)$/gm),
  ]
    .map(([, operation, outcome, count]) => `${operation} ${outcome} ${count}`)
    .sort();
}

describe("operation names as labels: only a success's name takes one of MAX_OPERATION_NAMES", () => {
  test('a name that has only failed is other; once it has succeeded, its failures are counted under it', async () => {
    const metrics = serverMetrics();
    metrics.observeOperation('Overview', 'FORBIDDEN', 0.01);
    metrics.observeOperation('Overview', 'ok', 0.01);
    metrics.observeOperation('Overview', 'FORBIDDEN', 0.01);
    metrics.observeOperation(null, 'GRAPHQL_VALIDATION_FAILED', 0.01);
    expect(await counted(metrics)).toEqual([
      'Overview FORBIDDEN 1',
      'Overview ok 1',
      'anonymous GRAPHQL_VALIDATION_FAILED 1',
      'other FORBIDDEN 1',
    ]);
  });

  test(`past ${MAX_OPERATION_NAMES} names that succeeded, new names are other; those with a label keep it`, async () => {
    const metrics = serverMetrics();
    for (let i = 0; i < MAX_OPERATION_NAMES; i += 1) metrics.observeOperation(`Op${i}`, 'ok', 0.01);
    metrics.observeOperation('OneTooMany', 'ok', 0.01);
    metrics.observeOperation('Op0', 'ok', 0.01);
    metrics.observeOperation('Not-a-name', 'ok', 0.01);
    const labels = await counted(metrics);
    expect(labels).toHaveLength(MAX_OPERATION_NAMES + 1);
    expect(labels).toContain('Op0 ok 2');
    expect(labels).toContain('other ok 2');
  });
});
