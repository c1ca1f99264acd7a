/**
 * Why: a snapshot of an empty volume says nothing; a real volume holds some written data among
 * unwritten space. This writes the same pattern every time (a few regions of random, incompressible
 * bytes spread evenly across the volume file) and makes it durable, so that every copy method
 * afterwards starts from the same file, with nothing left to flush.
 */
import { randomFillSync } from 'node:crypto';
import { open } from 'node:fs/promises';

export interface DataPattern {
  readonly regions: number;
  readonly regionBytes: number;
}

/** Writes `regions` random regions at offsets i * size / regions, then fsyncs the file. */
export async function writeSpreadData(file: string, sizeBytes: number, pattern: DataPattern): Promise<void> {
  const stride = Math.floor(sizeBytes / pattern.regions);
  if (stride < pattern.regionBytes)
    throw new Error(`${pattern.regions} regions of ${pattern.regionBytes} bytes do not fit in ${sizeBytes} bytes`);
  const buffer = Buffer.allocUnsafe(pattern.regionBytes);
  const handle = await open(file, 'r+');
  try {
    for (let i = 0; i < pattern.regions; i++) {
      randomFillSync(buffer);
      for (let done = 0; done < buffer.length;) {
        const { bytesWritten } = await handle.write(buffer, done, buffer.length - done, i * stride + done);
        done += bytesWritten;
      }
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}
