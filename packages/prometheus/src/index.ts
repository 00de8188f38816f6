export { collectMetrics, type DisposeMetrics } from './collect-metrics.js'
export { METRICS } from './metric-set.js'
export { type CollectMetricsOptions, DEFAULT_BUCKETS } from './options.js'
