import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Reads `.env` from the working folder into process.env when there is one (Node's own
 * parser, process.loadEnvFile). A variable already set in the environment wins, even empty.
 * Returns the file read, or null.
 */
export function loadDotEnv(file = '.env'): string | null {
  const path = resolve(file);
  if (!existsSync(path)) return null;
  process.loadEnvFile(path);
  return path;
}
