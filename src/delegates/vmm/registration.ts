/**
 * Keeps the frontend's registry true for this node: registers at start, whenever the instances or
 * their disks change (polled), and on a heartbeat. The frontend reconciles attachments against each
 * registration, so a restart of this delegate repairs what changed while it was away.
 */
import type { VmmRegistryPortTypeOperations, InventoryType } from '../../generated/vmm-delegate.js';
import type { Logger } from '../../log.js';
import type { SoapClient } from '../../soap/client.js';

export class Registration {
  private timer: NodeJS.Timeout | undefined;
  private last = '';
  private lastSent = 0;
  private busy = false;

  constructor(
    private readonly client: SoapClient<VmmRegistryPortTypeOperations>,
    private readonly inventory: () => Promise<InventoryType>,
    private readonly logger: Logger,
    private readonly pollMs: number,
    private heartbeatMs: number,
  ) {}

  /** Registers once now (true when the frontend acknowledged), then keeps registering. */
  async start(): Promise<boolean> {
    const ok = await this.tick(true);
    this.timer = setInterval(() => void this.tick(false), this.pollMs);
    this.timer.unref();
    return ok;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Registers now if anything changed or the heartbeat is due (or always, when forced). */
  async tick(force: boolean): Promise<boolean> {
    if (this.busy) return false;
    this.busy = true;
    try {
      const inv = await this.inventory();
      const text = JSON.stringify(inv);
      const due = Date.now() - this.lastSent >= this.heartbeatMs;
      if (!force && !due && text === this.last) return true;
      const answer = await this.client.call('RegisterVmm', inv);
      if (answer.heartbeatSeconds > 0) this.heartbeatMs = Math.min(this.heartbeatMs, answer.heartbeatSeconds * 1000);
      if (text !== this.last) {
        this.logger.info('registered with the frontend', {
          instances: (inv.instanceSet.item ?? []).map((i) => i.instanceId),
          healthy: inv.healthy,
        });
      }
      this.last = text;
      this.lastSent = Date.now();
      return true;
    } catch (error) {
      this.logger.warn('registration with the frontend failed; will retry', { error: String(error) });
      return false;
    } finally {
      this.busy = false;
    }
  }
}
