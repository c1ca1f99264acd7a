/** What the use cases need from the outside, passed in so that tests can build them around real parts. */
import type { VolumeType } from '../../core/records.js';
import type { MetadataStore, QuotaLimits } from '../store/metadata-store.js';
import type { VmmDelegates, VolumeDelegates } from './delegate-ports.js';

/** What the use cases log through: winston's Logger is one; so is anything with these three. */
export interface EventLog {
  info(message: string, meta?: Record<string, unknown>): unknown;
  warn(message: string, meta?: Record<string, unknown>): unknown;
  error(message: string, meta?: Record<string, unknown>): unknown;
}

export interface FrontendSettings {
  readonly zones: readonly string[];
  readonly region: string;
  readonly maxVolumeSizeGiB: number;
  readonly defaultVolumeType: VolumeType;
  /** Each user's quota where vbs-admin set no override (frontend config quotaVolumes, quotaGiB, quotaSnapshots). */
  readonly quotas: QuotaLimits;
}

export interface Deps {
  readonly store: MetadataStore;
  readonly delegates: VolumeDelegates;
  readonly vmms: VmmDelegates;
  readonly settings: FrontendSettings;
  readonly logger: EventLog;
  readonly now: () => Date;
}
