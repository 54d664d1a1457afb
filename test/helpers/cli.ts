// Runs the built `tickbus` CLI as a child process, the way a user does: arguments, stdin, exit code and
// both output streams. Killed after 30 s so a hung command fails its test instead of the run.
import { spawn } from 'node:child_process';
import { CLI } from './broker.js';

export interface CliResult {
  /** The exit code; -1 when it was ended by a signal (the 30 s kill). */
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tickbus ...args` with `stdin` (empty when not given) and `env` (this process's when not given). */
export async function runCli(args: string[], opts: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.end(opts.stdin ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** The CLI's JSON-lines output, one value per non-empty line. */
export const jsonLines = (s: string): unknown[] => s.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);
