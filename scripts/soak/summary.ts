/**
 * The soak's report as a compact Markdown table, to read in a terminal and to paste into a README.
 */
import type { SoakReport } from './runSoak';

export function formatSummary(report: SoakReport): string {
  const { settings, ledger } = report;
  const seconds = report.elapsedMs / 1000;
  const count = (n: number) => n.toLocaleString('en-US');
  const byCode = (record: Record<string, number>) =>
    Object.keys(record).length === 0
      ? 'none'
      : Object.entries(record)
          .map(([code, n]) => `${code} ${count(n)}`)
          .join(', ');
  const verdict = (ok: boolean) => (ok ? 'ok' : '**FAILED**');
  const rows: Array<[string, string]> = [
    [
      'run',
      `${settings.clients} clients (${Math.floor(settings.clients / 2)} on browser sessions), ${seconds.toFixed(1)} s, ${settings.replicas > 1 ? `${settings.replicas} replicas sharing one Redis (restarted once mid-run), each` : 'server'} ${settings.server === 'child' ? 'in its own process' : 'in-process'}, upstream timeouts ${settings.upstreamTimeoutMs} ms, fault scale ${settings.faultScale}, ${settings.seed} seed`,
    ],
    [
      'requests',
      `${count(report.requests)} (${count(Math.round(report.requests / Math.max(seconds, 0.001)))}/s); answered ${count(report.answered)}`,
    ],
    [
      'latency',
      `p50 ${report.latencyMs.p50} ms, p95 ${report.latencyMs.p95} ms, p99 ${report.latencyMs.p99} ms, max ${report.latencyMs.max} ms`,
    ],
    [
      'successes (no error at all)',
      `${count(report.successes)} (${count(report.successesBy.authorization)} with an Authorization header, ${count(report.successesBy.session)} with a session cookie)`,
    ],
    ['expected errors', byCode(report.expectedErrors)],
    [
      'unexpected errors',
      `${count(report.unexpected.count)}${report.unexpected.count > 0 ? ` (${byCode(report.unexpected.byKind)})` : ''} ${verdict(report.unexpected.count === 0)}`,
    ],
    ['cross-customer reads', `${report.crossCustomerReads} ${verdict(report.crossCustomerReads === 0)}`],
    [
      'process restarts',
      `${report.restarts.length + report.crashEvents.length} ${verdict(report.restarts.length + report.crashEvents.length === 0)}`,
    ],
    [
      'peak memory',
      report.peakRss.bytes === null
        ? `unknown (${report.peakRss.source})`
        : `${(report.peakRss.bytes / 1024 / 1024).toFixed(0)} MiB (${report.peakRss.source})`,
    ],
    [
      'upstream requests',
      `${count(report.upstream.requests)}${report.upstream.logComplete ? '' : ' (latest only)'}; faulted: ${byCode(report.upstream.faulted)}`,
    ],
    [
      'licences',
      `${count(ledger.intents)} intended; ${count(ledger.acknowledged)} acknowledged (${count(ledger.acknowledgedFirstTry)} at once, ` +
        `${count(ledger.acknowledgedAfterRetries)} after retries with the same key, ${count(ledger.acknowledgedInFinalPass)} in the final pass); ` +
        `${count(ledger.createdLicences)} created in the portal; meant by clients with a session cookie: ${count(report.acknowledgedBy.session)} acknowledged`,
    ],
    [
      'given up by clients',
      `${count(ledger.gaveUp)}; afterwards: unacknowledged but intended ${ledger.unacknowledgedButIntended.length}, nothing made ${count(ledger.givenUpWithNothingMade)}`,
    ],
    [
      'ledger',
      ledger.holds
        ? 'holds: every acknowledged licence exists once, for its own key and customer; none unasked for ok'
        : `${ledger.violations.length} violations **FAILED**`,
    ],
    ['result', report.ok ? 'PASS' : '**FAIL**'],
  ];
  const lines = [
    '| soak | |',
    '|---|---|',
    ...rows.map(([what, value]) => `| ${what} | ${value.replace(/\|/g, '\\|')} |`),
  ];
  const details: string[] = [];
  if (report.unexpected.examples.length > 0)
    details.push('Unexpected, examples:', ...report.unexpected.examples.map((line) => `  - ${line}`));
  if (ledger.violations.length > 0)
    details.push('Ledger violations:', ...ledger.violations.slice(0, 20).map((line) => `  - ${line}`));
  if (report.restarts.length > 0) details.push('Restarts:', ...report.restarts.map((line) => `  - ${line}`));
  if (report.crashEvents.length > 0) details.push('Crash events:', ...report.crashEvents.map((line) => `  - ${line}`));
  return [...lines, ...(details.length > 0 ? ['', ...details] : [])].join('\n');
}
