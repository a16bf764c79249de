import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A block of ports for one local cluster in a test: replica `slot` of the i-th service listens on base + 100·i + slot,
 * so a cluster of n services needs n·100 ports. Tests of several projects run at once (Nx runs two tasks in
 * parallel, and the generator's test boots a cluster of its own), and two random bases collided in CI
 * (EADDRINUSE on a pricing replica). Regions are therefore claimed with a lock file per region (O_EXCL create,
 * owner's pid inside; a lock whose process is gone is taken over), and a region is only handed out when a probe
 * finds its ports free. No library offers cross-process port-range leases; get-port and friends lease single ports
 * inside one process.
 */
export interface PortRegion {
  base: number;
  /** Frees the region for other tests (also done when the process exits). */
  release(): void;
}

const LOCK_DIR = join(tmpdir(), 'strata-port-regions');
const held = new Set<string>();
let exitHook = false;

/** Claims a free region of `size` ports between `from` and `to` (below Linux's ephemeral range, 32768+). */
export async function reservePortRegion(options: { from?: number; to?: number; size?: number } = {}): Promise<PortRegion> {
  const from = options.from ?? 22_000;
  const to = options.to ?? 32_000;
  const size = options.size ?? 1_000;
  const count = Math.floor((to - from) / size);
  if (count < 1) throw new Error(`no port region of ${size} fits between ${from} and ${to}`);
  mkdirSync(LOCK_DIR, { recursive: true });
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => held.forEach(unlinkQuietly));
  }
  const start = Math.floor(Math.random() * count);
  for (let k = 0; k < count; k++) {
    const base = from + ((start + k) % count) * size;
    const lock = join(LOCK_DIR, `${base}.lock`);
    if (!claim(lock)) continue;
    if (await portsFree(base, size)) {
      held.add(lock);
      return {
        base,
        release: () => {
          held.delete(lock);
          unlinkQuietly(lock);
        },
      };
    }
    unlinkQuietly(lock);
  }
  throw new Error(`every port region of ${size} between ${from} and ${to} is taken (locks in ${LOCK_DIR})`);
}

function claim(lock: string): boolean {
  try {
    writeFileSync(lock, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    // Taken: by a live process, or left behind by one that died (then take it over).
    let owner = NaN;
    try {
      owner = Number(readFileSync(lock, 'utf8'));
    } catch {
      return false;
    }
    if (Number.isInteger(owner) && owner > 0 && alive(owner)) return false;
    unlinkQuietly(lock);
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return true;
    } catch {
      return false;
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Every port of the region bindable on 127.0.0.1 right now (checked in batches; takes a few ms). */
async function portsFree(base: number, size: number): Promise<boolean> {
  for (let i = 0; i < size; i += 100) {
    const batch = Array.from({ length: Math.min(100, size - i) }, (_, j) => bindable(base + i + j));
    if ((await Promise.all(batch)).includes(false)) return false;
  }
  return true;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
