// Alert acknowledgements of the dashboard: a person marks a target's current alert condition (state and
// risk tier) as seen; a different condition later is a new alert again. Kept in memory, per daemon run.

/** Acknowledged alert conditions by target. */
export class AlertAcks {
  private readonly acked = new Map<string, { key: string; at: number }>();

  /** Mark `key` (the target's current condition) as acknowledged at `atMs`. */
  acknowledge(target: string, key: string, atMs: number): void {
    this.acked.set(target, { key, at: atMs });
  }

  /** Is the condition `key` of `target` acknowledged? */
  isAcknowledged(target: string, key: string): boolean {
    return this.acked.get(target)?.key === key;
  }

  /** When the target's acknowledgement was made (undefined: none). */
  acknowledgedAt(target: string): number | undefined {
    return this.acked.get(target)?.at;
  }
}
