import type { Report } from '../report/model.js'
import type { ScenarioOptions } from './common.js'

export async function calibrate(_options: ScenarioOptions): Promise<Report> {
  throw new Error('not yet')
}
