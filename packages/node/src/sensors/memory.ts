/**
 * The memory readers: V8 heap used ÷ `heap_size_limit`, and RSS ÷ the memory
 * limit (given, or the container's cgroup limit; see `cgroup-memory.ts`).
 */
import { readFileSync } from 'node:fs'
import { getHeapStatistics } from 'node:v8'
import { type CgroupMemoryLimit, type ReadFile, readCgroupMemoryLimit } from './cgroup-memory.js'
import type { RawReadings, SignalReader } from './pressure-signal.js'

/** Heap in use and its limit, in bytes. */
export type HeapBytes = () => { usedBytes: number; limitBytes: number }

function readHeap(): { usedBytes: number; limitBytes: number } {
  const stats = getHeapStatistics()
  return { usedBytes: stats.used_heap_size, limitBytes: stats.heap_size_limit }
}

/** Reads the heap ratio from `injected` when given, else from V8. */
export function heapReader(injected: HeapBytes | undefined, raw: RawReadings): SignalReader {
  const read = injected ?? readHeap
  return {
    expected: 'a finite number',
    read: () => {
      const heap = read()
      raw.heapUsedBytes = heap.usedBytes
      raw.heapLimitBytes = heap.limitBytes
      // A zero limit gives Infinity, which the signal refuses as a failed read.
      return heap.usedBytes / heap.limitBytes
    },
  }
}

function readFileOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
}

/**
 * The limit RSS is measured against: `limitBytes` when given, else the cgroup
 * limit read now (once, at construction), or none and why.
 */
export function rssLimit(
  limitBytes: number | undefined,
  readFile: ReadFile | undefined,
): CgroupMemoryLimit {
  if (limitBytes !== undefined) return { limitBytes, detail: 'rss.limitBytes' }
  return readCgroupMemoryLimit(readFile ?? readFileOrUndefined)
}

/** Reads the RSS ratio against `limitBytes` from `injected` when given, else from the process. */
export function rssReader(
  limitBytes: number,
  injected: (() => number) | undefined,
  raw: RawReadings,
): SignalReader {
  const read = injected ?? (() => process.memoryUsage.rss())
  return {
    expected: 'a finite number',
    read: () => {
      const rssBytes = read()
      raw.rssBytes = rssBytes
      return rssBytes / limitBytes
    },
  }
}
