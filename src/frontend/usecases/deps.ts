/** What the use cases need from the outside, passed in so that tests can build them around real parts. */
import type { VolumeType } from '../../core/records.js';
import type { Logger } from '../../log.js';
import type { MetadataStore } from '../store/metadata-store.js';
import type { VolumeDelegates } from '../volume-delegate-pool.js';
import type { VmmDelegates } from '../vmm-delegates.js';

export interface FrontendSettings {
  readonly zones: readonly string[];
  readonly region: string;
  readonly maxVolumeSizeGiB: number;
  readonly defaultVolumeType: VolumeType;
}

export interface Deps {
  readonly store: MetadataStore;
  readonly delegates: VolumeDelegates;
  readonly vmms: VmmDelegates;
  readonly settings: FrontendSettings;
  readonly logger: Logger;
  readonly now: () => Date;
}
