import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The system's Chromium (Debian's `chromium` package): $CHROMIUM, then PATH. Nothing is downloaded. */
export function findChromium(): string | undefined {
  const candidates = [
    process.env.CHROMIUM,
    ...(process.env.PATH ?? '').split(delimiter).flatMap((dir) => [join(dir, 'chromium'), join(dir, 'chromium-browser')]),
  ];
  return candidates.find((path) => path && existsSync(path));
}

/** Flags for a headless Chromium on a closed network, as root (the machine's notes). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
