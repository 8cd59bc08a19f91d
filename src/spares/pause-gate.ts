// The pause point of a long pool operation (drain, replace-main): pause() closes the gate, resume()
// opens it, and the copy loop waits at it between steps, so a pause never splits a step.

export class PauseGate {
  private closed: { readonly promise: Promise<void>; readonly open: () => void } | undefined;

  get isClosed(): boolean {
    return this.closed !== undefined;
  }

  /** Close the gate; false when it already was closed. */
  close(): boolean {
    if (this.closed) return false;
    let open = () => {};
    const promise = new Promise<void>((resolve) => (open = resolve));
    this.closed = { promise, open };
    return true;
  }

  /** Open the gate, releasing every waiter; false when it was open. */
  open(): boolean {
    const closed = this.closed;
    if (!closed) return false;
    this.closed = undefined;
    closed.open();
    return true;
  }

  /** Resolves at once when the gate is open, else when it opens. */
  wait(): Promise<void> {
    return this.closed?.promise ?? Promise.resolve();
  }
}
