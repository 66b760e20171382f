import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`; 100 on every Linux this runs on). */
const ticksPerSecond = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface ProcessStats {
  /** User + system CPU seconds the process used since it started. */
  cpuSeconds: number;
  /** Resident set size now and at its peak (VmHWM), in MB. */
  rssMb: number;
  peakRssMb: number;
}

/**
 * CPU time and memory of a running process from Linux's /proc (`stat` fields 14 and 15, `status` VmRSS
 * and VmHWM). Undefined once the process is gone or off Linux: the bench then prints "n/a".
 */
export function processStats(pid: number | undefined): ProcessStats | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { cpuSeconds, rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

/** Tracks the peak RSS of a set of processes by sampling; VmHWM already is the per-process peak. */
export function sumStats(stats: (ProcessStats | undefined)[]): ProcessStats | undefined {
  const present = stats.filter((s): s is ProcessStats => s !== undefined);
  if (present.length === 0) return undefined;
  return {
    cpuSeconds: present.reduce((sum, s) => sum + s.cpuSeconds, 0),
    rssMb: present.reduce((sum, s) => sum + s.rssMb, 0),
    peakRssMb: Math.max(...present.map((s) => s.peakRssMb)),
  };
}

/**
 * CPU seconds of a process and its direct children (PostgreSQL's postmaster and its backends): the
 * process's own time, the time of children it already reaped (`stat` fields 16 and 17), and the live
 * children's own time. Undefined once the process is gone or off Linux.
 */
export function processTreeCpuSeconds(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const fieldsOf = (p: number | string) => {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    };
    const own = fieldsOf(pid);
    let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const fields = fieldsOf(entry);
        if (Number(fields[1]) === pid) ticks += Number(fields[11]) + Number(fields[12]);
      } catch {
        // gone meanwhile
      }
    }
    return ticks / ticksPerSecond;
  } catch {
    return undefined;
  }
}
