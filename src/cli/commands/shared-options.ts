/** Options more than one command takes, spelled and explained once. */
import type { OptionSpec } from '../args.js';

export const FILTER_OPTION: OptionSpec = {
  type: 'string',
  multiple: true,
  value: 'NAME=VALUE[,VALUE]',
  help: 'EC2 filter; repeat for more (all must match)',
};
