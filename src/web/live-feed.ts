// The dashboard's live feed: one ticker samples every target and pushes what changed to each
// Server-Sent Events subscriber (the overview to all, a target's details to those watching it), so
// browsers never poll. The ticker runs from the first subscription until close().
import type { AlertAcks } from "./alert-acks.js";
import type { StreamPayloads } from "./dashboard-types.js";
import { overviewRow, targetDetail, type DashboardTarget } from "./target-view.js";

/** Where an event stream goes (an HTTP response in the daemon, an array in tests). */
export interface EventSink {
  write(chunk: string): void;
  end(): void;
}

/** Timer functions (injected by tests, which call tick() themselves). */
export interface FeedTimer {
  now(): number;
  every(ms: number, fn: () => void): () => void;
}

/** Everything the feed is built from. */
export interface LiveFeedOptions {
  readonly targets: () => readonly DashboardTarget[];
  readonly acks: AlertAcks;
  readonly tickMs: number;
  readonly timer: FeedTimer;
  /** A tick failed (logged by the daemon; the feed goes on). */
  readonly onError?: (err: unknown) => void;
}

/** What one tick computed: the overview and, per watched target, its details and history as JSON. */
interface Snapshot {
  readonly overview: string;
  readonly targets: ReadonlyMap<string, { readonly detail: string; readonly history: string }>;
}

/** Ticks between keep-alive comments on a quiet stream. */
const KEEPALIVE_TICKS = 15;

interface Subscriber {
  readonly sink: EventSink;
  readonly target: string | undefined;
  lastOverview: string;
  lastTarget: string;
  lastHistory: string;
}

/** The real timer: setInterval, unref'd so it never holds the process. */
export const SYSTEM_FEED_TIMER: FeedTimer = {
  now: () => Date.now(),
  every(ms, fn) {
    const handle = setInterval(fn, ms);
    handle.unref();
    return () => clearInterval(handle);
  },
};

/** Format one SSE event. */
export function sseEvent<K extends keyof StreamPayloads>(name: K, data: string): string {
  return `event: ${name}\ndata: ${data}\n\n`;
}

/** Samples the targets every tick and pushes changes to its subscribers. */
export class LiveFeed {
  private readonly subscribers = new Set<Subscriber>();
  private stopTimer: (() => void) | undefined;
  private ticks = 0;
  private closed = false;

  constructor(private readonly options: LiveFeedOptions) {}

  /** Add a subscriber (optionally watching one target); it gets the current state at once. */
  subscribe(sink: EventSink, target?: string): () => void {
    if (this.closed) {
      sink.end();
      return () => {};
    }
    const sub: Subscriber = { sink, target, lastOverview: "", lastTarget: "", lastHistory: "" };
    this.subscribers.add(sub);
    // Browsers reconnect by themselves after this many milliseconds when the stream drops.
    sink.write(`retry: 2000\n\n`);
    this.push(sub, this.snapshot(new Set(target === undefined ? [] : [target])));
    this.stopTimer ??= this.options.timer.every(this.options.tickMs, () => this.safeTick());
    return () => {
      this.subscribers.delete(sub);
      // Nobody watches: stop sampling (the ticker starts again with the next subscriber).
      if (this.subscribers.size === 0) this.stopTicking();
    };
  }

  /** Number of open streams. */
  get size(): number {
    return this.subscribers.size;
  }

  /** Sample every target and push what changed. */
  tick(): void {
    const now = this.options.timer.now();
    for (const t of this.options.targets()) t.sampler.tick(now, t.scanner?.scanStatus().bytesPerSecond ?? 0);
    const watched = new Set<string>();
    for (const s of this.subscribers) if (s.target !== undefined) watched.add(s.target);
    const snap = this.snapshot(watched);
    const keepalive = ++this.ticks % KEEPALIVE_TICKS === 0;
    for (const sub of this.subscribers) {
      if (!this.push(sub, snap) && keepalive) sub.sink.write(": keepalive\n\n");
    }
  }

  /** End every stream and stop ticking. */
  close(): void {
    this.closed = true;
    this.stopTicking();
    for (const s of this.subscribers) s.sink.end();
    this.subscribers.clear();
  }

  private stopTicking(): void {
    this.stopTimer?.();
    this.stopTimer = undefined;
  }

  /** A tick from the timer: a target that fails its status (closing) must not end the process. */
  private safeTick(): void {
    try {
      this.tick();
    } catch (err) {
      this.options.onError?.(err);
    }
  }

  private snapshot(watched: ReadonlySet<string>): Snapshot {
    const targets = this.options.targets();
    const overview = JSON.stringify(targets.map((t) => overviewRow(t, this.options.acks)));
    const details = new Map<string, { detail: string; history: string }>();
    for (const t of targets) {
      if (!watched.has(t.name)) continue;
      // The history can be long and changes only with new events: it travels apart from the rest.
      const { history, ...detail } = targetDetail(t, this.options.acks);
      details.set(t.name, { detail: JSON.stringify(detail), history: JSON.stringify(history) });
    }
    return { overview, targets: details };
  }

  /** Send what changed for `sub`; true when something was sent. */
  private push(sub: Subscriber, snap: Snapshot): boolean {
    let sent = false;
    if (snap.overview !== sub.lastOverview) {
      sub.sink.write(sseEvent("overview", snap.overview));
      sub.lastOverview = snap.overview;
      sent = true;
    }
    const t = sub.target === undefined ? undefined : snap.targets.get(sub.target);
    if (t !== undefined && t.history !== sub.lastHistory) {
      sub.sink.write(sseEvent("history", t.history));
      sub.lastHistory = t.history;
      sent = true;
    }
    if (t !== undefined && t.detail !== sub.lastTarget) {
      sub.sink.write(sseEvent("target", t.detail));
      sub.lastTarget = t.detail;
      sent = true;
    }
    return sent;
  }
}
