/**
 * EC2 filters for Describe*: a resource matches when, for every filter, one of the filter's values
 * matches one of the resource's values for that name (AND across filters, OR within one), with EC2's
 * wildcards: * for any run of characters, ? for one. An unknown filter name is refused, as EC2 does.
 */
import { VbsError } from '../../core/errors.js';
import { clip } from '../../core/ids.js';

export interface Filter {
  readonly name: string;
  readonly values: readonly string[];
}

/** For one kind of resource: filter name -> the values a resource has under that name. */
export type FilterFields<R> = Readonly<Record<string, (resource: R) => readonly string[]>>;

function wildcard(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}

export function compileFilters<R>(fields: FilterFields<R>, filters: readonly Filter[]): (resource: R) => boolean {
  const compiled = filters.map((f) => {
    const field = fields[f.name];
    if (!field || !Object.hasOwn(fields, f.name)) {
      throw new VbsError('InvalidParameterValue', `The filter '${clip(f.name)}' is invalid.`);
    }
    if (f.values.length === 0)
      throw new VbsError('InvalidParameterValue', `The filter '${f.name}' needs at least one value.`);
    return { field, patterns: f.values.map(wildcard) };
  });
  return (resource) =>
    compiled.every(({ field, patterns }) => {
      const values = field(resource);
      return patterns.some((p) => values.some((v) => p.test(v)));
    });
}
