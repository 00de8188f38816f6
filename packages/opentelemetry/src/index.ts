export {
  collectMetrics,
  type DisposeMetrics,
  INSTRUMENTS,
  METER_NAME,
} from './collect-metrics.js'
export { type CollectMetricsOptions, DEFAULT_BUCKETS } from './options.js'
export { VERSION } from './version.js'
