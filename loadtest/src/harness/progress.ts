/**
 * The live progress line (stderr): redrawn in place on a terminal, one line
 * every few seconds otherwise (CI logs).
 */
import type { RunSummary } from './metrics.js'
import type { Sample } from './sampler.js'

const MB = 1024 * 1024

/** Live progress for one run. */
export class Progress {
  private readonly label: string
  private readonly tty = process.stderr.isTTY === true
  private lastPlainMs = Number.NEGATIVE_INFINITY
  private drawn = false

  constructor(label: string) {
    this.label = label
  }

  /** Redraws with the generator's counts and the last server sample. */
  update(
    elapsedMs: number,
    totalMs: number,
    counts: { sent: number; ok?: number; rejected?: number; timeouts?: number },
    sample: Sample | undefined,
  ): void {
    const parts = [
      `${this.label}`,
      elapsedMs <= totalMs
        ? `${(elapsedMs / 1000).toFixed(0)}/${(totalMs / 1000).toFixed(0)} s`
        : 'waiting for the last answers',
      `sent ${counts.sent}`,
    ]
    if (counts.ok !== undefined) parts.push(`2xx ${counts.ok}`)
    if (counts.rejected !== undefined) parts.push(`shed ${counts.rejected}`)
    if (counts.timeouts !== undefined) parts.push(`timeouts ${counts.timeouts}`)
    if (sample !== undefined) {
      parts.push(`running ${sample.active}`)
      if (sample.inFlight !== null) parts.push(`in flight ${sample.inFlight}/${sample.limit}`)
      if (sample.queued !== null) parts.push(`queued ${sample.queued}`)
      const waiting = sample.downstreamQueued + (sample.pLimitPending ?? 0)
      if (waiting > 0) parts.push(`backlog ${waiting}`)
      parts.push(`rss ${(sample.rssBytes / MB).toFixed(0)} MB`)
    }
    const line = parts.join(' · ')
    if (this.tty) {
      process.stderr.write(`\r\x1b[2K${line}`)
      this.drawn = true
    } else if (elapsedMs - this.lastPlainMs >= 5000) {
      this.lastPlainMs = elapsedMs
      process.stderr.write(`${line}\n`)
    }
  }

  /** One closing line for the run. */
  done(summary: RunSummary): void {
    this.clear()
    const leak = summary.leak
    process.stderr.write(
      `${this.label}: ${summary.goodputPerSecond.toFixed(0)}/s goodput, p99 ${summary.latencyOk.p99?.toFixed(0) ?? '-'} ms, ` +
        `${summary.timeouts} timeouts, ${leak?.drained ? 'drained' : 'NOT drained'}\n`,
    )
  }

  /** Erases the live line. */
  clear(): void {
    if (this.tty && this.drawn) process.stderr.write('\r\x1b[2K')
    this.drawn = false
  }
}
