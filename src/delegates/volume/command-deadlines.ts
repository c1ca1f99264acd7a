/**
 * How long a Volume Delegate's commands may take. Commands whose work does not grow with the data
 * (fallocate, lfs, filefrag, a reflink clone) get a fixed deadline: a hung file system must fail the
 * job, not hold it for ever. Commands that move the data (dd, a copying cp) may rightly run for hours
 * on a large volume; they are bounded by progress instead: the job runner stops a job whose progress
 * has not moved for the delegate's stallSeconds.
 */
export const METADATA_COMMAND_TIMEOUT_MS = 60_000;
