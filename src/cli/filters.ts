/**
 * --filter name=value[,value] as the CLI accepts it, turned into EC2's filterSet. The frontend
 * checks the names; the CLI checks only the form, so a new filter needs no new client.
 */
import type { FilterSetType } from '../generated/frontend.js';
import { UsageError } from './args.js';

export function parseFilters(raw: readonly string[], command: string): FilterSetType | undefined {
  if (raw.length === 0) return undefined;
  return {
    item: raw.map((text) => {
      const eq = text.indexOf('=');
      const name = eq < 0 ? '' : text.slice(0, eq).trim();
      const values = eq < 0 ? [] : text.slice(eq + 1).split(',');
      if (name === '' || values.every((v) => v === '')) {
        throw new UsageError(`--filter must look like name=value[,value], not '${text}'`, command);
      }
      return { name, valueSet: { item: values.map((value) => ({ value })) } };
    }),
  };
}
