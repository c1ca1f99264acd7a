/*
 * How much space the delegate can still promise. The delegate reports this
 * to the front end, which places volumes by it, so it must count only what
 * an unprivileged writer can really use: bavail rather than bfree on a local
 * file system (root's reserve is not ours), and the OSTs' summary on Lustre.
 */
import { statfs } from 'node:fs/promises';
import { lustreFreeBytes } from './lustre.js';

export interface Capacity {
  totalBytes: number;
  freeBytes: number;
}

export async function capacity(root: string, lustre: boolean): Promise<Capacity> {
  if (lustre) return lustreFreeBytes(root);
  const st = await statfs(root);
  return { totalBytes: st.blocks * st.bsize, freeBytes: st.bavail * st.bsize };
}
