// CPU time of the harness and of the server processes during a run, so a report can show that the
// harness did not steal the server's core (on 2 cores, harness + server must stay under 200 %).
import fs from 'node:fs';

/** Linux clock ticks per second for /proc/PID/stat (USER_HZ; 100 on every mainstream kernel). */
const USER_HZ = 100;

export interface CpuMark {
  atUs: number;
  harnessUs: number;
  serverUs: number;
}

function processCpuUs(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    return ((utime + stime) * 1e6) / USER_HZ;
  } catch {
    return 0;
  }
}

export function cpuMark(serverPids: readonly number[]): CpuMark {
  const u = process.cpuUsage();
  let serverUs = 0;
  for (const pid of serverPids) serverUs += processCpuUs(pid);
  return { atUs: performance.now() * 1000, harnessUs: u.user + u.system, serverUs };
}

export interface CpuShare {
  /** Percent of one core over the interval (100 = one core busy). */
  harness_pct: number;
  server_pct: number;
}

export function cpuBetween(a: CpuMark, b: CpuMark): CpuShare {
  const wall = Math.max(1, b.atUs - a.atUs);
  return {
    harness_pct: Math.round((100 * (b.harnessUs - a.harnessUs)) / wall),
    server_pct: Math.round((100 * (b.serverUs - a.serverUs)) / wall),
  };
}
