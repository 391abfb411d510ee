/**
 * Test helper: `Tracing.start` in a process of its own (`node --import tsx`), told over IPC to make spans, to tell
 * its export's counts and log lines, and to shut down. OpenTelemetry's OTLP exporter loads `node:http` with a dynamic
 * `import()`, which Jest's module sandbox refuses without `--experimental-vm-modules`: in a test's own process, every
 * export would fail.
 *
 *     const tracing = await startTracingProcess(settings);
 *     await tracing.spans(3, 'span');      // three server spans, made and ended
 *     const { counts, lines } = await tracing.state();
 *     await tracing.shutdown();            // what is waiting is sent, and the process exits
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { TracingSettings } from '../../src/config';
import { Tracing } from '../../src/tracing/tracing';

/** A line the tracing logged: its level, its message and its details. */
type LogLine = [level: 'warn' | 'info', message: string, details: Record<string, unknown>];

export interface TracingState {
  counts: { sent: number; dropped: number };
  lines: LogLine[];
}

/** Each answers with the state after it. */
export interface TracingProcess {
  /** Makes and ends `count` server spans, named `${prefix} 0`, `${prefix} 1`… */
  spans: (count: number, prefix?: string) => Promise<TracingState>;
  state: () => Promise<TracingState>;
  /** Shuts the tracing down (what is waiting is sent) and waits for the process to exit. */
  shutdown: () => Promise<TracingState>;
}

type Command = { settings: TracingSettings } | { spans: number; prefix: string } | 'state' | 'shutdown';

export async function startTracingProcess(settings: TracingSettings): Promise<TracingProcess> {
  const child = fork(__filename, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = once(child, 'exit');
  // A test that fails before `shutdown` does not keep Jest waiting: the child exits when its parent does.
  child.unref();
  child.channel?.unref();
  // One command at a time: each is answered, in order, with the state after it.
  let queue: Promise<unknown> = Promise.resolve();
  const send = (command: Command): Promise<TracingState> => {
    const answered = queue.then(() => ask(child, command));
    queue = answered.catch(() => undefined);
    return answered;
  };
  await send({ settings });
  return {
    spans: (count, prefix = 'span') => send({ spans: count, prefix }),
    state: () => send('state'),
    shutdown: async () => {
      const state = await send('shutdown');
      await exited;
      return state;
    },
  };
}

function ask(child: ChildProcess, command: Command): Promise<TracingState> {
  return new Promise((resolve, reject) => {
    const onExit = () => reject(new Error('The tracing process exited'));
    child.once('exit', onExit);
    child.once('message', (state) => {
      child.off('exit', onExit);
      resolve(state as TracingState);
    });
    child.send(command);
  });
}

/** The child: the tracing, made with the first command's settings. */
function serve(): void {
  let tracing: Tracing | undefined;
  const lines: LogLine[] = [];
  const state = (): TracingState => ({ counts: { ...tracing!.exported! }, lines });
  process.on('disconnect', () => process.exit(0));
  process.on('message', (command: Command) => {
    if (command === 'state') {
      process.send!(state());
    } else if (command === 'shutdown') {
      // Exits as the server does after its shutdown: the exporter's keep-alive connection would hold it open.
      void tracing!.shutdown().then(() => process.send!(state(), () => process.exit(0)));
    } else if ('settings' in command) {
      tracing = Tracing.start(command.settings, {
        warn: (details, message) => lines.push(['warn', message, details]),
        info: (details, message) => lines.push(['info', message, details]),
      });
      process.send!(state());
    } else {
      for (let index = 0; index < command.spans; index += 1)
        tracing!.startServerSpan(`${command.prefix} ${index}`, {}).end();
      process.send!(state());
    }
  });
}

if (require.main === module) serve();
