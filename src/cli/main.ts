#!/usr/bin/env node
/**
 * The `vmbus` command. Argument parsing is commander's; every parse error is
 * one line on stderr and exit status 2, and nothing is written.
 *
 * @module
 */

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { parseSize, runDemo } from './demo-command.js';
import { type CommandOutput, ringDecode, ringDump, ringEncode } from './ring-command.js';
import { terminalStyle } from './terminal-style.js';
import { runUi } from './ui-command.js';
import { EXIT_USAGE, UsageError } from './usage-error.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const io: CommandOutput = {
  out: (text) => process.stdout.write(text),
  style: terminalStyle(process.stdout, process.env),
};

/**
 * Builds the command tree.
 *
 * @param setExit - receives each action's exit status
 * @returns the root command
 */
function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('vmbus')
    .description('Hyper-V VMBus rings, channels and the KMCL driver model, without a Hyper-V host')
    .version(pkg.version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError(false)
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      outputError: (s, write) => write(`vmbus: ${s.replace(/^error: /, '').trim()}\n`),
    })
    .addHelpText(
      'after',
      `
Examples:
  $ vmbus demo                             run every demo device for 5 s
  $ vmbus demo --seconds 10 --json         the same, summary as JSON
  $ vmbus bench --filter ring              measure the rings beside their baselines
  $ vmbus ring encode spec.json ring.img   build a ring image from a packet list
  $ vmbus ring decode ring.img             print its packets as JSON
  $ vmbus ring dump ring.img               show it for people`,
    );

  program
    .command('demo')
    .description(
      'run the host here and two guest partitions in workers: SCSI storage, echoes and NIC traffic, verified',
    )
    .option('-s, --seconds <n>', 'how long the workload runs', '5')
    .option('--json', 'print the summary as one JSON object')
    .option('--disk <file>', 'serve this raw disk image instead of a 64 MiB memory disk')
    .option('--create <size>', 'create (or grow) the --disk image to this size, such as 64M')
    .option('--queue-depth <n>', 'storage requests in flight', '16')
    .option('--subchannels <n>', 'storage sub-channels (queues beyond the primary)', '2')
    .addHelpText(
      'after',
      `
Exit status 0 only when every device verified its data. Ctrl-C stops the
workload early and still prints the summary.

Examples:
  $ vmbus demo --seconds 3
  $ vmbus demo --disk disk.img --create 128M --json`,
    )
    .action(
      async (o: {
        seconds: string;
        json?: boolean;
        disk?: string;
        create?: string;
        queueDepth: string;
        subchannels: string;
      }) => {
        const seconds = Number(o.seconds);
        const queueDepth = Number(o.queueDepth);
        const subchannels = Number(o.subchannels);
        if (!(seconds > 0 && seconds <= 3600))
          throw new UsageError(
            `--seconds ${JSON.stringify(o.seconds)} is not a number of seconds in (0, 3600]`,
          );
        if (!(Number.isInteger(queueDepth) && queueDepth >= 1 && queueDepth <= 256))
          throw new UsageError(`--queue-depth ${JSON.stringify(o.queueDepth)} is not in 1..256`);
        if (!(Number.isInteger(subchannels) && subchannels >= 0 && subchannels <= 4))
          throw new UsageError(`--subchannels ${JSON.stringify(o.subchannels)} is not in 0..4`);
        if (o.create !== undefined && o.disk === undefined)
          throw new UsageError('--create needs --disk');
        const options = {
          seconds,
          json: o.json === true,
          queueDepth,
          subchannels,
          ...(o.disk ? { disk: o.disk } : {}),
          ...(o.create !== undefined ? { create: parseSize(o.create) } : {}),
        };
        setExit(await runDemo(options, io));
      },
    );

  program
    .command('ui')
    .description(
      'serve a page on localhost that shows the bus live (or a ring image) and acts on it',
    )
    .option('-p, --port <n>', 'TCP port (0 picks a free one)', '8080')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--image <file>', 'show this ring image instead of the live bus')
    .option('--seconds <n>', 'stop after this many seconds (0: until Ctrl-C)', '0')
    .option('--fps <n>', 'samples of the bus the page draws per second', '5')
    .option('--bus <where>', 'run the live bus in the browser or in this process (node)', 'browser')
    .addHelpText(
      'after',
      `
The first line printed is the page's address. The live bus is the demo's:
two guest partitions with the SCSI controller, the echo device and a NIC
each. By default it runs in the page itself (host and guests in Web
Workers over SharedArrayBuffer); --bus node runs it here and streams its
state to the page. Ctrl-C stops.

Examples:
  $ vmbus ui
  $ vmbus ui --port 0 --image ring.img`,
    )
    .action(
      async (o: {
        port: string;
        host: string;
        image?: string;
        seconds: string;
        fps: string;
        bus: string;
      }) => {
        const port = Number(o.port);
        const seconds = Number(o.seconds);
        const fps = Number(o.fps);
        if (o.bus !== 'browser' && o.bus !== 'node')
          throw new UsageError(`--bus ${JSON.stringify(o.bus)} is not browser or node`);
        if (!(fps >= 1 && fps <= 60))
          throw new UsageError(`--fps ${JSON.stringify(o.fps)} is not in 1..60`);
        if (!(Number.isInteger(port) && port >= 0 && port <= 65535))
          throw new UsageError(`--port ${JSON.stringify(o.port)} is not a port number`);
        if (!(seconds >= 0 && seconds <= 86400))
          throw new UsageError(`--seconds ${JSON.stringify(o.seconds)} is not in 0..86400`);
        setExit(
          await runUi(
            {
              port,
              host: o.host,
              seconds,
              fps,
              bus: o.bus,
              ...(o.image !== undefined ? { image: o.image } : {}),
            },
            io,
          ),
        );
      },
    );

  program
    .command('bench')
    .description(
      'run the benchmark suite (ring, bus, KMCL, storage), each case beside its baseline',
    )
    .option('--json', 'print one JSON line per case')
    .option('--filter <regex>', 'run only the cases whose name matches')
    .option('--seconds <n>', 'seconds per timed run', '1')
    .option('--runs <n>', 'timed runs per case (the median is reported)', '5')
    .addHelpText(
      'after',
      `
Prints the machine and Node version, then a table: case, ops/s, MB/s,
baseline, ratio. A full run takes a few minutes.

Examples:
  $ vmbus bench --filter 'ring/workers' --seconds 0.5
  $ vmbus bench --json > results.jsonl`,
    )
    .action(async (o: { json?: boolean; filter?: string; seconds: string; runs: string }) => {
      if (o.filter !== undefined) {
        try {
          new RegExp(o.filter);
        } catch {
          throw new UsageError(`--filter ${JSON.stringify(o.filter)} is not a regular expression`);
        }
      }
      if (!(Number(o.seconds) > 0))
        throw new UsageError(`--seconds ${JSON.stringify(o.seconds)} is not a positive number`);
      if (!(Number.isInteger(Number(o.runs)) && Number(o.runs) > 0))
        throw new UsageError(`--runs ${JSON.stringify(o.runs)} is not a positive integer`);
      const args = [
        '--expose-gc',
        fileURLToPath(new URL('../../bench/run.js', import.meta.url)),
        '--seconds',
        o.seconds,
        '--runs',
        o.runs,
      ];
      if (o.json) args.push('--json');
      if (o.filter !== undefined) args.push('--filter', o.filter);
      const code = await new Promise<number>((resolve) => {
        spawn(process.execPath, args, { stdio: 'inherit' }).on('exit', (c) => resolve(c ?? 1));
      });
      setExit(code);
    });

  const ring = program
    .command('ring')
    .description('encode, decode and inspect ring images (control page + data area)')
    .addHelpText(
      'after',
      `
Exit status: 0 ok, 2 bad input, 3 damaged ring (decode, dump).`,
    );

  ring
    .command('encode')
    .description('write a ring image from a JSON packet list and print the write outcomes as JSON')
    .argument('<spec>', 'JSON spec: dataSize, indices, control values, packets[]')
    .argument('<out>', 'image file to write')
    .addHelpText(
      'after',
      `
Prints {"results":[{"written":true,"signal":true},...],"readIndex":N,"writeIndex":N}.
A packet that does not fit is skipped ("written": false).

Example:
  $ echo '{"dataSize":4096,"packets":[{"type":6,"flags":1,"transactionId":"0x2a","payload":"0102"}]}' > s.json
  $ vmbus ring encode s.json ring.img`,
    )
    .action((spec: string, out: string) => setExit(ringEncode(spec, out, io)));

  ring
    .command('decode')
    .description('print every packet from the read index to the write index as one JSON object')
    .argument('<image>', 'ring image file (read only)')
    .addHelpText(
      'after',
      `
Prints {"packets":[...],"readIndex":N,"writeIndex":N} and, on damage,
"error":{"code":...,"reason":...,"offset":N} after the good packets (exit 3).

Example:
  $ vmbus ring decode ring.img`,
    )
    .action((image: string) => setExit(ringDecode(image, io)));

  ring
    .command('dump')
    .description('show the control page, space, packets and any damage for people')
    .argument('<image>', 'ring image file (read only)')
    .addHelpText(
      'after',
      `
Example:
  $ vmbus ring dump ring.img`,
    )
    .action((image: string) => setExit(ringDump(image, io)));

  return program;
}

async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; every parse error was printed as one line.
      return e.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`vmbus: ${e.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
  return code;
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(
      `vmbus: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    process.exitCode = 1;
  },
);
