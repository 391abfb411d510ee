/**
 * Where the traced server of the benchmark sends its spans: a local OTLP/HTTP endpoint that reads each export,
 * counts it and answers 200, as a collector on the same host would. It runs in the benchmark's own process.
 */
import { createServer } from 'node:http';
import { once } from 'node:events';

export interface OtlpSink {
  /** The endpoint, for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  url: string;
  /** The environment of a server that samples every request and exports its spans here. */
  tracedEnv: Record<string, string>;
  /** Exports received and their bytes so far. */
  received(): { exports: number; bytes: number };
  close(): Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  let exports = 0;
  let bytes = 0;
  const server = createServer((request, response) => {
    request.on('data', (chunk: Buffer) => (bytes += chunk.length));
    request.on('end', () => {
      exports += 1;
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    tracedEnv: { OTEL_EXPORTER_OTLP_ENDPOINT: url, OTEL_TRACES_SAMPLER: 'always_on' },
    received: () => ({ exports, bytes }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
