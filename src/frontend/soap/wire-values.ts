/**
 * Validation at the edge of the values EC2's schema carries as strings: sizes, volume types, attach
 * modes, filters, ID lists. Whatever passes is a clean domain value; whatever does not is an
 * InvalidParameterValue naming the parameter.
 */
import { VbsError } from '../../core/errors.js';
import { clip } from '../../core/ids.js';
import { VOLUME_TYPES, type VolumeType } from '../../core/records.js';
import type { FilterSetType } from '../../generated/frontend.js';
import type { Filter } from '../usecases/filters.js';

export function parseSizeGiB(raw: string | undefined, maxGiB: number): number | undefined {
  if (raw === undefined) return undefined;
  const t = raw.trim();
  if (!/^\d{1,12}$/.test(t)) {
    throw new VbsError(
      'InvalidParameterValue',
      `Value (${clip(t)}) for parameter size is invalid. Expected a whole number of GiB.`,
    );
  }
  const n = Number(t);
  if (n < 1 || n > maxGiB) {
    throw new VbsError(
      'InvalidParameterValue',
      `Value (${t}) for parameter size is invalid. The size must be from 1 to ${maxGiB} GiB.`,
    );
  }
  return n;
}

export function parseVolumeType(raw: string | undefined): VolumeType | undefined {
  if (raw === undefined) return undefined;
  const found = VOLUME_TYPES.find((t) => t === raw.trim());
  if (!found)
    throw new VbsError(
      'InvalidParameterValue',
      `Value (${clip(raw)}) for parameter volumeType is invalid. Expected one of: ${VOLUME_TYPES.join(', ')}.`,
    );
  return found;
}

export function parseDescription(raw: string | undefined): string | undefined {
  if (raw !== undefined && raw.length > 255) {
    throw new VbsError(
      'InvalidParameterValue',
      'Value for parameter description is invalid. It must be at most 255 characters.',
    );
  }
  return raw;
}

export function parseFilters(set: FilterSetType | undefined): Filter[] {
  return (set?.item ?? []).map((f) => ({ name: f.name, values: (f.valueSet.item ?? []).map((v) => v.value) }));
}
